//! `rm`: a container and everything it made: runtime state, processes, cgroup, mounts,
//! directories, its row, and (with `-v`, or `--rm`) its anonymous volumes.

use std::path::Path;
use std::time::Duration;

use super::{ContainerRecord, Containers, State};
use crate::error::{Error, Result};
use crate::rootfs::ContainerRootfs;

impl Containers<'_> {
    /// `rm [-f] [-v]`: a running container needs `force` (it is killed first).
    ///
    /// # Errors
    /// [`Error::WrongState`] for a running container without `force`;
    /// [`Error::NoSuchContainer`]; I/O and database errors (the row stays until the
    /// files are gone, so a failed removal can be retried).
    pub fn remove(&self, key: &str, force: bool, volumes: bool) -> Result<ContainerRecord> {
        let record = self.get(key)?;
        record.refuse_infra()?;
        if record.state.is_live() {
            if !force {
                return Err(Error::WrongState {
                    name: record.name,
                    state: record.state.to_string(),
                    action: "remove it (stop it first, or use --force)",
                });
            }
            let paths = self.engine.paths(&record.id);
            let _ = std::fs::write(paths.stop_marker(), b"");
            let _ = self.signal(&record, "SIGKILL", true);
            if !self.wait_monitor_gone(&paths.run, Duration::from_secs(10)) {
                return Err(Error::Monitor {
                    name: record.name,
                    why: "its monitor did not exit within 10 s of SIGKILL".into(),
                });
            }
        }
        let record = self.engine.db.find_container(&record.id)?;
        let record = self.reconcile(record)?;
        if !self
            .engine
            .db
            .claim_state(&record.id, record.state, State::Removing)?
            && record.state != State::Removing
        {
            return Err(Error::NoSuchContainer(key.to_owned()));
        }
        super::pause_point("remove:claimed");
        self.purge(&record, volumes)?;
        crate::events::record(self.engine, "remove", &record);
        Ok(record)
    }

    /// Removes what is left of a container that is not running.
    pub(crate) fn purge(&self, record: &ContainerRecord, volumes: bool) -> Result<()> {
        let paths = self.engine.paths(&record.id);
        self.clear_run(record);
        ContainerRootfs::at(&paths.dir).remove()?;
        super::pause_point("remove:files");
        match std::fs::remove_dir_all(&paths.run) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", &paths.run)(e)),
        }
        let anonymous: Vec<String> = if volumes {
            self.engine
                .db
                .volumes_of(&record.id)?
                .into_iter()
                .filter(|(_, anon)| *anon)
                .map(|(n, _)| n)
                .collect()
        } else {
            Vec::new()
        };
        let networks = crate::network::networks_of(self.engine, &record.id);
        self.engine.db.delete_container(&record.id)?;
        // Its leases went with its row: the others no longer resolve it.
        crate::network::refresh_networks(self.engine, &networks);
        for name in anonymous {
            match self.engine.volumes().remove(&name) {
                Ok(()) | Err(Error::VolumeInUse { .. } | Error::NoSuchVolume(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `--rm`, from the monitor after the last exit: removes the container (and its anonymous
/// volumes) if it is still there. Errors are dropped: the next engine command reconciles.
pub(crate) fn remove_after_exit(root: &Path, runroot: &Path, id: &str) {
    let options = crate::EngineOptions {
        root: root.to_path_buf(),
        runroot: runroot.to_path_buf(),
        monitor_program: Some("/proc/self/exe".into()),
    };
    let Ok(engine) = crate::Engine::open(&options) else {
        return;
    };
    let containers = engine.containers();
    let Ok(Some(record)) = engine.db.container(id) else {
        return;
    };
    // Whatever state the row says: a fast container can end before `start` has written
    // `running`, and that write may land between our read and a claim from that state.
    if engine.db.claim_removal(id).unwrap_or(false) {
        let _ = containers.purge(&record, true);
        crate::events::record(&engine, "remove", &record);
    }
}
