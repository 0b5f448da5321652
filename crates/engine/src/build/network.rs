//! A RUN container on a bridge network (`--network bridge|NAME`): an endpoint of the engine's
//! network code ([`crate::network::Endpoint`]) with no container record, keyed by the step's
//! random id. It is leased an address, its namespace is pinned at `RUNROOT/netns/<id>` and
//! wired to the bridge (veth, address, default route), its `/etc/hosts` lists the network's
//! containers by name; on drop (the step done, failed or interrupted) the namespace is
//! unpinned (the kernel deletes the veth pair with it) and the leases are released, so a
//! build leaves no veth, pin or lease row. Its peers' hosts files do not list it (it lives
//! for one step).

use std::path::{Path, PathBuf};

use super::BuildError;
use crate::Engine;
use crate::container::NetworkMode;
use crate::network::{Endpoint, netns_path};

/// A RUN step's endpoint, torn down on drop.
pub(crate) struct RunEndpoint<'e> {
    engine: &'e Engine,
    ep: Endpoint,
}

impl<'e> RunEndpoint<'e> {
    /// Leases `id` (hex digits) an address on `network` and wires its namespace; `name` and
    /// `hostname` go into its hosts file, which is written into `dir` (the workspace, where
    /// the bundle takes `hosts` from). Its first address.
    ///
    /// # Errors
    /// An unknown network, no free address, a netlink or nftables failure; whatever was
    /// made is undone.
    pub(crate) fn attach(
        engine: &'e Engine,
        id: &str,
        name: &str,
        hostname: &str,
        network: &str,
        dir: &Path,
    ) -> Result<(Self, Option<std::net::IpAddr>), BuildError> {
        let me = Self {
            engine,
            ep: Endpoint {
                id: id.to_owned(),
                name: name.to_owned(),
                network: NetworkMode::Bridge(network.to_owned()),
                networks: vec![network.to_owned()],
                ip: None,
                ip6: None,
                aliases: Vec::new(),
                publish: Vec::new(),
                hostname: Some(hostname.to_owned()),
                add_hosts: Vec::new(),
                dir: dir.to_path_buf(),
            },
        };
        // From here on, drop undoes whatever was made.
        let networks = engine.networks();
        let ips = networks.allocate(&me.ep)?;
        networks.setup(&me.ep)?;
        Ok((me, ips.first().copied()))
    }

    /// Writes its `/etc/hosts` (into its directory, where `hosts` must already exist).
    ///
    /// # Errors
    /// The database cannot be read or the file written.
    pub(crate) fn write_hosts(&self) -> Result<(), BuildError> {
        Ok(crate::network::write_hosts(self.engine, &self.ep)?)
    }

    /// Where its network namespace is pinned (for the bundle's `linux.namespaces`).
    pub(crate) fn netns(&self) -> PathBuf {
        netns_path(&self.engine.runroot, &self.ep.id)
    }
}

impl Drop for RunEndpoint<'_> {
    fn drop(&mut self) {
        crate::network::teardown(&self.engine.runroot, &self.ep.id, &[]);
        let _ = self.engine.db.release(&self.ep.id, None);
    }
}
