//! `pod port add/rm`: changing a pod's published ports while it runs (podman cannot,
//! podman#18309). Only the firewall's rules for the pod change, in one nft transaction
//! ([`crate::network::Networks`]' `publish_ports`/`unpublish_ports` on the infra's endpoint):
//! no container, no infra and no namespace is restarted or touched. The new list is recorded
//! with the pod and its infra (so that a later start publishes it and a stop unpublishes it).

use peapod_net::PortMapping;

use super::{PodRecord, Pods};
use crate::container::{NetworkMode, State};
use crate::error::{Error, Result};
use crate::network::Endpoint;

fn bad(value: &str, why: impl std::fmt::Display) -> Error {
    Error::InvalidFlag {
        flag: "--publish",
        value: value.to_owned(),
        why: why.to_string(),
    }
}

fn mappings(specs: &[String]) -> Result<Vec<PortMapping>> {
    crate::network::port_mappings(specs)
}

impl Pods<'_> {
    /// `pod port add POD SPEC…`: publishes more ports of the pod (`-p` syntax); at once if it
    /// runs. A host port in use (by anyone) or already published by the pod is refused before
    /// anything changes.
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a bad or taken port, or a pod without a bridge network;
    /// [`Error::NoSuchPod`]; firewall errors (nothing changed).
    pub fn publish(&self, key: &str, add: &[String]) -> Result<PodRecord> {
        let pod = self.get(key)?;
        let added = mappings(add)?;
        let old_maps = mappings(&pod.config.publish)?;
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
        let mut new = pod.config.publish.clone();
        new.extend(add.iter().cloned());
        self.republish(pod, new, |ep| self.engine.networks().publish_ports(ep, add))
    }

    /// `pod port rm POD SPEC…`: stops publishing ports of the pod (each as it was added).
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for a port the pod does not publish; as [`Pods::publish`].
    pub fn unpublish(&self, key: &str, remove: &[String]) -> Result<PodRecord> {
        let pod = self.get(key)?;
        let gone = mappings(remove)?;
        let mut new = pod.config.publish.clone();
        for (spec, m) in remove.iter().zip(&gone) {
            let at = mappings(&new)?
                .iter()
                .position(|o| o == m)
                .ok_or_else(|| bad(spec, format!("pod {} does not publish it", pod.name)))?;
            new.remove(at);
        }
        self.republish(pod, new, |ep| {
            self.engine.networks().unpublish_ports(ep, remove)
        })
    }

    /// Changes the firewall with `change` on the infra's endpoint if it runs, then records
    /// `new` as the pod's ports.
    fn republish(
        &self,
        mut pod: PodRecord,
        new: Vec<String>,
        change: impl FnOnce(&Endpoint) -> Result<()>,
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
            change(&Endpoint::of(engine, &infra)?)?;
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
