//! `pod ls`, `pod inspect`: a pod's report (podman's field names), its state as a whole.

use serde::Serialize;

use super::{PodRecord, PodState, Pods};
use crate::container::{ContainerRecord, State};
use crate::error::Result;

/// One container of a pod, as `pod inspect` lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodMember {
    /// 64 hex digits.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state (`running`, `exited`…).
    pub state: String,
    /// Whether it is the infra container.
    #[serde(skip)]
    pub infra: bool,
}

/// A pod, as `pod inspect` and `pod ls --format json` print it (podman's names).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodReport {
    /// 64 hex digits.
    pub id: String,
    /// Its name.
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// `Created`, `Running`, `Degraded`, `Paused` or `Exited`.
    pub state: PodState,
    /// Its members' hostname.
    pub hostname: String,
    /// Its labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The infra container's id (empty without one).
    #[serde(rename = "InfraContainerID")]
    pub infra_container_id: String,
    /// The infra process's pid while it runs, else 0.
    pub infra_pid: i32,
    /// The shared namespaces (`net`, `ipc`, `uts`, `pid`).
    pub shared_namespaces: Vec<String>,
    /// The pod's cgroup.
    pub cgroup_path: String,
    /// Its network (`none`, `host`, a network's name).
    pub network: String,
    /// Its address on its network, if it has one.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Its published ports (`-p` as given).
    pub ports: Vec<String>,
    /// Its containers, the infra first.
    pub containers: Vec<PodMember>,
    /// How many containers it has (the infra included).
    pub num_containers: usize,
}

/// The state of a pod from its infra's and members' states.
pub(crate) fn pod_state(infra: Option<&ContainerRecord>, members: &[&ContainerRecord]) -> PodState {
    let infra_live = infra.is_some_and(|i| i.state.is_live());
    let infra_ran = infra.is_some_and(|i| i.state != State::Created);
    let live = members.iter().filter(|m| m.state.is_live()).count();
    let paused = members.iter().filter(|m| m.state == State::Paused).count();
    let created = members.iter().filter(|m| m.state == State::Created).count();
    let infra_ok = infra.is_none() || infra_live;
    if !members.is_empty() && paused == members.len() {
        PodState::Paused
    } else if live == members.len() && infra_ok && (live > 0 || infra_live) {
        PodState::Running
    } else if live == 0 && !infra_live {
        if created == members.len() && !infra_ran {
            PodState::Created
        } else {
            PodState::Exited
        }
    } else {
        PodState::Degraded
    }
}

impl Pods<'_> {
    /// The pod's state as a whole.
    ///
    /// # Errors
    /// Database errors.
    pub fn state(&self, pod: &PodRecord) -> Result<PodState> {
        Ok(self.report(pod)?.state)
    }

    /// `pod inspect`.
    ///
    /// # Errors
    /// [`crate::Error::NoSuchPod`], database errors.
    pub fn inspect(&self, key: &str) -> Result<PodReport> {
        let pod = self.get(key)?;
        self.report(&pod)
    }

    /// `pod ls`: every pod, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn list(&self) -> Result<Vec<PodReport>> {
        self.engine
            .db
            .pods()?
            .into_iter()
            .map(|row| super::decode(row).and_then(|pod| self.report(&pod)))
            .collect()
    }

    fn report(&self, pod: &PodRecord) -> Result<PodReport> {
        let members = self.members(pod)?;
        let infra = members.iter().find(|m| m.config.infra);
        let others: Vec<&ContainerRecord> = members.iter().filter(|m| !m.config.infra).collect();
        let ip = match infra {
            Some(i) => self
                .engine
                .db
                .leases_of(&i.id)?
                .first()
                .map(|(_, ip)| ip.to_string())
                .unwrap_or_default(),
            None => String::new(),
        };
        let mut containers: Vec<PodMember> = infra
            .into_iter()
            .chain(others.iter().copied())
            .map(|m| PodMember {
                id: m.id.clone(),
                name: m.name.clone(),
                state: m.state.to_string(),
                infra: m.config.infra,
            })
            .collect();
        containers.shrink_to_fit();
        Ok(PodReport {
            id: pod.id.clone(),
            name: pod.name.clone(),
            created: crate::time::rfc3339(pod.created),
            state: pod_state(infra, &others),
            hostname: pod.hostname().to_owned(),
            labels: pod.config.labels.clone(),
            infra_container_id: pod.infra_id.clone().unwrap_or_default(),
            infra_pid: infra.filter(|i| i.state.is_live()).map_or(0, |i| i.pid),
            shared_namespaces: pod
                .config
                .share
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            cgroup_path: pod.cgroup_path(),
            network: pod.config.network.as_str().to_owned(),
            ip_address: ip,
            ports: pod.config.publish.clone(),
            num_containers: containers.len(),
            containers,
        })
    }
}

impl Pods<'_> {
    /// `pod stats`: the pod's cgroup as a whole (named after the pod: its limits are the
    /// pod-wide ones), then each running member, sampled `interval` apart.
    ///
    /// # Errors
    /// [`crate::Error::NoSuchPod`], [`crate::Error::PodWrongState`] when the pod's cgroup is
    /// not there (nothing of it runs), and the members' stats errors.
    pub fn stats(
        &self,
        key: &str,
        interval: std::time::Duration,
    ) -> Result<Vec<crate::stats::StatsReport>, crate::container::ObserveError> {
        let pod = self.get(key)?;
        let members = self.members(&pod)?;
        let infra_pid = members
            .iter()
            .find(|m| m.config.infra && m.state.is_live())
            .map(|m| m.pid);
        let sampler = crate::stats::Sampler::open(&pod.cgroup_path(), infra_pid)
            .ok()
            .filter(|_| infra_pid.is_some() || members.iter().any(|m| m.state.is_live()));
        let failed = |error| crate::container::ObserveError::Stats {
            name: format!("pod {}", pod.name),
            error,
        };
        let Some(sampler) = sampler else {
            let state = self.state(&pod)?.to_string();
            return Err(crate::Error::PodWrongState {
                name: pod.name,
                state,
                action: "show its stats (nothing of it runs)",
            }
            .into());
        };
        let first = sampler.sample().map_err(failed)?;
        let running: Vec<String> = members
            .iter()
            .filter(|m| !m.config.infra && m.state == State::Running)
            .map(|m| m.id.clone())
            .collect();
        let mut reports = self.engine.containers().stats(&running, interval)?;
        let cur = sampler.sample().map_err(failed)?;
        reports.insert(
            0,
            crate::stats::StatsReport::new(&pod.id, &pod.name, &first, &cur),
        );
        Ok(reports)
    }
}
