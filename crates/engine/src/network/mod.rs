//! Networks: bridges with a subnet, addresses leased from the database, and each container's
//! network namespace wired to its bridge through `peapod-net` (a veth pair, an address, the
//! default route, masquerade). The default network `peapod` (bridge `peapod0`,
//! 10.90.0.0/16; `bridge` is its alias) is made on first use.
//!
//! Everything acts in the calling process's network namespace (the host's, or a test's fake
//! host): the bridge and the nftables rules live there. What is wired is an endpoint:
//! whatever holds a network namespace (a container, or a pod's infra process), keyed by its
//! id. Its namespace is pinned at `RUNROOT/netns/<id>` from its start to its last exit; the
//! runtime joins it by path.
//!
//! Files: `mod.rs` the network verbs, `endpoint.rs` leases, set-up, teardown and published
//! ports of an endpoint, `etc.rs` the checks before create and the hosts/resolv files.

mod endpoint;
mod etc;

use std::net::IpAddr;

use serde::Serialize;

use crate::Engine;
use crate::container::now_ns;
use crate::db::NetworkRow;
use crate::error::{Error, Result};

pub(crate) use endpoint::{Endpoint, netns_path, teardown};
pub(crate) use etc::{bad, port_mappings, refresh_hosts, resolv_conf, validate};

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
