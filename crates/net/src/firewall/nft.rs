//! The nftables backend: one table of our own, `inet peapod`, written by `nft -f -` in one
//! atomic batch per operation (nft(8); the kernel applies a batch whole or not at all).
//!
//! Layout (netavark's, simplified; we never touch another table):
//!
//! ```text
//! table inet peapod {
//!   map nets     { type ifname : verdict }                     # bridge -> jump n-BRIDGE
//!   map internal { type ifname : verdict }                     # bridge -> jump f-BRIDGE
//!   map ports    { type inet_proto . inet_service : verdict }  # tcp . 8080 -> jump c-ID
//!   set bridges  { type ifname }                               # every network's bridge
//!   chain prerouting  { nat/prerouting dstnat:  fib daddr type local l4proto . dport vmap @ports }
//!   chain output      { nat/output -100:        the same, for the host itself (127.0.0.1 too) }
//!   chain postrouting { nat/postrouting srcnat: iifname vmap @nets; oifname vmap @nets }
//!   chain forward     { filter/forward:         iifname vmap @internal; oifname vmap @internal }
//!   chain input       { filter/input:           iifname @bridges ip daddr 127.0.0.0/8
//!                                               ct state != { established, related } drop }
//!   chain n-BRIDGE    { outbound masquerade; masquerade DNAT-ed traffic from 127/8 or the
//!                       subnet itself (loopback publishing and hairpin) }
//!   chain f-BRIDGE    { reject what an internal network forwards to or from elsewhere }
//!   chain c-ID        { [ip daddr HOST] tcp dport 8080 dnat ip to 10.88.0.2:80 ... }
//! }
//! ```
//!
//! Loopback publishing needs `route_localnet` on the bridge ([`crate::Bridge::ensure`] sets
//! it), as netavark does. A container's chain is reached only through its map elements, so
//! removing them and the chain removes exactly that container's rules; map elements are
//! created with `create element`, which fails (and with it the whole batch) when another
//! container already published the port.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{ContainerPorts, Firewall, NetworkRules, PortMapping, check_host_ports_free};
use crate::error::{NetError, Result};
use crate::link::check_link_name;

const TABLE: &str = "inet peapod";

/// The table and its maps, declared (idempotent: `add` of what exists is a no-op).
fn declare_maps(script: &mut String) {
    script.push_str(&format!(
        "add table {TABLE}\n\
         add map {TABLE} nets {{ type ifname : verdict ; }}\n\
         add map {TABLE} internal {{ type ifname : verdict ; }}\n\
         add map {TABLE} ports {{ type inet_proto . inet_service : verdict ; }}\n\
         add set {TABLE} bridges {{ type ifname ; }}\n"
    ));
}

/// The table, its maps and base chains, declared.
fn declare_base(script: &mut String) {
    declare_maps(script);
    script.push_str(&format!(
        "add chain {TABLE} prerouting {{ type nat hook prerouting priority dstnat ; policy accept ; }}\n\
         add chain {TABLE} output {{ type nat hook output priority -100 ; policy accept ; }}\n\
         add chain {TABLE} postrouting {{ type nat hook postrouting priority srcnat ; policy accept ; }}\n\
         add chain {TABLE} forward {{ type filter hook forward priority filter ; policy accept ; }}\n\
         add chain {TABLE} input {{ type filter hook input priority filter ; policy accept ; }}\n"
    ));
}

/// The base chains' rules, rewritten whole (flush, then add), so that repeating it never
/// duplicates a rule.
fn base_rules(script: &mut String) {
    declare_base(script);
    for chain in ["prerouting", "output", "postrouting", "forward", "input"] {
        script.push_str(&format!("flush chain {TABLE} {chain}\n"));
    }
    script.push_str(&format!(
        "add rule {TABLE} prerouting fib daddr type local meta l4proto . th dport vmap @ports\n\
         add rule {TABLE} output fib daddr type local meta l4proto . th dport vmap @ports\n\
         add rule {TABLE} postrouting iifname vmap @nets\n\
         add rule {TABLE} postrouting oifname vmap @nets\n\
         add rule {TABLE} forward iifname vmap @internal\n\
         add rule {TABLE} forward oifname vmap @internal\n\
         add rule {TABLE} input iifname @bridges ip daddr 127.0.0.0/8 ct state != {{ established, related }} drop\n"
    ));
}

fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(NetError::InvalidOption {
            what: "container id",
            input: id.to_owned(),
            reason: "1 to 64 letters, digits, '_' or '-'",
        })
    }
}

/// `tcp . 8080, tcp . 8081` (with `: jump c-ID` when `verdict` is given).
fn elements(ports: &[PortMapping], verdict: Option<&str>) -> String {
    let mut out = Vec::new();
    for mapping in ports {
        for (host, _) in mapping.pairs() {
            let key = format!("{} . {host}", mapping.proto.as_str());
            out.push(match verdict {
                Some(v) => format!("{key} : {v}"),
                None => key,
            });
        }
    }
    out.join(", ")
}

/// The nftables firewall, driving the `nft` program.
#[derive(Debug, Clone)]
pub struct Nftables {
    program: PathBuf,
}

impl Default for Nftables {
    fn default() -> Self {
        Self {
            program: PathBuf::from("nft"),
        }
    }
}

impl Nftables {
    /// Uses the `nft` program at `program` (default: `nft` from `PATH`).
    pub fn with_program(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    fn nft(&self, what: &str, args: &[&str], script: Option<&str>) -> Result<String> {
        let fail = |stderr: String| NetError::Nft {
            what: what.to_owned(),
            stderr,
        };
        let mut child = Command::new(&self.program)
            .args(args)
            // Its messages are parsed ("No such file or directory"): no translation.
            .env("LC_ALL", "C")
            .stdin(if script.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", self.program.display())))?;
        if let (Some(script), Some(mut stdin)) = (script, child.stdin.take()) {
            stdin
                .write_all(script.as_bytes())
                .map_err(|e| fail(format!("cannot write the batch to nft: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| fail(format!("cannot wait for nft: {e}")))?;
        if !out.status.success() {
            return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn apply(&self, what: &str, script: &str) -> Result<()> {
        self.nft(what, &["-f", "-"], Some(script)).map(drop)
    }

    /// Our table as `nft list table inet peapod` prints it, or `None` if there is none.
    ///
    /// # Errors
    /// [`NetError::Nft`] if `nft` cannot be run.
    pub fn list_table(&self) -> Result<Option<String>> {
        match self.nft(
            "list table inet peapod",
            &["list", "table", "inet", "peapod"],
            None,
        ) {
            Ok(text) => Ok(Some(text)),
            // nft's own answer, not a failure to run it.
            Err(NetError::Nft { stderr, .. })
                if stderr.starts_with("Error: No such file or directory") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Which container chain a published port jumps to, if any (`c-ID`).
    fn owner(&self, table: &str, proto: &str, port: u16) -> Option<String> {
        let key = format!("{proto} . {port} : jump ");
        let at = table.find(&key)? + key.len();
        let rest = &table[at..];
        let end = rest
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        Some(rest[..end].trim_start_matches("c-").to_owned())
    }

    fn check_published(&self, ports: &[PortMapping]) -> Result<()> {
        let Some(table) = self.list_table()? else {
            return Ok(());
        };
        for mapping in ports {
            for (port, _) in mapping.pairs() {
                if let Some(owner) = self.owner(&table, mapping.proto.as_str(), port) {
                    return Err(NetError::PortInUse {
                        host: mapping
                            .host_ip
                            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                        port,
                        proto: mapping.proto.as_str(),
                        by: format!("published by container {owner}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The container's DNAT rules, one per host port and family.
    fn dnat_rules(ctr: &ContainerPorts, chain: &str, script: &mut String) -> Result<()> {
        for mapping in &ctr.ports {
            let proto = mapping.proto.as_str();
            let (want4, want6) = match mapping.host_ip {
                None => (true, true),
                Some(ip) => (ip.is_ipv4(), ip.is_ipv6()),
            };
            let to4 = ctr.ipv4.filter(|_| want4);
            let to6 = ctr.ipv6.filter(|_| want6);
            if to4.is_none() && to6.is_none() {
                return Err(NetError::InvalidPort {
                    input: mapping.to_string(),
                    reason: format!("container {} has no address of that family", ctr.id),
                });
            }
            let targets = [
                ("ip", "ipv4", to4.map(|ip| ip.to_string())),
                ("ip6", "ipv6", to6.map(|ip| format!("[{ip}]"))),
            ];
            for (host, inner) in mapping.pairs() {
                for (family, nfproto, target) in &targets {
                    let Some(target) = target else { continue };
                    let from = match mapping.host_ip {
                        Some(ip) => format!("{family} daddr {ip}"),
                        None => format!("meta nfproto {nfproto}"),
                    };
                    script.push_str(&format!(
                        "add rule {TABLE} {chain} {from} {proto} dport {host} dnat {family} to {target}:{inner}\n"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Deletes the table once no network and no published port is left in it.
    fn remove_table_if_unused(&self) -> Result<()> {
        match self.list_table()? {
            Some(table) if !table.contains("elements =") => self.apply(
                "delete table inet peapod",
                &format!("delete table {TABLE}\n"),
            ),
            _ => Ok(()),
        }
    }
}

impl Firewall for Nftables {
    fn setup_network(&self, net: &NetworkRules) -> Result<()> {
        check_link_name(&net.bridge)?;
        let br = &net.bridge;
        let chain = format!("n-{br}");
        let mut s = String::new();
        base_rules(&mut s);
        s.push_str(&format!(
            "add chain {TABLE} {chain}\nflush chain {TABLE} {chain}\n"
        ));
        for subnet in &net.subnets {
            let (family, loopback) = match subnet {
                ipnet::IpNet::V4(_) => ("ip", "127.0.0.0/8, "),
                ipnet::IpNet::V6(_) => ("ip6", ""),
            };
            let subnet = subnet.trunc();
            if !net.internal {
                s.push_str(&format!(
                    "add rule {TABLE} {chain} iifname \"{br}\" {family} saddr {subnet} {family} daddr != {subnet} masquerade\n"
                ));
            }
            s.push_str(&format!(
                "add rule {TABLE} {chain} oifname \"{br}\" ct status dnat {family} saddr {{ {loopback}{subnet} }} masquerade\n"
            ));
        }
        // The bridge's traffic to 127.0.0.0/8 is dropped unless it answers a connection:
        // route_localnet, which loopback publishing needs, would otherwise let a container
        // reach the host's loopback-only services (CVE-2020-8558, kube-proxy's).
        s.push_str(&format!(
            "add element {TABLE} nets {{ \"{br}\" : jump {chain} }}\n\
             add element {TABLE} bridges {{ \"{br}\" }}\n"
        ));
        if net.internal {
            s.push_str(&format!(
                "add chain {TABLE} f-{br}\nflush chain {TABLE} f-{br}\n\
                 add rule {TABLE} f-{br} iifname \"{br}\" oifname != \"{br}\" reject with icmpx admin-prohibited\n\
                 add rule {TABLE} f-{br} oifname \"{br}\" iifname != \"{br}\" reject with icmpx admin-prohibited\n\
                 add element {TABLE} internal {{ \"{br}\" : jump f-{br} }}\n"
            ));
        }
        self.apply(&format!("set up the rules of network bridge {br}"), &s)
    }

    fn teardown_network(&self, net: &NetworkRules) -> Result<()> {
        check_link_name(&net.bridge)?;
        let br = &net.bridge;
        let mut s = String::new();
        declare_maps(&mut s);
        // Declared first so that the deletions cannot fail on something already gone.
        for (map, chain) in [("nets", format!("n-{br}")), ("internal", format!("f-{br}"))] {
            s.push_str(&format!(
                "add chain {TABLE} {chain}\n\
                 add element {TABLE} {map} {{ \"{br}\" : jump {chain} }}\n\
                 delete element {TABLE} {map} {{ \"{br}\" }}\n\
                 flush chain {TABLE} {chain}\n\
                 delete chain {TABLE} {chain}\n"
            ));
        }
        s.push_str(&format!(
            "add element {TABLE} bridges {{ \"{br}\" }}\n\
             delete element {TABLE} bridges {{ \"{br}\" }}\n"
        ));
        self.apply(&format!("remove the rules of network bridge {br}"), &s)?;
        self.remove_table_if_unused()
    }

    fn check_ports(&self, ports: &[PortMapping]) -> Result<()> {
        check_host_ports_free(ports)?;
        self.check_published(ports)
    }

    fn publish(&self, ctr: &ContainerPorts) -> Result<()> {
        check_id(&ctr.id)?;
        if ctr.ports.is_empty() {
            return Ok(());
        }
        check_host_ports_free(&ctr.ports)?;
        let chain = format!("c-{}", ctr.id);
        // The table and its base chains come from setup_network: declaring a hook chain
        // again, even unchanged, costs the kernel a grace period (about 12 ms here).
        let mut s = format!("add chain {TABLE} {chain}\nflush chain {TABLE} {chain}\n");
        Self::dnat_rules(ctr, &chain, &mut s)?;
        let jump = format!("jump {chain}");
        s.push_str(&format!(
            "create element {TABLE} ports {{ {} }}\n",
            elements(&ctr.ports, Some(&jump))
        ));
        match self.apply(&format!("publish the ports of container {}", ctr.id), &s) {
            // Tell which port and who has it; the batch changed nothing.
            Err(e) => self.check_published(&ctr.ports).and(Err(e)),
            Ok(()) => Ok(()),
        }
    }

    fn unpublish(&self, ctr: &ContainerPorts) -> Result<()> {
        check_id(&ctr.id)?;
        if ctr.ports.is_empty() {
            return Ok(());
        }
        let chain = format!("c-{}", ctr.id);
        // `add` of an element that jumps elsewhere fails: another container's port is never
        // removed. Declared first so that the deletions cannot fail on something already gone.
        let jump = format!("jump {chain}");
        let s = format!(
            "add chain {TABLE} {chain}\n\
             add element {TABLE} ports {{ {} }}\n\
             delete element {TABLE} ports {{ {} }}\n\
             flush chain {TABLE} {chain}\n\
             delete chain {TABLE} {chain}\n",
            elements(&ctr.ports, Some(&jump)),
            elements(&ctr.ports, None)
        );
        match self.apply(&format!("remove the ports of container {}", ctr.id), &s) {
            // No table at all (a reboot, or the network's teardown): nothing to remove.
            Err(_) if self.list_table()?.is_none() => Ok(()),
            other => other,
        }
    }

    fn change_ports(
        &self,
        ctr: &ContainerPorts,
        added: &[PortMapping],
        removed: &[PortMapping],
    ) -> Result<()> {
        check_id(&ctr.id)?;
        if added.is_empty() && removed.is_empty() {
            return Ok(());
        }
        check_host_ports_free(added)?;
        let chain = format!("c-{}", ctr.id);
        let jump = format!("jump {chain}");
        // The chain is rewritten whole for the ports left; the map loses exactly the removed
        // elements (`add` of one that jumps elsewhere fails: another container's port is
        // never removed) and gains the added ones (`create` fails on one published).
        let mut s = format!("add chain {TABLE} {chain}\nflush chain {TABLE} {chain}\n");
        Self::dnat_rules(ctr, &chain, &mut s)?;
        if !removed.is_empty() {
            s.push_str(&format!(
                "add element {TABLE} ports {{ {} }}\ndelete element {TABLE} ports {{ {} }}\n",
                elements(removed, Some(&jump)),
                elements(removed, None)
            ));
        }
        if !added.is_empty() {
            s.push_str(&format!(
                "create element {TABLE} ports {{ {} }}\n",
                elements(added, Some(&jump))
            ));
        }
        if ctr.ports.is_empty() {
            s.push_str(&format!("delete chain {TABLE} {chain}\n"));
        }
        match self.apply(&format!("change the ports of container {}", ctr.id), &s) {
            Err(e) => self.check_published(added).and(Err(e)),
            Ok(()) => Ok(()),
        }
    }
}
