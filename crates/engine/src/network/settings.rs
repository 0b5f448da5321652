//! What inspect and `peapod port` show of a container's network: its addresses on each
//! network (both families of a dual-stack one) and its published ports.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::{port_mappings, subnet_for, subnets_of};
use crate::container::{ContainerRecord, Containers};
use crate::error::Result;

/// One published port, as `peapod port` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortReport {
    /// The container's port.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub proto: &'static str,
    /// The host address it is published on (`0.0.0.0` for all of them).
    pub host_ip: IpAddr,
    /// The host port.
    pub host_port: u16,
}

impl Containers<'_> {
    /// The published ports of a container (`-p` and `-P`), one per port of a range, by
    /// container port.
    ///
    /// # Errors
    /// [`crate::Error::NoSuchContainer`]; [`crate::Error::InvalidFlag`] for a recorded spec
    /// that no longer parses.
    pub fn ports(&self, key: &str) -> Result<Vec<PortReport>> {
        let r = self.get(key)?;
        published(&r)
    }

    /// inspect's `NetworkSettings`: the first network's addresses at the top, every
    /// network's below, and the published ports.
    pub(crate) fn network_settings(&self, r: &ContainerRecord) -> Result<Value> {
        let db = &self.engine.db;
        let primary = super::Endpoint::of(self.engine, r)?
            .networks
            .into_iter()
            .next();
        let mut networks = serde_json::Map::new();
        let mut top = json!({
            "IPAddress": "", "IPPrefixLen": 0, "Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPv6Gateway": "",
        });
        for (name, ip) in db.leases_of(&r.id)? {
            let Some(row) = db.network(&name)? else {
                continue;
            };
            let subnets = subnets_of(&row)?;
            let first = primary.as_ref() == Some(&name);
            let entry = networks.entry(name.clone()).or_insert_with(|| {
                json!({
                    "NetworkID": row.id, "Aliases": r.config.aliases,
                    "IPAddress": "", "IPPrefixLen": 0, "Gateway": "",
                    "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPv6Gateway": "",
                })
            });
            let Some(subnet) = subnet_for(&subnets, ip) else {
                continue;
            };
            let (a, p, g) = match ip {
                IpAddr::V4(_) => ("IPAddress", "IPPrefixLen", "Gateway"),
                IpAddr::V6(_) => ("GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPv6Gateway"),
            };
            for target in [Some(&mut *entry), first.then_some(&mut top)]
                .into_iter()
                .flatten()
            {
                target[a] = json!(ip.to_string());
                target[p] = json!(subnet.net().prefix_len());
                target[g] = json!(subnet.gateway().to_string());
            }
        }
        let mut ports = serde_json::Map::new();
        for p in published(r)? {
            let key = format!("{}/{}", p.container_port, p.proto);
            let list = ports.entry(key).or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(
                    json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}),
                );
            }
        }
        top["Networks"] = Value::Object(networks);
        top["Ports"] = Value::Object(ports);
        Ok(top)
    }
}

/// A container's published ports, one per port of a range, by container port.
fn published(r: &ContainerRecord) -> Result<Vec<PortReport>> {
    let mut out = Vec::new();
    for m in port_mappings(&r.config.publish)? {
        for (host, inner) in m.pairs() {
            out.push(PortReport {
                container_port: inner,
                proto: m.proto.as_str(),
                host_ip: m.host_ip.unwrap_or(IpAddr::from([0, 0, 0, 0])),
                host_port: host,
            });
        }
    }
    out.sort_by_key(|p| (p.container_port, p.proto, p.host_port));
    Ok(out)
}
