//! Endpoints: whatever holds a network namespace on bridge networks (a container, a pod's
//! infra process for a pod, a build's RUN step with no record of its own). Leases, the
//! namespace pin `RUNROOT/netns/<id>`, the host end of the veth pair and the published
//! ports' nft chain are all keyed by the endpoint's id, so a pod and a container are wired
//! the same way.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{bad, port_mappings, subnet_for, subnets_of};
use crate::Engine;
use crate::container::{ContainerRecord, Containers, NetworkMode};
use crate::db::NetworkRow;
use crate::error::{Error, Result};

/// One network of an endpoint, ready to attach.
pub(super) struct Plan {
    row: NetworkRow,
    subnets: Vec<peapod_net::Subnet>,
    ips: Vec<IpAddr>,
    /// The marker saying the bridge was made this boot.
    ready: PathBuf,
}

/// What the network code needs of a container or a pod.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    /// A container's or a pod's id (64 hex digits): keys the leases, the namespace pin, the
    /// host veth name and the nft chain.
    pub(crate) id: String,
    /// Its name, in messages and in the peers' hosts files.
    pub(crate) name: String,
    /// `--network`: only [`NetworkMode::Bridge`] is wired here.
    pub(crate) network: NetworkMode,
    /// The bridge networks it is on, the first on `eth0`.
    pub(crate) networks: Vec<String>,
    /// `--ip`, on the first network (either family).
    pub(crate) ip: Option<String>,
    /// `--ip6`, on the first network.
    pub(crate) ip6: Option<String>,
    /// `--network-alias`.
    pub(crate) aliases: Vec<String>,
    /// `-p` specs, as given.
    pub(crate) publish: Vec<String>,
    /// `--hostname` (the short id when `None`).
    pub(crate) hostname: Option<String>,
    /// `--add-host` specs.
    pub(crate) add_hosts: Vec<String>,
    /// Where its `hosts` and `resolv.conf` are (a container's bundle directory).
    pub(crate) dir: PathBuf,
}

impl Endpoint {
    /// A container's endpoint: on its `--network`, then on the networks it was connected to
    /// (those it holds a lease on), by name.
    pub(crate) fn of(engine: &Engine, r: &ContainerRecord) -> Result<Self> {
        let c = &r.config;
        let mut networks = match &c.network {
            NetworkMode::Bridge(n) if n == "bridge" => vec![super::DEFAULT_NETWORK.to_owned()],
            NetworkMode::Bridge(n) => vec![n.clone()],
            _ => Vec::new(),
        };
        if !networks.is_empty() {
            for (n, _) in engine.db.leases_of(&r.id)? {
                if !networks.contains(&n) {
                    networks.push(n);
                }
            }
        }
        Ok(Self {
            id: r.id.clone(),
            name: r.name.clone(),
            network: c.network.clone(),
            networks,
            ip: c.ip.clone(),
            ip6: c.ip6.clone(),
            aliases: c.aliases.clone(),
            publish: c.publish.clone(),
            hostname: c.config.hostname.clone(),
            add_hosts: c.add_hosts.clone(),
            dir: engine.paths(&r.id).dir,
        })
    }

    /// The name it gives itself in its hosts file.
    pub(crate) fn hostname(&self) -> String {
        self.hostname
            .clone()
            .unwrap_or_else(|| self.id.get(..12).unwrap_or(&self.id).to_owned())
    }

    /// Its published ports, parsed.
    pub(crate) fn ports(&self) -> Result<Vec<peapod_net::PortMapping>> {
        port_mappings(&self.publish)
    }
}

/// Where an endpoint's network namespace is pinned.
pub(crate) fn netns_path(runroot: &Path, id: &str) -> PathBuf {
    runroot.join("netns").join(id)
}

/// The host end of an endpoint's veth pair on a network (15 bytes at most, as IFNAMSIZ
/// wants): `ppID12` on its first network, `ppID8NET5` (with the network's id) on one it was
/// connected to.
pub(crate) fn host_ifname(id: &str, first: bool, network_id: &str) -> String {
    if first {
        format!("pp{}", id.get(..12).unwrap_or(id))
    } else {
        format!(
            "pp{}{}",
            id.get(..8).unwrap_or(id),
            network_id.get(..5).unwrap_or(network_id)
        )
    }
}

/// Unpublishes an endpoint's ports and unpins its network namespace (the kernel then
/// deletes its veth pairs). Best effort: nothing there is no error.
pub(crate) fn teardown(runroot: &Path, id: &str, publish: &[String]) {
    let ports: Vec<peapod_net::PortMapping> =
        publish.iter().filter_map(|p| p.parse().ok()).collect();
    if !ports.is_empty() {
        let fw = peapod_net::Nftables::default();
        let _ = peapod_net::Firewall::unpublish(&fw, &container_ports(id, &[], ports));
    }
    let path = netns_path(runroot, id);
    if path.exists() {
        let _ = peapod_net::remove_netns(&path);
    }
}

/// `--ip` (either family) and `--ip6` parsed: (flag, address).
pub(super) fn fixed_addresses(
    ip: Option<&str>,
    ip6: Option<&str>,
) -> Result<Vec<(&'static str, IpAddr)>> {
    let mut fixed = Vec::new();
    for (flag, value) in [("--ip", ip), ("--ip6", ip6)] {
        if let Some(v) = value {
            let ip: IpAddr = v.parse().map_err(|e| bad(flag, v, e))?;
            if flag == "--ip6" && ip.is_ipv4() {
                return Err(bad(flag, v, "not an IPv6 address"));
            }
            fixed.push((flag, ip));
        }
    }
    Ok(fixed)
}

/// The firewall's view of an endpoint: its id, its first address of each family, its ports.
fn container_ports(
    id: &str,
    addresses: &[IpAddr],
    ports: Vec<peapod_net::PortMapping>,
) -> peapod_net::ContainerPorts {
    peapod_net::ContainerPorts {
        id: id.to_owned(),
        ipv4: addresses.iter().find_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        }),
        ipv6: addresses.iter().find_map(|a| match a {
            IpAddr::V6(v6) => Some(*v6),
            IpAddr::V4(_) => None,
        }),
        ports,
    }
}

impl super::Networks<'_> {
    /// At create: the endpoint's addresses on its first network (one per family of a
    /// dual-stack network), leased; empty without a network.
    pub(crate) fn allocate(&self, ep: &Endpoint) -> Result<Vec<IpAddr>> {
        let Some(name) = ep.networks.first() else {
            return Ok(Vec::new());
        };
        let row = self.ensure(name)?;
        let fixed = fixed_addresses(ep.ip.as_deref(), ep.ip6.as_deref())?;
        self.lease(ep, &row, &fixed)
    }

    /// Leases the endpoint an address of each family of `row`, `fixed` ones (flag, address)
    /// honoured or refused, in one transaction.
    pub(crate) fn lease(
        &self,
        ep: &Endpoint,
        row: &NetworkRow,
        fixed: &[(&'static str, IpAddr)],
    ) -> Result<Vec<IpAddr>> {
        let subnets = subnets_of(row)?;
        for (flag, ip) in fixed {
            if subnet_for(&subnets, *ip).is_none() {
                return Err(bad(
                    flag,
                    &ip.to_string(),
                    format!("network {} has no subnet of its family", row.name),
                ));
            }
        }
        // The database connection is behind a shared reference: lease through a fresh one.
        let mut db = crate::db::Db::open(&self.engine.root)?;
        db.lease(&row.name, &ep.id, |used| {
            let mut ips = Vec::new();
            for subnet in &subnets {
                let family = subnet.gateway().is_ipv4();
                let ip = match fixed.iter().find(|(_, ip)| ip.is_ipv4() == family) {
                    Some((flag, ip)) => {
                        subnet
                            .check_static(*ip, used)
                            .map_err(|e| bad(flag, &ip.to_string(), e))?;
                        *ip
                    }
                    None => subnet.allocate(used)?,
                };
                ips.push(ip);
            }
            Ok(ips)
        })
    }

    /// The endpoint's leased addresses on `network`.
    fn leased(&self, ep: &Endpoint, network: &str) -> Result<Vec<IpAddr>> {
        let ips: Vec<IpAddr> = self
            .engine
            .db
            .leases_of(&ep.id)?
            .into_iter()
            .filter(|(n, _)| n == network)
            .map(|(_, ip)| ip)
            .collect();
        if ips.is_empty() {
            return Err(Error::Monitor {
                name: ep.name.clone(),
                why: format!("it has no address on network {network}"),
            });
        }
        Ok(ips)
    }

    /// What joins the endpoint to one network: its row, its subnets and its leases, the
    /// bridge made if this boot has not made it yet.
    pub(super) fn plan(&self, ep: &Endpoint, network: &str) -> Result<Plan> {
        let row = self.ensure(network)?;
        let subnets = subnets_of(&row)?;
        let ips = self.leased(ep, &row.name)?;
        // The bridge and its rules, once per boot (a marker in the runroot says so); made
        // again if the bridge went away meanwhile (see the retry in `attach`).
        let ready = self.engine.runroot.join("networks").join(&row.name);
        if !ready.exists() {
            self.ensure_bridge(&row, &subnets, &ready)?;
        }
        Ok(Plan {
            row,
            subnets,
            ips,
            ready,
        })
    }

    /// Attaches the endpoint's namespace `ns` to a planned network as `ifname`, with the
    /// default routes when `routes`; returns the host end's name.
    pub(super) fn attach(
        &self,
        ep: &Endpoint,
        plan: &Plan,
        ns: std::os::fd::BorrowedFd<'_>,
        ifname: String,
        first: bool,
    ) -> Result<String> {
        let routes = first && !plan.row.internal;
        let attachment = peapod_net::Attachment {
            bridge: plan.row.bridge.clone(),
            host_ifname: host_ifname(&ep.id, first, &plan.row.id),
            container_ifname: ifname,
            addresses: plan
                .ips
                .iter()
                .filter_map(|ip| Some(subnet_for(&plan.subnets, *ip)?.with_prefix(*ip)))
                .collect(),
            gateways: if routes {
                plan.subnets
                    .iter()
                    .map(peapod_net::Subnet::gateway)
                    .collect()
            } else {
                Vec::new()
            },
            mtu: plan.row.mtu,
        };
        let mut attached = attachment.attach(ns);
        if matches!(attached, Err(peapod_net::NetError::NoSuchLink(_))) {
            self.ensure_bridge(&plan.row, &plan.subnets, &plan.ready)?;
            attached = attachment.attach(ns);
        }
        attached?;
        Ok(attachment.host_ifname)
    }

    /// At start: the bridges (and their masquerade, once per boot), then the endpoint's
    /// namespace, a veth pair per network (`eth0`, `eth1`, ...), addresses, default routes
    /// (through its first network) and published ports. Nothing is left on failure.
    pub(crate) fn setup(&self, ep: &Endpoint) -> Result<()> {
        if ep.networks.is_empty() {
            return Ok(());
        }
        let plans = ep
            .networks
            .iter()
            .map(|n| self.plan(ep, n))
            .collect::<Result<Vec<_>>>()?;
        let runroot = &self.engine.runroot;
        let netns = netns_path(runroot, &ep.id);
        if let Some(dir) = netns.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        }
        teardown(runroot, &ep.id, &ep.publish);
        let ports = ep.ports()?;
        let fw = peapod_net::Nftables::default();
        if !ports.is_empty() {
            // A port in use (by an endpoint of ours or any listener) is refused before
            // anything is made.
            peapod_net::Firewall::check_ports(&fw, &ports)?;
        }
        let ns = peapod_net::create_netns(&netns)?;
        let mut made = Vec::new();
        let mut done = Ok(());
        for (i, plan) in plans.iter().enumerate() {
            let fd = std::os::fd::AsFd::as_fd(&ns);
            match self.attach(ep, plan, fd, format!("eth{i}"), i == 0) {
                Ok(host) => made.push(host),
                Err(e) => {
                    done = Err(e);
                    break;
                }
            }
        }
        if done.is_ok() {
            let published = container_ports(&ep.id, &plans[0].ips, ports);
            done = peapod_net::Firewall::publish(&fw, &published).map_err(Error::from);
        }
        if let Err(e) = done {
            drop(ns);
            for host in made {
                let _ = peapod_net::detach(&host);
            }
            let _ = peapod_net::remove_netns(&netns);
            return Err(e);
        }
        Ok(())
    }

    /// Makes the network's bridge (with the gateway addresses and MTU) and its masquerade
    /// rules, and marks them made.
    fn ensure_bridge(
        &self,
        row: &NetworkRow,
        subnets: &[peapod_net::Subnet],
        ready: &Path,
    ) -> Result<()> {
        peapod_net::Bridge {
            name: row.bridge.clone(),
            addresses: subnets
                .iter()
                .map(peapod_net::Subnet::gateway_net)
                .collect(),
            mtu: row.mtu,
        }
        .ensure()?;
        let fw = peapod_net::Nftables::default();
        peapod_net::Firewall::setup_network(
            &fw,
            &peapod_net::NetworkRules {
                bridge: row.bridge.clone(),
                subnets: subnets.iter().map(peapod_net::Subnet::net).collect(),
                internal: row.internal,
            },
        )?;
        if let Some(dir) = ready.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        }
        std::fs::write(ready, b"").map_err(Error::io("write", ready))
    }

    /// Publishes `added` (`-p` specs) for a running endpoint whose published ports are
    /// `ep.publish`, without touching its namespace (`pod port add`). The caller records
    /// the new list (`ep.publish` + `added`) once this succeeds.
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a bad spec or an endpoint with no bridge network; a port in
    /// use or already published: nothing changed.
    pub(crate) fn publish_ports(&self, ep: &Endpoint, added: &[String]) -> Result<()> {
        let added = port_mappings(added)?;
        let current = ep.ports()?;
        let Some(network) = ep.networks.first() else {
            return Err(bad(
                "--publish",
                &ep.name,
                "publishing a port needs a bridge network",
            ));
        };
        let ips = self.leased(ep, network)?;
        let fw = peapod_net::Nftables::default();
        peapod_net::Firewall::check_ports(&fw, &added)?;
        let mut all = current;
        all.extend(added.iter().copied());
        let ctr = container_ports(&ep.id, &ips, all);
        Ok(peapod_net::Firewall::change_ports(&fw, &ctr, &added, &[])?)
    }

    /// Unpublishes `removed` (`-p` specs, as published) of a running endpoint whose
    /// published ports are `ep.publish`, without touching its namespace (`pod port rm`). The
    /// caller records the new list once this succeeds.
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a bad spec or one the endpoint does not publish.
    pub(crate) fn unpublish_ports(&self, ep: &Endpoint, removed: &[String]) -> Result<()> {
        let removed = port_mappings(removed)?;
        let current = ep.ports()?;
        if let Some(m) = removed.iter().find(|m| !current.contains(m)) {
            return Err(bad(
                "--publish",
                &m.to_string(),
                format!("{} does not publish it", ep.name),
            ));
        }
        let left: Vec<peapod_net::PortMapping> = current
            .into_iter()
            .filter(|m| !removed.contains(m))
            .collect();
        let ips = match ep.networks.first() {
            Some(network) => self.leased(ep, network)?,
            None => Vec::new(),
        };
        let fw = peapod_net::Nftables::default();
        let ctr = container_ports(&ep.id, &ips, left);
        Ok(peapod_net::Firewall::change_ports(
            &fw,
            &ctr,
            &[],
            &removed,
        )?)
    }

    /// At start, for `--network container:NAME`: that container (which must run) lends its
    /// network namespace, `/etc/hosts` and `/etc/resolv.conf`; written into the endpoint's
    /// bundle (`ep.dir`).
    pub(crate) fn join_container(&self, ep: &Endpoint) -> Result<()> {
        let NetworkMode::Container(target) = &ep.network else {
            return Ok(());
        };
        let engine = self.engine;
        let other = engine.containers().get(target)?;
        if other.state != crate::container::State::Running || other.pid <= 0 {
            return Err(Error::WrongState {
                name: other.name,
                state: other.state.to_string(),
                action: "lend its network (it is not running)",
            });
        }
        let from = engine.paths(&other.id);
        for file in ["hosts", "resolv.conf"] {
            let text = std::fs::read_to_string(from.dir.join(file)).unwrap_or_default();
            let path = ep.dir.join(file);
            std::fs::write(&path, text).map_err(Error::io("write", &path))?;
        }
        let config_path = ep.dir.join("config.json");
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
        let tmp = ep.dir.join(".config.json.tmp");
        std::fs::write(&tmp, text).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, &config_path).map_err(Error::io("rename into place", &config_path))
    }
}

impl Containers<'_> {
    /// At create: the container's address on its network, leased; `None` without one.
    pub(crate) fn allocate_address(&self, record: &ContainerRecord) -> Result<Vec<IpAddr>> {
        let engine = self.engine;
        engine.networks().allocate(&Endpoint::of(engine, record)?)
    }

    /// At start: the container's network (see [`super::Networks::setup`]).
    pub(crate) fn setup_network(&self, record: &ContainerRecord) -> Result<()> {
        let engine = self.engine;
        engine.networks().setup(&Endpoint::of(engine, record)?)
    }

    /// At start, for `--network container:NAME` (see [`super::Networks::join_container`]).
    pub(crate) fn join_container_network(&self, record: &ContainerRecord) -> Result<()> {
        let engine = self.engine;
        engine
            .networks()
            .join_container(&Endpoint::of(engine, record)?)
    }
}
