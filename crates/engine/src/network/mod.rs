//! Networks: bridges with an IPv4 subnet (and an IPv6 one on a dual-stack network),
//! addresses leased from the database (one per family), and each container's network
//! namespace wired to its bridges through `peapod-net` (a veth pair per network, addresses,
//! the default routes through its first network, masquerade, published ports). The default
//! network `peapod` (bridge `peapod0`, 10.90.0.0/16 unless `/etc/peapod/peapod.conf` says
//! otherwise, see [`crate::config`]; `bridge` is its alias) is made on first use.
//!
//! Everything acts in the calling process's network namespace (the host's, or a test's fake
//! host): the bridge and the nftables rules live there. What is wired is an endpoint:
//! whatever holds a network namespace (a container, a pod's infra process, or a build's RUN
//! step for its length, see `build::network`), keyed by its id. Its namespace is pinned at
//! `RUNROOT/netns/<id>` from its start to its last exit; the runtime joins it by path. A
//! container joins further networks with `network connect` (at once if it runs, as
//! `eth1`…; its leases say which networks it is on at its next start) and leaves them with
//! `network disconnect`.
//!
//! Name resolution is by hosts files, on every network: each member's `/etc/hosts` lists
//! the members of all its networks by name and alias, at each of their addresses, and is
//! rewritten in place whenever one joins (create, connect) or leaves (rm, disconnect).
//!
//! Files: `mod.rs` the network verbs, `default.rs` the default network and its
//! configuration, `endpoint.rs` leases, set-up, teardown and published ports of an
//! endpoint, `connect.rs` connect and disconnect, `ports.rs` `-P`, `settings.rs` what
//! inspect and `port` show, `etc.rs` the checks before create and the hosts/resolv files.

mod connect;
mod default;
mod endpoint;
mod etc;
mod ports;
mod settings;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::Engine;
use crate::container::now_ns;
use crate::db::NetworkRow;
use crate::error::{Error, Result};

pub use connect::ConnectOptions;
pub(crate) use endpoint::{Endpoint, netns_path, teardown};
pub(crate) use etc::{
    bad, networks_of, port_mappings, refresh_hosts, refresh_hosts_of, refresh_networks,
    resolv_conf, validate, write_hosts,
};
pub(crate) use ports::publish_exposed;
pub use settings::PortReport;

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "peapod";

/// The network verbs of an [`Engine`]: `engine.networks()`.
#[derive(Debug)]
pub struct Networks<'e> {
    pub(crate) engine: &'e Engine,
}

/// What `network create` takes.
#[derive(Clone, Debug, Default)]
pub struct NetworkCreateOptions {
    /// `--subnet CIDR`, at most one per address family (default: a free `10.N.0.0/24`, and
    /// with `--ipv6` a free `fd90:0:0:N::/64`).
    pub subnets: Vec<String>,
    /// `--gateway IP`, at most one per family (default: the subnet's first address).
    pub gateways: Vec<String>,
    /// `--internal`: no route out.
    pub internal: bool,
    /// `--ipv6`: dual stack (an IPv6 subnet as well as the IPv4 one).
    pub ipv6: bool,
    /// `-o KEY=VALUE` driver options: `mtu=BYTES` (or docker's
    /// `com.docker.network.driver.mtu`).
    pub options: Vec<String>,
}

/// A network, in the shape of `docker network inspect`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkReport {
    /// Its name.
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// Always `bridge`.
    pub driver: String,
    /// The bridge device.
    pub network_interface: String,
    /// The IPv4 subnet (CIDR).
    pub subnet: String,
    /// The bridge's IPv4 address, the containers' default route.
    pub gateway: String,
    /// Dual stack: an IPv6 subnet too.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Every subnet with its gateway, IPv4 first.
    #[serde(rename = "IPAM")]
    pub ipam: IpamReport,
    /// No route out.
    pub internal: bool,
    /// Driver options (`mtu`).
    pub options: BTreeMap<String, String>,
    /// The endpoints on it, by id.
    pub containers: BTreeMap<String, MemberReport>,
    /// RFC 3339.
    pub created: String,
}

/// A network's address management, as docker shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamReport {
    /// Always `default`.
    pub driver: String,
    /// One entry per subnet.
    pub config: Vec<IpamConfig>,
}

/// One subnet of a network.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    /// CIDR.
    pub subnet: String,
    /// The bridge's address in it.
    pub gateway: String,
}

/// A container (or pod) on a network.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemberReport {
    /// Its name.
    pub name: String,
    /// `ADDRESS/PREFIX`, or empty.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// `ADDRESS/PREFIX`, or empty.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// A network's subnets, IPv4 first (then IPv6 on a dual-stack one).
pub(crate) fn subnets_of(row: &NetworkRow) -> Result<Vec<peapod_net::Subnet>> {
    let one = |subnet: &str, gateway: &str| -> Result<peapod_net::Subnet> {
        let net: peapod_net::IpNet = subnet.parse().map_err(|e| bad("--subnet", subnet, e))?;
        let gateway: IpAddr = gateway.parse().map_err(|e| bad("--gateway", gateway, e))?;
        Ok(peapod_net::Subnet::new(net, Some(gateway))?)
    };
    let mut out = vec![one(&row.subnet, &row.gateway)?];
    if let (Some(s), Some(g)) = (&row.subnet6, &row.gateway6) {
        out.push(one(s, g)?);
    }
    Ok(out)
}

/// The subnet of `ip`'s family among `subnets`.
pub(crate) fn subnet_for(
    subnets: &[peapod_net::Subnet],
    ip: IpAddr,
) -> Option<&peapod_net::Subnet> {
    subnets
        .iter()
        .find(|s| s.gateway().is_ipv4() == ip.is_ipv4())
}

/// `-o` options parsed: the MTU, if given.
fn parse_mtu(options: &[String], ipv6: bool) -> Result<Option<u32>> {
    let mut mtu = None;
    for o in options {
        let (key, value) = o.split_once('=').unwrap_or((o, ""));
        if key != "mtu" && key != "com.docker.network.driver.mtu" {
            return Err(bad("-o", o, "the bridge driver knows only mtu=BYTES"));
        }
        let min = if ipv6 { 1280 } else { 68 };
        match value.parse::<u32>() {
            Ok(n) if (min..=65535).contains(&n) => mtu = Some(n),
            _ => {
                return Err(bad(
                    "-o",
                    o,
                    format!("an MTU is {min} to 65535 bytes (IPv6 needs 1280)"),
                ));
            }
        }
    }
    Ok(mtu)
}

impl Networks<'_> {
    fn report(&self, row: NetworkRow) -> Result<NetworkReport> {
        let mut containers: BTreeMap<String, MemberReport> = BTreeMap::new();
        let subnets = subnets_of(&row)?;
        for (id, ip) in self.engine.db.network_members(&row.name)? {
            let name = endpoint_name(self.engine, &id)?;
            let m = containers.entry(id).or_insert_with(|| MemberReport {
                name,
                ipv4_address: String::new(),
                ipv6_address: String::new(),
            });
            let text = subnet_for(&subnets, ip)
                .map_or_else(|| ip.to_string(), |s| s.with_prefix(ip).to_string());
            match ip {
                IpAddr::V4(_) => m.ipv4_address = text,
                IpAddr::V6(_) => m.ipv6_address = text,
            }
        }
        let mut options = BTreeMap::new();
        if let Some(mtu) = row.mtu {
            options.insert("mtu".to_owned(), mtu.to_string());
        }
        Ok(NetworkReport {
            enable_ipv6: row.subnet6.is_some(),
            ipam: IpamReport {
                driver: "default".into(),
                config: subnets
                    .iter()
                    .map(|s| IpamConfig {
                        subnet: s.net().to_string(),
                        gateway: s.gateway().to_string(),
                    })
                    .collect(),
            },
            name: row.name,
            id: row.id,
            driver: "bridge".into(),
            network_interface: row.bridge,
            subnet: row.subnet,
            gateway: row.gateway,
            internal: row.internal,
            options,
            containers,
            created: crate::time::rfc3339(row.created),
        })
    }

    /// `network create [--subnet CIDR]... [--gateway IP]... [--internal] [--ipv6]
    /// [-o mtu=N] NAME`: a bridge network (its bridge is made when a container first joins
    /// it).
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a bad name, CIDR, gateway or option, two subnets of one
    /// family, an IPv6 subnet without `--ipv6`, a subnet overlapping another network's, or a
    /// name in use; nothing is recorded then.
    pub fn create(&self, name: &str, opts: &NetworkCreateOptions) -> Result<NetworkReport> {
        crate::container::validate_name(name).map_err(|_| Error::InvalidFlag {
            flag: "network create",
            value: name.to_owned(),
            why: "a network name is [a-zA-Z0-9][a-zA-Z0-9_.-]+".into(),
        })?;
        let row = self.insert(name, opts, None)?;
        self.report(row)
    }

    /// Checks `opts` against the other networks and records the network, on `bridge`
    /// (default: `pp-` and part of its id).
    fn insert(
        &self,
        name: &str,
        opts: &NetworkCreateOptions,
        bridge: Option<&str>,
    ) -> Result<NetworkRow> {
        let existing = self.engine.db.networks()?;
        let mut others = Vec::new();
        for row in &existing {
            others.extend(subnets_of(row)?);
        }
        let mut nets: Vec<peapod_net::IpNet> = Vec::new();
        for s in &opts.subnets {
            let net: peapod_net::IpNet = s.parse().map_err(|_| {
                bad(
                    "--subnet",
                    s,
                    "expected a CIDR such as 10.91.0.0/24 or fd91::/64",
                )
            })?;
            if nets
                .iter()
                .any(|n| n.addr().is_ipv4() == net.addr().is_ipv4())
            {
                return Err(bad("--subnet", s, "one subnet per address family"));
            }
            if net.addr().is_ipv6() && !opts.ipv6 {
                return Err(bad("--subnet", s, "an IPv6 subnet needs --ipv6"));
            }
            nets.push(net);
        }
        let mut gateways: Vec<IpAddr> = Vec::new();
        for g in &opts.gateways {
            let ip: IpAddr = g
                .parse()
                .map_err(|_| bad("--gateway", g, "not an IP address"))?;
            if !nets.iter().any(|n| n.addr().is_ipv4() == ip.is_ipv4()) {
                return Err(bad("--gateway", g, "no --subnet of its address family"));
            }
            gateways.push(ip);
        }
        let mut subnets = Vec::new();
        for net in &nets {
            let gateway = gateways
                .iter()
                .copied()
                .find(|g| g.is_ipv4() == net.addr().is_ipv4());
            let subnet = peapod_net::Subnet::new(*net, gateway)?;
            subnet.check_no_overlap(others.iter().chain(subnets.iter()))?;
            subnets.push(subnet);
        }
        if !subnets.iter().any(|s| s.gateway().is_ipv4()) {
            subnets.push(free_subnet(&others, false)?);
        }
        if opts.ipv6 && !subnets.iter().any(|s| s.gateway().is_ipv6()) {
            subnets.push(free_subnet(&others, true)?);
        }
        subnets.sort_by_key(|s| s.gateway().is_ipv6());
        let mtu = parse_mtu(&opts.options, opts.ipv6)?;
        let id = crate::container::new_id()?;
        let bridge = bridge.map_or_else(|| format!("pp-{}", &id[..8]), str::to_owned);
        let v6 = subnets.get(1);
        let row = NetworkRow {
            name: name.to_owned(),
            id,
            bridge,
            subnet: subnets[0].net().to_string(),
            gateway: subnets[0].gateway().to_string(),
            internal: opts.internal,
            created: now_ns(),
            subnet6: v6.map(|s| s.net().to_string()),
            gateway6: v6.map(|s| s.gateway().to_string()),
            mtu,
        };
        if !self.engine.db.insert_network(&row)? {
            return Err(Error::InvalidFlag {
                flag: "network create",
                value: name.to_owned(),
                why: "a network of that name exists".into(),
            });
        }
        Ok(row)
    }

    /// The network `name`, to be used (`bridge` is the default one's alias; the default one
    /// is made on first use, and kept in line with the configuration).
    pub(crate) fn ensure(&self, name: &str) -> Result<NetworkRow> {
        self.find(name, true)
    }

    /// The network `name`, to be shown or removed (the default one is made on first use).
    fn lookup(&self, name: &str) -> Result<NetworkRow> {
        self.find(name, false)
    }

    fn find(&self, name: &str, strict: bool) -> Result<NetworkRow> {
        let name = if name == "bridge" {
            DEFAULT_NETWORK
        } else {
            name
        };
        if name == DEFAULT_NETWORK {
            return self.ensure_default(strict);
        }
        if let Some(row) = self.engine.db.network(name)? {
            return Ok(row);
        }
        Err(Error::InvalidFlag {
            flag: "--network",
            value: name.to_owned(),
            why: "no such network (`peapod network ls` lists them)".into(),
        })
    }

    /// `network ls`.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn list(&self) -> Result<Vec<NetworkReport>> {
        self.lookup(DEFAULT_NETWORK)?;
        self.engine
            .db
            .networks()?
            .into_iter()
            .map(|r| self.report(r))
            .collect()
    }

    /// `network inspect NAME`.
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] naming an unknown network.
    pub fn inspect(&self, name: &str) -> Result<NetworkReport> {
        self.report(self.lookup(name)?)
    }

    /// `network rm NAME`: refuses one a container is on, and the default one. Its bridge and
    /// its firewall rules go with it.
    ///
    /// # Errors
    /// [`Error::NetworkInUse`], [`Error::InvalidFlag`].
    pub fn remove(&self, name: &str) -> Result<()> {
        let row = self.lookup(name)?;
        if row.name == DEFAULT_NETWORK {
            return Err(Error::InvalidFlag {
                flag: "network rm",
                value: name.to_owned(),
                why: "the default network cannot be removed".into(),
            });
        }
        if !self.engine.db.delete_network(&row.name)? {
            return Err(Error::InvalidFlag {
                flag: "network rm",
                value: name.to_owned(),
                why: "no such network".into(),
            });
        }
        self.unmake(&row);
        Ok(())
    }

    /// `network prune`: removes every network but the default one that no container is on;
    /// their names.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for row in self.engine.db.networks()? {
            if row.name == DEFAULT_NETWORK {
                continue;
            }
            match self.engine.db.delete_network(&row.name) {
                Ok(true) => {
                    self.unmake(&row);
                    removed.push(row.name);
                }
                Ok(false) | Err(Error::NetworkInUse { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Removes a network's firewall rules, bridge and marker (best effort), once its row is
    /// gone.
    pub(super) fn unmake(&self, row: &NetworkRow) {
        let fw = peapod_net::Nftables::default();
        if let Ok(subnets) = subnets_of(row) {
            let _ = peapod_net::Firewall::teardown_network(
                &fw,
                &peapod_net::NetworkRules {
                    bridge: row.bridge.clone(),
                    subnets: subnets.iter().map(peapod_net::Subnet::net).collect(),
                    internal: row.internal,
                },
            );
        }
        // Its row is gone, so no container holds a lease on it: what is still attached is a
        // veth pair the kernel is deleting in the background (a container just removed).
        let _ = peapod_net::Bridge::remove(&row.bridge);
        let _ = std::fs::remove_file(self.engine.runroot.join("networks").join(&row.name));
    }
}

/// Checks an interface name (a bridge's) as the kernel would.
pub(crate) fn check_link_name(name: &str) -> std::result::Result<(), String> {
    peapod_net::check_link_name(name).map_err(|e| e.to_string())
}

/// An endpoint's name: its container's (the id itself if none is recorded).
fn endpoint_name(engine: &Engine, id: &str) -> Result<String> {
    Ok(engine
        .db
        .container(id)?
        .map_or_else(|| id.to_owned(), |r| r.name))
}

/// The first `10.N.0.0/24` (N from 91), or with `v6` the first `fd90:0:0:N::/64` (N from 1),
/// that overlaps none of `others`.
fn free_subnet(others: &[peapod_net::Subnet], v6: bool) -> Result<peapod_net::Subnet> {
    for n in 1..=254u16 {
        let candidate = if v6 {
            format!("fd90:0:0:{n:x}::/64")
        } else {
            format!("10.{}.0.0/24", 90 + n)
        };
        let Ok(subnet) = candidate.parse::<peapod_net::Subnet>() else {
            continue;
        };
        if subnet.check_no_overlap(others).is_ok() {
            return Ok(subnet);
        }
    }
    Err(Error::InvalidFlag {
        flag: "--subnet",
        value: String::new(),
        why: "no free subnet left among the defaults: give one".into(),
    })
}
