//! Networks: bridges with a subnet, addresses leased from the database, and each container's
//! network namespace wired to its bridge through `peapod-net` (a veth pair, an address, the
//! default route, masquerade). The default network `peapod` (bridge `peapod0`,
//! 10.90.0.0/16; `bridge` is its alias) is made on first use.
//!
//! Everything acts in the calling process's network namespace (the host's, or a test's fake
//! host): the bridge and the nftables rules live there. A container's namespace is pinned
//! at `RUNROOT/netns/<id>` from its start to its last exit; the runtime joins it by path.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Engine;
use crate::container::{ContainerRecord, Containers, CreateOptions, NetworkMode, now_ns};
use crate::db::NetworkRow;
use crate::error::{Error, Result};

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "peapod";
const DEFAULT_BRIDGE: &str = "peapod0";
const DEFAULT_SUBNET: &str = "10.90.0.0/16";

/// The network verbs of an [`Engine`]: `engine.networks()`.
#[derive(Debug)]
pub struct Networks<'e> {
    pub(crate) engine: &'e Engine,
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
    /// CIDR.
    pub subnet: String,
    /// The bridge's address, the containers' default route.
    pub gateway: String,
    /// No route out.
    pub internal: bool,
    /// RFC 3339.
    pub created: String,
}

fn report(row: NetworkRow) -> NetworkReport {
    NetworkReport {
        name: row.name,
        id: row.id,
        driver: "bridge".into(),
        network_interface: row.bridge,
        subnet: row.subnet,
        gateway: row.gateway,
        internal: row.internal,
        created: crate::time::rfc3339(row.created),
    }
}

fn subnet_of(row: &NetworkRow) -> Result<peapod_net::Subnet> {
    let net: peapod_net::IpNet = row.subnet.parse().map_err(|_| Error::InvalidFlag {
        flag: "--subnet",
        value: row.subnet.clone(),
        why: "not a CIDR".into(),
    })?;
    let gateway: IpAddr = row.gateway.parse().map_err(|_| Error::InvalidFlag {
        flag: "--gateway",
        value: row.gateway.clone(),
        why: "not an address".into(),
    })?;
    Ok(peapod_net::Subnet::new(net, Some(gateway))?)
}

/// Where a container's network namespace is pinned.
pub(crate) fn netns_path(runroot: &Path, id: &str) -> PathBuf {
    runroot.join("netns").join(id)
}

/// The host end of a container's veth pair (15 bytes at most, as IFNAMSIZ wants).
pub(crate) fn host_ifname(id: &str) -> String {
    format!("pp{}", id.get(..12).unwrap_or(id))
}

/// Unpublishes a container's ports and unpins its network namespace (the kernel then
/// deletes its veth pair). Best effort: nothing there is no error.
pub(crate) fn teardown(runroot: &Path, id: &str, publish: &[String]) {
    let ports: Vec<peapod_net::PortMapping> =
        publish.iter().filter_map(|p| p.parse().ok()).collect();
    if !ports.is_empty() {
        let fw = peapod_net::Nftables::default();
        let _ = peapod_net::Firewall::unpublish(
            &fw,
            &peapod_net::ContainerPorts {
                id: id.to_owned(),
                ipv4: None,
                ipv6: None,
                ports,
            },
        );
    }
    let path = netns_path(runroot, id);
    if path.exists() {
        let _ = peapod_net::remove_netns(&path);
    }
}

fn bad(flag: &'static str, value: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidFlag {
        flag,
        value: value.to_owned(),
        why: e.to_string(),
    }
}

/// `-p` parsed.
pub(crate) fn port_mappings(opts: &CreateOptions) -> Result<Vec<peapod_net::PortMapping>> {
    opts.publish
        .iter()
        .map(|p| {
            p.parse::<peapod_net::PortMapping>()
                .map_err(|e| bad("--publish", p, e))
        })
        .collect()
}

/// Checks the network options before anything is made.
pub(crate) fn validate(opts: &CreateOptions) -> Result<()> {
    let ports = port_mappings(opts)?;
    let bridge = matches!(opts.network, NetworkMode::Bridge(_));
    if !ports.is_empty() && !bridge {
        return Err(bad(
            "--publish",
            &opts.publish.join(" "),
            "publishing a port needs a bridge network (--network bridge)",
        ));
    }
    if let Some(ip) = &opts.ip {
        ip.parse::<IpAddr>().map_err(|e| bad("--ip", ip, e))?;
        if !bridge {
            return Err(bad(
                "--ip",
                ip,
                "a fixed address needs a bridge network (--network bridge)",
            ));
        }
    }
    for d in &opts.dns {
        d.parse::<IpAddr>().map_err(|e| bad("--dns", d, e))?;
    }
    for h in &opts.add_hosts {
        peapod_net::HostEntry::parse_add_host(h, Some(IpAddr::from([0, 0, 0, 0])))
            .map_err(|e| bad("--add-host", h, e))?;
    }
    for a in &opts.aliases {
        crate::container::validate_name(a).map_err(|e| bad("--network-alias", a, e))?;
    }
    Ok(())
}

/// The container's `/etc/resolv.conf`: the host's upstreams (no loopback resolver, which
/// another namespace cannot reach) or `--dns`, and `--dns-search`.
pub(crate) fn resolv_conf(opts: &CreateOptions) -> String {
    // `container:` shares the other's network, and gets its files at start.
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if opts.network == NetworkMode::Host && opts.dns.is_empty() && opts.dns_search.is_empty() {
        return host;
    }
    let dns = peapod_net::DnsOptions {
        servers: opts.dns.iter().filter_map(|d| d.parse().ok()).collect(),
        search: opts.dns_search.clone(),
        options: Vec::new(),
    };
    peapod_net::resolv_conf(&host, &dns)
}

/// Rewrites the `/etc/hosts` of every container on `network`: its own names, its
/// `--add-host` entries, and every other container of the network by name and alias (the
/// name resolution peapod gives every network, its default one included). Files are
/// rewritten in place, so a running container sees the change.
pub(crate) fn refresh_hosts(engine: &Engine, network: &str) -> Result<()> {
    let members = engine.db.network_members(network)?;
    let records: Vec<(ContainerRecord, IpAddr)> = members
        .into_iter()
        .filter_map(|(id, ip)| Some((engine.db.container(&id).ok().flatten()?, ip)))
        .collect();
    let entry = |r: &ContainerRecord, ip: IpAddr| {
        let mut names = vec![r.name.clone()];
        names.extend(r.config.aliases.iter().cloned());
        peapod_net::HostEntry { ip, names }
    };
    // `--add-host NAME:host-gateway` resolves to the network's gateway.
    let gateway = engine
        .db
        .network(network)?
        .and_then(|n| n.gateway.parse().ok());
    for (r, ip) in &records {
        let add: Vec<peapod_net::HostEntry> = r
            .config
            .add_hosts
            .iter()
            .filter_map(|h| peapod_net::HostEntry::parse_add_host(h, gateway).ok())
            .collect();
        let hostname = r
            .config
            .config
            .hostname
            .clone()
            .unwrap_or_else(|| r.short_id().to_owned());
        let mut own = entry(r, *ip);
        if hostname != r.name {
            own.names.insert(0, hostname);
        }
        let peers: Vec<peapod_net::HostEntry> = records
            .iter()
            .filter(|(o, _)| o.id != r.id)
            .map(|(o, oip)| entry(o, *oip))
            .collect();
        let text = peapod_net::hosts_file(&add, &[own], &peers);
        let path = engine.paths(&r.id).dir.join("hosts");
        if path.exists() {
            peapod_net::rewrite_in_place(&path, &text)?;
        }
    }
    Ok(())
}

impl Networks<'_> {
    /// `network create [--subnet CIDR] [--gateway IP] [--internal] NAME`: a bridge network
    /// (its bridge is made when a container first joins it).
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a bad name or CIDR, a subnet overlapping another network's,
    /// or a name in use.
    pub fn create(
        &self,
        name: &str,
        subnet: Option<&str>,
        gateway: Option<&str>,
        internal: bool,
    ) -> Result<NetworkReport> {
        crate::container::validate_name(name).map_err(|_| Error::InvalidFlag {
            flag: "network create",
            value: name.to_owned(),
            why: "a network name is [a-zA-Z0-9][a-zA-Z0-9_.-]+".into(),
        })?;
        let existing = self.engine.db.networks()?;
        let subnet = match subnet {
            Some(s) => s.to_owned(),
            None => free_subnet(&existing)?,
        };
        let net: peapod_net::IpNet = subnet.parse().map_err(|_| Error::InvalidFlag {
            flag: "--subnet",
            value: subnet.clone(),
            why: "expected a CIDR such as 10.91.0.0/24".into(),
        })?;
        let gateway = gateway
            .map(|g| {
                g.parse::<IpAddr>().map_err(|_| Error::InvalidFlag {
                    flag: "--gateway",
                    value: g.to_owned(),
                    why: "not an IP address".into(),
                })
            })
            .transpose()?;
        let new = peapod_net::Subnet::new(net, gateway)?;
        let others = existing.iter().map(subnet_of).collect::<Result<Vec<_>>>()?;
        new.check_no_overlap(&others)?;
        let id = crate::container::new_id()?;
        let bridge = if name == DEFAULT_NETWORK {
            DEFAULT_BRIDGE.to_owned()
        } else {
            format!("pp-{}", &id[..8])
        };
        let row = NetworkRow {
            name: name.to_owned(),
            id,
            bridge,
            subnet: new.net().to_string(),
            gateway: new.gateway().to_string(),
            internal,
            created: now_ns(),
        };
        if !self.engine.db.insert_network(&row)? {
            return Err(Error::InvalidFlag {
                flag: "network create",
                value: name.to_owned(),
                why: "a network of that name exists".into(),
            });
        }
        Ok(report(row))
    }

    /// The network `name` (the default one is made on first use).
    pub(crate) fn ensure(&self, name: &str) -> Result<NetworkRow> {
        if let Some(row) = self.engine.db.network(name)? {
            return Ok(row);
        }
        if name == DEFAULT_NETWORK {
            match self.create(name, Some(DEFAULT_SUBNET), None, false) {
                Ok(_) | Err(Error::InvalidFlag { .. }) => {}
                Err(e) => return Err(e),
            }
            if let Some(row) = self.engine.db.network(name)? {
                return Ok(row);
            }
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
        self.ensure(DEFAULT_NETWORK)?;
        Ok(self.engine.db.networks()?.into_iter().map(report).collect())
    }

    /// `network inspect NAME`.
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] naming an unknown network.
    pub fn inspect(&self, name: &str) -> Result<NetworkReport> {
        Ok(report(self.ensure(name)?))
    }

    /// `network rm NAME`: refuses one a container is on, and the default one.
    ///
    /// # Errors
    /// [`Error::NetworkInUse`], [`Error::InvalidFlag`].
    pub fn remove(&self, name: &str) -> Result<()> {
        if name == DEFAULT_NETWORK {
            return Err(Error::InvalidFlag {
                flag: "network rm",
                value: name.to_owned(),
                why: "the default network cannot be removed".into(),
            });
        }
        let row = self.ensure(name)?;
        if !self.engine.db.delete_network(name)? {
            return Err(Error::InvalidFlag {
                flag: "network rm",
                value: name.to_owned(),
                why: "no such network".into(),
            });
        }
        let _ = peapod_net::Bridge::remove_if_unused(&row.bridge);
        let _ = std::fs::remove_file(self.engine.runroot.join("networks").join(name));
        Ok(())
    }
}

/// The first 10.N.0.0/24 (N from 91) that no network overlaps.
fn free_subnet(existing: &[NetworkRow]) -> Result<String> {
    let others = existing.iter().map(subnet_of).collect::<Result<Vec<_>>>()?;
    for n in 91..=254u8 {
        let candidate = format!("10.{n}.0.0/24");
        let Ok(net) = candidate.parse::<peapod_net::IpNet>() else {
            continue;
        };
        let Ok(subnet) = peapod_net::Subnet::new(net, None) else {
            continue;
        };
        if subnet.check_no_overlap(&others).is_ok() {
            return Ok(candidate);
        }
    }
    Err(Error::InvalidFlag {
        flag: "--subnet",
        value: String::new(),
        why: "no free 10.N.0.0/24 left: give one".into(),
    })
}

impl Containers<'_> {
    /// At create: the container's address on its network, leased; `None` without one.
    pub(crate) fn allocate_address(&self, record: &ContainerRecord) -> Result<Option<IpAddr>> {
        let NetworkMode::Bridge(name) = &record.config.network else {
            return Ok(None);
        };
        let row = self.engine.networks().ensure(name)?;
        let subnet = subnet_of(&row)?;
        // The database connection is behind a shared reference: lease through a fresh one.
        let mut db = crate::db::Db::open(&self.engine.root)?;
        let fixed = record
            .config
            .ip
            .as_deref()
            .map(str::parse::<IpAddr>)
            .transpose()
            .map_err(|e| bad("--ip", record.config.ip.as_deref().unwrap_or(""), e))?;
        let ip = db.lease(&row.name, &record.id, |used| match fixed {
            Some(ip) => {
                subnet
                    .check_static(ip, used)
                    .map_err(|e| bad("--ip", &ip.to_string(), e))?;
                Ok(ip)
            }
            None => Ok(subnet.allocate(used)?),
        })?;
        Ok(Some(ip))
    }

    /// At start: the bridge (and its masquerade, once per boot), then the container's
    /// namespace, veth pair, address and route. Nothing is left on failure.
    pub(crate) fn setup_network(&self, record: &ContainerRecord) -> Result<()> {
        let NetworkMode::Bridge(name) = &record.config.network else {
            return Ok(());
        };
        let row = self.engine.networks().ensure(name)?;
        let subnet = subnet_of(&row)?;
        let ip = self
            .engine
            .db
            .leases_of(&record.id)?
            .into_iter()
            .find(|(n, _)| *n == row.name)
            .map(|(_, ip)| ip)
            .ok_or_else(|| Error::Monitor {
                name: record.name.clone(),
                why: format!("it has no address on network {}", row.name),
            })?;
        // The bridge and its rules, once per boot (a marker in the runroot says so); made
        // again if the bridge went away meanwhile (see the retry below).
        let ready = self.engine.runroot.join("networks").join(&row.name);
        if !ready.exists() {
            self.ensure_bridge(&row, &subnet, &ready)?;
        }
        let netns = netns_path(&self.engine.runroot, &record.id);
        if let Some(dir) = netns.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        }
        teardown(&self.engine.runroot, &record.id, &record.config.publish);
        // The namespace, the attachment and the published ports: the namespace and the attachment, undone on failure.
        let attachment = peapod_net::Attachment {
            bridge: row.bridge.clone(),
            host_ifname: host_ifname(&record.id),
            container_ifname: "eth0".into(),
            addresses: vec![subnet.with_prefix(ip)],
            gateways: if row.internal {
                Vec::new()
            } else {
                vec![subnet.gateway()]
            },
            mtu: None,
        };
        let ports = port_mappings(&record.config)?;
        let fw = peapod_net::Nftables::default();
        if !ports.is_empty() {
            // A port in use (by a container of ours or any listener) is refused before
            // anything is made.
            peapod_net::Firewall::check_ports(&fw, &ports)?;
        }
        let ns = peapod_net::create_netns(&netns)?;
        let published = peapod_net::ContainerPorts {
            id: record.id.clone(),
            ipv4: match ip {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            },
            ipv6: match ip {
                IpAddr::V6(v6) => Some(v6),
                IpAddr::V4(_) => None,
            },
            ports,
        };
        let mut attached = attachment.attach(std::os::fd::AsFd::as_fd(&ns));
        if matches!(attached, Err(peapod_net::NetError::NoSuchLink(_))) {
            self.ensure_bridge(&row, &subnet, &ready)?;
            attached = attachment.attach(std::os::fd::AsFd::as_fd(&ns));
        }
        let done = attached.and_then(|()| peapod_net::Firewall::publish(&fw, &published));
        if let Err(e) = done {
            drop(ns);
            let _ = peapod_net::detach(&attachment.host_ifname);
            let _ = peapod_net::remove_netns(&netns);
            return Err(e.into());
        }
        Ok(())
    }

    /// Makes the network's bridge (with the gateway address) and its masquerade rules, and
    /// marks them made.
    fn ensure_bridge(
        &self,
        row: &NetworkRow,
        subnet: &peapod_net::Subnet,
        ready: &Path,
    ) -> Result<()> {
        peapod_net::Bridge {
            name: row.bridge.clone(),
            addresses: vec![subnet.gateway_net()],
            mtu: None,
        }
        .ensure()?;
        let fw = peapod_net::Nftables::default();
        peapod_net::Firewall::setup_network(
            &fw,
            &peapod_net::NetworkRules {
                bridge: row.bridge.clone(),
                subnets: vec![subnet.net()],
                internal: row.internal,
            },
        )?;
        if let Some(dir) = ready.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        }
        std::fs::write(ready, b"").map_err(Error::io("write", ready))
    }

    /// At start, for `--network container:NAME`: that container (which must run) lends its
    /// network namespace, `/etc/hosts` and `/etc/resolv.conf`; written into the bundle.
    pub(crate) fn join_container_network(&self, record: &ContainerRecord) -> Result<()> {
        let NetworkMode::Container(target) = &record.config.network else {
            return Ok(());
        };
        let other = self.get(target)?;
        if other.state != crate::container::State::Running || other.pid <= 0 {
            return Err(Error::WrongState {
                name: other.name,
                state: other.state.to_string(),
                action: "lend its network (it is not running)",
            });
        }
        let paths = self.engine.paths(&record.id);
        let from = self.engine.paths(&other.id);
        for file in ["hosts", "resolv.conf"] {
            let text = std::fs::read_to_string(from.dir.join(file)).unwrap_or_default();
            let path = paths.dir.join(file);
            std::fs::write(&path, text).map_err(Error::io("write", &path))?;
        }
        let config_path = paths.dir.join("config.json");
        let bytes = std::fs::read(&config_path).map_err(Error::io("read", &config_path))?;
        let mut config: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(Error::json("config.json"))?;
        let ns = format!("/proc/{}/ns/net", other.pid);
        if let Some(list) = config["linux"]["namespaces"].as_array_mut() {
            for n in list.iter_mut().filter(|n| n["type"] == "network") {
                n["path"] = serde_json::json!(ns);
            }
        }
        let text = serde_json::to_vec_pretty(&config).map_err(Error::json("config.json"))?;
        let tmp = paths.dir.join(".config.json.tmp");
        std::fs::write(&tmp, text).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, &config_path).map_err(Error::io("rename into place", &config_path))
    }

    /// The container's addresses, for inspect: (network, address).
    pub(crate) fn addresses(&self, id: &str) -> Result<Vec<(String, IpAddr)>> {
        self.engine.db.leases_of(id)
    }
}
