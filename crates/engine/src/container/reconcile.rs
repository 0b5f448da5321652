//! Bringing a container's record in line with what is really there: its monitor's
//! `state.json` and lock. A monitor that is gone without recording an exit (killed, or a
//! reboot emptied the runroot) leaves the container `exited` with code 255 after its
//! processes, runtime state and mounts are cleared, so that it can be started again or
//! removed cleanly.

use super::{ContainerRecord, Containers, CreateOptions, State};

/// The container's `linux.cgroupsPath`: `PARENT/<id>` (parent: `--cgroup-parent`, else
/// [`super::DEFAULT_CGROUP_PARENT`]).
pub(crate) fn cgroup_path_of(opts: &CreateOptions, id: &str) -> String {
    let parent = opts
        .cgroup_parent
        .as_deref()
        .unwrap_or(super::DEFAULT_CGROUP_PARENT);
    format!("{}/{id}", parent.trim_end_matches('/'))
}

/// [`cgroup_path_of`] for a record.
pub(crate) fn cgroup_path(record: &ContainerRecord) -> String {
    cgroup_path_of(&record.config, &record.id)
}
use crate::error::Result;
use crate::monitor::{self, MonitorState};

impl Containers<'_> {
    /// The record of `key` (name, id or id prefix), reconciled.
    ///
    /// # Errors
    /// [`crate::Error::NoSuchContainer`], database errors.
    pub fn get(&self, key: &str) -> Result<ContainerRecord> {
        let record = self.engine.db.find_container(key)?;
        self.reconcile(record)
    }

    /// `record` brought in line with its monitor (and the database updated if it changed).
    pub(crate) fn reconcile(&self, mut record: ContainerRecord) -> Result<ContainerRecord> {
        let paths = self.engine.paths(&record.id);
        // A `start` killed between starting the monitor and recording it leaves a created
        // container with a live monitor: it runs.
        if record.state == State::Created && monitor::is_alive(&paths.run) {
            record.state = State::Running;
        }
        if !record.state.is_live() {
            return Ok(record);
        }
        let state = MonitorState::load(&paths.run);
        let alive = monitor::is_alive(&paths.run);
        let before = (
            record.state,
            record.pid,
            record.restart_count,
            record.exit_code,
        );
        match (alive, state) {
            (true, Some(s)) => {
                record.pid = s.pid;
                record.monitor_pid = s.monitor_pid;
                record.restart_count = s.restart_count;
                record.started = s.started.or(record.started);
                if s.status == "restarting" {
                    record.state = State::Restarting;
                    record.exit_code = s.exit_code;
                    record.finished = s.finished;
                } else if s.status == "exited" {
                    // Finishing up (--rm, unmount): as good as exited.
                    record.state = State::Exited;
                    record.exit_code = s.exit_code;
                    record.finished = s.finished;
                    record.pid = 0;
                } else if record.state != State::Paused {
                    record.state = State::Running;
                }
            }
            (true, None) => {}
            (false, s) => {
                match s.filter(|s| s.status == "exited") {
                    Some(s) => {
                        record.exit_code = s.exit_code;
                        record.finished = s.finished;
                        record.restart_count = s.restart_count;
                        record.oom_killed = s.oom_killed;
                    }
                    None => {
                        // Lost: clear whatever is left of the run. Not a pod's infra's
                        // network: members may still be in it, and the pod's lifecycle
                        // clears it (a new infra joins it, `pod stop`/`rm` remove it).
                        if record.config.infra {
                            self.clear_runtime(&record);
                        } else {
                            self.clear_run(&record);
                        }
                        record.exit_code = Some(255);
                        record.finished = Some(super::now_ns());
                    }
                }
                record.state = State::Exited;
                record.pid = 0;
                record.monitor_pid = 0;
                let _ = crate::rootfs::ContainerRootfs::at(&paths.dir).unmount();
            }
        }
        if before
            != (
                record.state,
                record.pid,
                record.restart_count,
                record.exit_code,
            )
        {
            self.engine.db.update_state(&record)?;
        }
        Ok(record)
    }

    /// Kills and deletes the runtime's container of a run whose monitor is gone, and unpins
    /// its network namespace.
    pub(crate) fn clear_run(&self, record: &ContainerRecord) {
        self.clear_runtime(record);
        crate::network::teardown(&self.engine.runroot, &record.id, &record.config.publish);
    }

    fn clear_runtime(&self, record: &ContainerRecord) {
        let runtime = record
            .config
            .runtime
            .as_deref()
            .map(super::lifecycle::runtime_path);
        crate::monitor::start::delete_runtime(
            runtime.as_deref(),
            &self.runtime_root(record),
            &record.id,
        );
    }
}
