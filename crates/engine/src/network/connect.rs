//! `network connect` and `network disconnect`: a container joins or leaves a further
//! network, running or not. A running one gets (or loses) a veth pair `ethN` in its
//! namespace at once; a stopped one gets it at its next start (its leases say which networks
//! it is on). The hosts files of everyone on the network, and its own, are rewritten.

use super::endpoint::{fixed_addresses, host_ifname};
use super::{Endpoint, Networks, bad, netns_path, refresh_hosts, refresh_hosts_of};
use crate::container::{NetworkMode, State};
use crate::error::{Error, Result};

/// What `network connect` takes besides the network and the container.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// `--ip`: a fixed address (either family).
    pub ip: Option<String>,
    /// `--ip6`: a fixed IPv6 address.
    pub ip6: Option<String>,
}

impl Networks<'_> {
    /// `network connect [--ip IP] [--ip6 IP] NETWORK CONTAINER`: leases the container an
    /// address (of each family) on `network` and, if it runs, attaches its namespace to the
    /// network's bridge as the next free `ethN` (no default route: that stays on its first
    /// network). Nothing is left on failure.
    ///
    /// # Errors
    /// [`Error::NoSuchContainer`]; [`Error::InvalidFlag`] for an unknown network, a
    /// container already on it or not on a bridge network, or a bad or taken `--ip`; the
    /// netlink error of a failed attachment.
    pub fn connect(&self, network: &str, container: &str, opts: &ConnectOptions) -> Result<()> {
        let engine = self.engine;
        let r = engine.containers().get(container)?;
        if !matches!(r.config.network, NetworkMode::Bridge(_)) {
            return Err(bad(
                "network connect",
                &r.name,
                format!(
                    "it runs with --network {}: only a container on a bridge network joins more",
                    r.config.network.as_str()
                ),
            ));
        }
        let row = self.ensure(network)?;
        let ep = Endpoint::of(engine, &r)?;
        if ep.networks.contains(&row.name) {
            return Err(bad(
                "network connect",
                &r.name,
                format!("it is on network {} already", row.name),
            ));
        }
        let fixed = fixed_addresses(opts.ip.as_deref(), opts.ip6.as_deref())?;
        self.lease(&ep, &row, &fixed)?;
        let netns = netns_path(&engine.runroot, &ep.id);
        if matches!(r.state, State::Running | State::Paused) && netns.exists() {
            let attached = self.attach_running(&ep, &row.name, &netns);
            if let Err(e) = attached {
                let _ = engine.db.release(&ep.id, Some(&row.name));
                return Err(e);
            }
        }
        refresh_hosts(engine, &row.name)
    }

    fn attach_running(&self, ep: &Endpoint, network: &str, netns: &std::path::Path) -> Result<()> {
        let plan = self.plan(ep, network)?;
        let ns = peapod_net::open_netns(netns)?;
        let fd = std::os::fd::AsFd::as_fd(&ns);
        let names = peapod_net::in_netns(fd, peapod_net::link_names)?;
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !names.contains(n))
            .unwrap_or_else(|| "eth9".into());
        self.attach(ep, &plan, fd, ifname, false).map(drop)
    }

    /// `network disconnect NETWORK CONTAINER`: releases the container's addresses on
    /// `network` and, if it runs, deletes that veth pair. A container's first network (its
    /// `--network`, which holds its default route and published ports) stays.
    ///
    /// # Errors
    /// [`Error::NoSuchContainer`]; [`Error::InvalidFlag`] for an unknown network, one the
    /// container is not on, or its first network; the netlink error of a failed deletion
    /// (its lease is kept then).
    pub fn disconnect(&self, network: &str, container: &str) -> Result<()> {
        let engine = self.engine;
        let r = engine.containers().get(container)?;
        let row = self.lookup(network)?;
        let ep = Endpoint::of(engine, &r)?;
        match ep.networks.iter().position(|n| *n == row.name) {
            None => {
                return Err(bad(
                    "network disconnect",
                    &r.name,
                    format!("it is not on network {}", row.name),
                ));
            }
            Some(0) => {
                return Err(bad(
                    "network disconnect",
                    &r.name,
                    format!(
                        "network {} is its --network (its default route and published ports)",
                        row.name
                    ),
                ));
            }
            Some(_) => {}
        }
        if matches!(r.state, State::Running | State::Paused)
            && netns_path(&engine.runroot, &ep.id).exists()
        {
            peapod_net::detach(&host_ifname(&ep.id, false, &row.id)).map_err(Error::from)?;
        }
        engine.db.release(&ep.id, Some(&row.name))?;
        refresh_hosts(engine, &row.name)?;
        refresh_hosts_of(engine, &[ep.id])
    }
}
