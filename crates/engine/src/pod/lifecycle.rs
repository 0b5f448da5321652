//! The pod as one unit: `pod start/stop/restart/kill/pause/unpause/rm/prune`, and the infra's
//! start (made on demand by the first member's start) and teardown.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::infra::{self, InfraConfig};
use super::{PodRecord, PodState, Pods};
use crate::container::{ContainerRecord, NetworkMode, State, now_ns};
use crate::error::{Error, Result};

/// What a pod verb did to each member: (container name, error if it failed).
pub type MemberResults = Vec<(String, Option<String>)>;

impl Pods<'_> {
    /// Starts the pod's infra if it is not running (and makes the pod's cgroup), under the
    /// pod's lock so that two members started at once start one infra.
    ///
    /// # Errors
    /// [`Error::Monitor`] when the infra cannot start (its message), network, cgroup and I/O
    /// errors; nothing of the attempt is left on failure.
    pub(crate) fn ensure_infra(&self, pod: &PodRecord) -> Result<()> {
        let engine = self.engine;
        let dir = engine.runroot.join("pods").join(&pod.id);
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let lock_path = dir.join("lock");
        let file = std::fs::File::create(&lock_path).map_err(Error::io("create", &lock_path))?;
        let _lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys(format!("lock {}", lock_path.display()))(e))?;
        let Some(infra_id) = &pod.infra_id else {
            return self.make_cgroup(pod);
        };
        let infra = engine.containers().get(infra_id)?;
        if infra.state == State::Running {
            return Ok(());
        }
        // An infra that died while members run: their namespaces are still pinned and held,
        // so a new infra joins them (a fresh one would split the pod: new members in new
        // namespaces, and a second veth for the same endpoint).
        let rejoin = self.held_by_members(pod, &infra)?;
        if !rejoin {
            self.clear_infra(pod, &infra);
        }
        self.make_cgroup(pod)?;
        match self.start_infra(pod, &infra, rejoin) {
            Ok(pid) => {
                let mut infra = infra;
                infra.state = State::Running;
                infra.pid = pid;
                infra.monitor_pid = pid;
                infra.started = Some(now_ns());
                infra.exit_code = None;
                engine.db.update_state(&infra)?;
                crate::events::record(engine, "start", &infra);
                Ok(())
            }
            Err(e) if rejoin => {
                if let Ok(cg) = peapod_cgroup::Cgroup::open(&format!("{}/infra", pod.cgroup_path()))
                {
                    let _ = cg.remove();
                }
                Err(e)
            }
            Err(e) => {
                self.clear_infra(pod, &infra);
                self.remove_cgroups(pod);
                Err(e)
            }
        }
    }

    /// Whether the pod's namespaces outlive its (not running) infra: a member still runs in
    /// them and each is still pinned. Never with a shared PID namespace: its members die with
    /// their PID 1, the infra.
    fn held_by_members(&self, pod: &PodRecord, infra: &ContainerRecord) -> Result<bool> {
        let share = &pod.config.share;
        if share.pid {
            return Ok(false);
        }
        let pins = super::ns_dir(&self.engine.runroot, &pod.id);
        let mut pinned: Vec<std::path::PathBuf> = infra::PINNED
            .iter()
            .filter(|k| infra::is_shared(share, **k))
            .map(|k| pins.join(k.proc_name()))
            .collect();
        if share.net && infra.config.network != NetworkMode::Host {
            pinned.push(crate::network::netns_path(&self.engine.runroot, &infra.id));
        }
        if !pinned.iter().all(|p| peapod_ns::is_pinned(p)) {
            return Ok(false);
        }
        Ok(self
            .members(pod)?
            .iter()
            .any(|m| m.id != infra.id && m.state == State::Running))
    }

    /// The pod's cgroup, with its pod-wide limits.
    fn make_cgroup(&self, pod: &PodRecord) -> Result<()> {
        let cg = peapod_cgroup::Cgroup::create(&pod.cgroup_path()).map_err(|e| cgroup(pod, e))?;
        let r = &pod.config.resources;
        let mut res = serde_json::json!({});
        if let Some(limit) = r.memory {
            res["memory"] = serde_json::json!({"limit": limit, "swap": r.memory_swap.unwrap_or(limit.saturating_mul(2))});
        }
        if let Some(nano) = r.nano_cpus {
            res["cpu"] =
                serde_json::json!({"period": 100_000, "quota": nano * 100_000 / 1_000_000_000});
        }
        if let Some(pids) = r.pids_limit {
            res["pids"] = serde_json::json!({"limit": if pids <= 0 { -1 } else { pids }});
        }
        let resources: peapod_cgroup::oci_spec::runtime::LinuxResources =
            serde_json::from_value(res).map_err(Error::json("the pod's resources"))?;
        if let Err(e) = cg.apply(&resources) {
            let _ = cg.remove();
            return Err(cgroup(pod, e));
        }
        Ok(())
    }

    /// Network namespace (and veth, address, ports), then the infra process.
    /// With `rejoin`, the network namespace and the pins are there already (see
    /// [`Self::held_by_members`]) and are joined, not made.
    fn start_infra(&self, pod: &PodRecord, infra: &ContainerRecord, rejoin: bool) -> Result<i32> {
        let engine = self.engine;
        let paths = engine.paths(&infra.id);
        let _ = std::fs::remove_dir_all(&paths.run);
        std::fs::create_dir_all(&paths.run).map_err(Error::io("create", &paths.run))?;
        let netns_path = crate::network::netns_path(&engine.runroot, &infra.id);
        let netns = match &infra.config.network {
            NetworkMode::Host => None,
            _ if !pod.config.share.net => None,
            _ if rejoin => Some(netns_path),
            NetworkMode::Bridge(_) => {
                engine.containers().setup_network(infra)?;
                Some(netns_path)
            }
            _ => {
                if let Some(parent) = netns_path.parent() {
                    std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
                }
                drop(peapod_net::create_netns(&netns_path)?);
                Some(netns_path)
            }
        };
        let cfg = InfraConfig {
            pod: pod.name.clone(),
            netns,
            share: pod.config.share,
            hostname: pod.hostname().to_owned(),
            cgroup: format!("{}/infra", pod.cgroup_path()),
            pins: super::ns_dir(&engine.runroot, &pod.id),
            rejoin,
        };
        let path = paths.run.join("infra.json");
        let bytes = serde_json::to_vec(&cfg).map_err(Error::json("infra.json"))?;
        std::fs::write(&path, bytes).map_err(Error::io("write", &path))?;
        infra::spawn(&engine.monitor_program, &paths.run, &pod.name)
    }

    /// Undoes an infra's run, best effort: its network (unpublished, namespace unpinned), the
    /// pinned namespaces, its cgroup. For an infra that is not running.
    fn clear_infra(&self, pod: &PodRecord, infra: &ContainerRecord) {
        let engine = self.engine;
        crate::network::teardown(&engine.runroot, &infra.id, &infra.config.publish);
        let pins = super::ns_dir(&engine.runroot, &pod.id);
        for kind in infra::PINNED {
            let _ = peapod_ns::unpin(&pins.join(kind.proc_name()));
        }
        let _ = std::fs::remove_dir(&pins);
        if let Ok(cg) = peapod_cgroup::Cgroup::open(&format!("{}/infra", pod.cgroup_path())) {
            let _ = cg.remove();
        }
    }

    /// Removes the pod's cgroups (when nothing runs in them any more).
    fn remove_cgroups(&self, pod: &PodRecord) {
        for path in [format!("{}/infra", pod.cgroup_path()), pod.cgroup_path()] {
            if let Ok(cg) = peapod_cgroup::Cgroup::open(&path) {
                let _ = cg.remove();
            }
        }
    }

    /// Stops the infra: SIGTERM through its pidfd, SIGKILL after `timeout`, then clears its
    /// run.
    fn stop_infra(&self, pod: &PodRecord, timeout: Duration) -> Result<()> {
        let Some(infra_id) = &pod.infra_id else {
            self.remove_cgroups(pod);
            return Ok(());
        };
        let engine = self.engine;
        let run = engine.paths(infra_id).run;
        if infra::signal(&run, Signal::SIGTERM)? && !infra::wait_gone(&run, timeout) {
            infra::signal(&run, Signal::SIGKILL)?;
            if !infra::wait_gone(&run, Duration::from_secs(10)) {
                return Err(Error::Monitor {
                    name: format!("pod {}", pod.name),
                    why: "its infra process did not exit within 10 s of SIGKILL".into(),
                });
            }
        }
        let infra = engine.containers().get(infra_id)?;
        self.clear_infra(pod, &infra);
        self.remove_cgroups(pod);
        Ok(())
    }

    /// `pod start`: the infra, then every member not running, in creation order.
    ///
    /// # Errors
    /// [`Error::NoSuchPod`], the infra's start errors; a member's failure is in the results.
    pub fn start(&self, key: &str) -> Result<(PodRecord, MemberResults)> {
        let pod = self.get(key)?;
        self.ensure_infra(&pod)?;
        let mut results = Vec::new();
        for member in self.members(&pod)? {
            if member.config.infra || member.state.is_live() {
                continue;
            }
            let outcome = self.engine.containers().start(&member.id, false);
            results.push((member.name, outcome.err().map(|e| e.to_string())));
        }
        crate::events::append(&self.engine.runroot, "pod start", &pod.id, &pod.name, "");
        Ok((pod, results))
    }

    /// `pod stop [-t]`: every member (its stop signal, SIGKILL after the timeout), then the
    /// infra; the pod's network and pins are undone.
    ///
    /// # Errors
    /// [`Error::NoSuchPod`], the infra's stop errors; a member's failure is in the results.
    pub fn stop(&self, key: &str, timeout: Option<u32>) -> Result<(PodRecord, MemberResults)> {
        let pod = self.get(key)?;
        let mut results = Vec::new();
        for member in self.members(&pod)? {
            if member.config.infra || !member.state.is_live() {
                continue;
            }
            let outcome = self.engine.containers().stop(&member.id, timeout);
            results.push((member.name, outcome.err().map(|e| e.to_string())));
        }
        let secs = u64::from(timeout.unwrap_or(10));
        self.stop_infra(&pod, Duration::from_secs(secs))?;
        crate::events::append(&self.engine.runroot, "pod stop", &pod.id, &pod.name, "");
        Ok((pod, results))
    }

    /// `pod restart`: stop, then start.
    ///
    /// # Errors
    /// As [`Pods::stop`] and [`Pods::start`].
    pub fn restart(&self, key: &str, timeout: Option<u32>) -> Result<(PodRecord, MemberResults)> {
        let (_, mut stopped) = self.stop(key, timeout)?;
        let (pod, started) = self.start(key)?;
        stopped.retain(|(_, e)| e.is_some());
        stopped.extend(started);
        Ok((pod, stopped))
    }

    /// `pod kill [-s]`: the signal to every running member and to the infra.
    ///
    /// # Errors
    /// [`Error::NoSuchPod`], [`Error::PodWrongState`] when nothing of it runs.
    pub fn kill(&self, key: &str, signal: &str) -> Result<(PodRecord, MemberResults)> {
        let pod = self.get(key)?;
        let sig = peapod_runtime::parse_signal(signal)?;
        let mut results = Vec::new();
        for member in self.members(&pod)? {
            if member.config.infra || !member.state.is_live() {
                continue;
            }
            let outcome = self.engine.containers().kill(&member.id, signal);
            results.push((member.name, outcome.err().map(|e| e.to_string())));
        }
        let infra_hit = match &pod.infra_id {
            Some(id) => infra::signal(&self.engine.paths(id).run, sig)?,
            None => false,
        };
        if results.is_empty() && !infra_hit {
            let state = self.state(&pod)?.to_string();
            return Err(Error::PodWrongState {
                name: pod.name,
                state,
                action: "kill it (nothing of it runs)",
            });
        }
        Ok((pod, results))
    }

    /// `pod pause` / `pod unpause`: every running (paused) member.
    ///
    /// # Errors
    /// [`Error::NoSuchPod`].
    pub fn pause(&self, key: &str, paused: bool) -> Result<(PodRecord, MemberResults)> {
        let pod = self.get(key)?;
        let wanted = if paused {
            State::Running
        } else {
            State::Paused
        };
        let mut results = Vec::new();
        for member in self.members(&pod)? {
            if member.config.infra || member.state != wanted {
                continue;
            }
            let outcome = self.engine.containers().pause(&member.id, paused);
            results.push((member.name, outcome.err().map(|e| e.to_string())));
        }
        Ok((pod, results))
    }

    /// `pod rm [-f]`: the pod, its members (killed first with `force`) and its infra.
    ///
    /// # Errors
    /// [`Error::PodWrongState`] when something of it runs and `force` is not given;
    /// [`Error::NoSuchPod`]; a member's removal error (the pod stays, to be removed again).
    pub fn remove(&self, key: &str, force: bool) -> Result<PodRecord> {
        let pod = self.get(key)?;
        let state = self.state(&pod)?;
        let members = self.members(&pod)?;
        let running = members.iter().any(|m| !m.config.infra && m.state.is_live());
        if running && !force {
            return Err(Error::PodWrongState {
                name: pod.name,
                state: state.to_string(),
                action: "remove it (stop it first, or use --force)",
            });
        }
        for member in members.iter().filter(|m| !m.config.infra) {
            match self.engine.containers().remove(&member.id, true, false) {
                Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.stop_infra(&pod, Duration::ZERO)?;
        if let Some(id) = &pod.infra_id {
            let infra = self.engine.containers().get(id)?;
            self.engine.containers().purge(&infra, false)?;
        }
        let dir = self.engine.runroot.join("pods").join(&pod.id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", &dir)(e)),
        }
        self.engine.db.delete_pod(&pod.id)?;
        crate::events::append(&self.engine.runroot, "pod remove", &pod.id, &pod.name, "");
        Ok(pod)
    }

    /// `pod prune`: removes every pod of which nothing runs; their names.
    ///
    /// # Errors
    /// Database errors; a pod that cannot be removed is skipped.
    pub fn prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for row in self.engine.db.pods()? {
            let pod = super::decode(row)?;
            if matches!(self.state(&pod)?, PodState::Exited | PodState::Created)
                && self.remove(&pod.id, false).is_ok()
            {
                removed.push(pod.name);
            }
        }
        Ok(removed)
    }

    /// The pod's containers (its infra included), reconciled, oldest first.
    pub(crate) fn members(&self, pod: &PodRecord) -> Result<Vec<ContainerRecord>> {
        let containers = self.engine.containers();
        self.engine
            .db
            .pod_members(&pod.id)?
            .into_iter()
            .map(|r| containers.reconcile(r))
            .collect()
    }
}

fn cgroup(pod: &PodRecord, e: peapod_cgroup::Error) -> Error {
    Error::Monitor {
        name: format!("pod {}", pod.name),
        why: format!("its cgroup {}: {e}", pod.cgroup_path()),
    }
}
