//! `pod port add/rm`: changing a pod's published ports while it runs (podman cannot,
//! podman#18309). Only the firewall's rules for the pod change: no container, no infra and no
//! namespace is restarted or touched. The new list is recorded with the pod and its infra (so
//! that a later start publishes it and a stop unpublishes it).

use std::net::IpAddr;

use peapod_net::{ContainerPorts, Firewall, Nftables, PortMapping};

use super::{PodRecord, Pods};
use crate::container::{NetworkMode, State};
use crate::error::{Error, Result};

fn bad(value: &str, why: impl std::fmt::Display) -> Error {
    Error::InvalidFlag {
        flag: "--publish",
        value: value.to_owned(),
        why: why.to_string(),
    }
}

fn mappings(specs: &[String]) -> Result<Vec<PortMapping>> {
    specs
        .iter()
        .map(|p| p.parse::<PortMapping>().map_err(|e| bad(p, e)))
        .collect()
}

impl Pods<'_> {
    /// `pod port add POD SPEC…`: publishes more ports of the pod (`-p` syntax); at once if it
    /// runs. A host port in use (by anyone) or already published by the pod is refused before
    /// anything changes.
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a bad or taken port, or a pod without a bridge network;
    /// [`Error::NoSuchPod`]; firewall errors (the old ports are then published again).
    pub fn publish(&self, key: &str, add: &[String]) -> Result<PodRecord> {
        let pod = self.get(key)?;
        let added = mappings(add)?;
        let old = pod.config.publish.clone();
        let old_maps = mappings(&old)?;
        for (spec, m) in add.iter().zip(&added) {
            let clash = old_maps.iter().any(|o| {
                o.proto == m.proto && o.pairs().any(|(h, _)| m.pairs().any(|(nh, _)| nh == h))
            });
            if clash {
                return Err(bad(
                    spec,
                    format!("pod {} publishes that host port already", pod.name),
                ));
            }
        }
        let mut new = old.clone();
        new.extend(add.iter().cloned());
        self.republish(pod, &old, new, &added)
    }

    /// `pod port rm POD SPEC…`: stops publishing ports of the pod (each as it was added).
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a port the pod does not publish; as [`Pods::publish`].
    pub fn unpublish(&self, key: &str, remove: &[String]) -> Result<PodRecord> {
        let pod = self.get(key)?;
        let old = pod.config.publish.clone();
        let gone = mappings(remove)?;
        let mut new = old.clone();
        for (spec, m) in remove.iter().zip(&gone) {
            let at = mappings(&new)?
                .iter()
                .position(|o| o == m)
                .ok_or_else(|| bad(spec, format!("pod {} does not publish it", pod.name)))?;
            new.remove(at);
        }
        self.republish(pod, &old, new, &[])
    }

    /// Records `new` as the pod's ports and, if its infra runs, swaps the firewall's rules
    /// from `old` to `new` (checking `added` first).
    fn republish(
        &self,
        mut pod: PodRecord,
        old: &[String],
        new: Vec<String>,
        added: &[PortMapping],
    ) -> Result<PodRecord> {
        let engine = self.engine;
        let Some(infra_id) = pod.infra_id.clone() else {
            return Err(bad(
                &new.join(" "),
                "a pod without an infra container has no ports",
            ));
        };
        if !matches!(pod.config.network, NetworkMode::Bridge(_)) {
            return Err(bad(
                &new.join(" "),
                "publishing a port needs a bridge network (pod create --network bridge)",
            ));
        }
        let mut infra = engine.containers().get(&infra_id)?;
        if infra.state == State::Running {
            let fw = Nftables::default();
            if !added.is_empty() {
                fw.check_ports(added)?;
            }
            let ip = engine
                .containers()
                .addresses(&infra_id)?
                .first()
                .map(|(_, ip)| *ip);
            let ports = |specs: &[String]| -> Result<ContainerPorts> {
                Ok(ContainerPorts {
                    id: infra_id.clone(),
                    ipv4: match ip {
                        Some(IpAddr::V4(v4)) => Some(v4),
                        _ => None,
                    },
                    ipv6: match ip {
                        Some(IpAddr::V6(v6)) => Some(v6),
                        _ => None,
                    },
                    ports: mappings(specs)?,
                })
            };
            let before = ports(old)?;
            let after = ports(&new)?;
            fw.unpublish(&before)?;
            if let Err(e) = fw.publish(&after) {
                let _ = fw.publish(&before);
                return Err(e.into());
            }
        }
        pod.config.publish = new.clone();
        infra.config.publish = new;
        let stored = serde_json::to_string(&pod.config).map_err(Error::json("a pod's options"))?;
        engine.db.set_pod_config(&pod.id, &stored)?;
        let stored =
            serde_json::to_string(&infra.config).map_err(Error::json("a container's options"))?;
        engine.db.set_config(&infra.id, &stored)?;
        Ok(pod)
    }
}
