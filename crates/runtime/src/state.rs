//! What the runtime keeps about a container between invocations: `<root>/<id>/state.json`,
//! written atomically (temp file, rename), and the container's status derived from the live
//! system rather than stored. No fsync: the root lives under /run, which a crash empties
//! along with the containers it describes.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Hook, LinuxNamespace, LinuxSeccomp, Process};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, proc};

/// A container's status, as `state` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Creating => "creating",
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        })
    }
}

/// The persisted record of one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    pub(crate) oci_version: String,
    pub(crate) id: String,
    /// The init process, in the runtime's pid namespace.
    pub(crate) pid: i32,
    /// Its start time (clock ticks), so a reused pid is never mistaken for it.
    pub(crate) pid_start_time: u64,
    pub(crate) bundle: PathBuf,
    pub(crate) rootfs: PathBuf,
    #[serde(default)]
    pub(crate) annotations: HashMap<String, String>,
    /// RFC 3339, UTC.
    pub(crate) created: String,
    pub(crate) cgroup_path: Option<String>,
    /// The cgroup's parent directories that `create` made, removed with it.
    #[serde(default)]
    pub(crate) cgroup_created_parents: Vec<PathBuf>,
    #[serde(default)]
    pub(crate) poststart: Vec<Hook>,
    #[serde(default)]
    pub(crate) poststop: Vec<Hook>,
    /// The config's `process` at create time: the template for `exec` (the runtime spec:
    /// changes to config.json after create have no effect, so it is never read again).
    #[serde(default)]
    pub(crate) process: Option<Process>,
    /// The config's `linux.namespaces` at create time: which namespaces `exec` joins.
    #[serde(default)]
    pub(crate) namespaces: Vec<LinuxNamespace>,
    /// The config's `linux.seccomp` at create time: the profile of `exec`'s processes.
    #[serde(default)]
    pub(crate) seccomp: Option<LinuxSeccomp>,
    /// Set while `create` runs: the runtime process making the container. A record that
    /// still names it once it is dead is what a killed `create` left: `delete` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) creator: Option<ProcessRef>,
    /// Without a mount namespace: the mount id of the bind of the rootfs onto itself that
    /// `create` made in the runtime's mount namespace (the container's mounts are under
    /// it); `delete` detaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shared_root_mount: Option<u64>,
}

/// A process, with its start time so that a reused pid is never mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessRef {
    pub(crate) pid: i32,
    pub(crate) start_time: u64,
}

impl ProcessRef {
    /// The calling process.
    pub(crate) fn me() -> Option<Self> {
        let pid = std::process::id() as i32;
        proc::stat(pid).map(|s| Self {
            pid,
            start_time: s.start_time,
        })
    }
}

/// The files of one container under the runtime root.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) dir: PathBuf,
}

impl Paths {
    pub(crate) fn new(root: &Path, id: &str) -> Self {
        Self { dir: root.join(id) }
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Makes the container's directory with `record` already in it, atomically: it is made
    /// under a private name, then renamed to the id (`RENAME_NOREPLACE`). So a directory
    /// without state.json can only be what a killed `delete` left, which is removed here.
    pub(crate) fn claim(&self, record: &Record) -> Result<()> {
        let name = self.dir.file_name().unwrap_or_default().to_string_lossy();
        // '~' is never in an id: `list` and `load` never take this for a container.
        let staging = self
            .dir
            .with_file_name(format!(".{name}~{}", std::process::id()));
        // A leftover of a killed create that had our pid.
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&staging)
            .map_err(Error::io("create container directory", &staging))?;
        let staged = Paths {
            dir: staging.clone(),
        };
        let result = record
            .save(&staged)
            .and_then(|()| self.rename_from(&staging, &record.id));
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    fn rename_from(&self, staging: &Path, id: &str) -> Result<()> {
        use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
        loop {
            match renameat2(
                AT_FDCWD,
                staging,
                AT_FDCWD,
                &self.dir,
                RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => return Ok(()),
                Err(nix::Error::EEXIST) if self.remove_leftover() => {}
                Err(nix::Error::EEXIST) => return Err(Error::Exists(id.to_owned())),
                Err(e) => {
                    return Err(Error::io("create container directory", &self.dir)(e.into()));
                }
            }
        }
    }

    /// Removes the directory if it is what an interrupted `delete` left (no state.json);
    /// whether it did.
    pub(crate) fn remove_leftover(&self) -> bool {
        !self.state().exists() && self.dir.is_dir() && std::fs::remove_dir_all(&self.dir).is_ok()
    }

    /// Removes the directory, state.json last: an interrupted removal leaves a container
    /// that loads, or a leftover that [`Paths::remove_leftover`] recognises.
    pub(crate) fn remove(&self) -> Result<()> {
        let fail = Error::io("remove container state", &self.dir);
        let entries =
            std::fs::read_dir(&self.dir).map_err(Error::io("remove container state", &self.dir))?;
        for entry in entries.flatten() {
            if entry.file_name() != "state.json" {
                let path = entry.path();
                let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(Error::io("remove container state", &path))?;
            }
        }
        match std::fs::remove_file(self.state()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
            _ => {}
        }
        std::fs::remove_dir(&self.dir).map_err(fail)
    }

    /// The fifo the init process blocks on until `start` opens it.
    pub(crate) fn exec_fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }
}

impl Record {
    pub(crate) fn load(paths: &Paths) -> Result<Self> {
        let path = paths.state();
        let bytes = std::fs::read(&path).map_err(Error::io("read container state", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Io {
            what: "parse container state",
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }

    /// Writes the record atomically: a reader sees the old record or the new, never half.
    pub(crate) fn save(&self, paths: &Paths) -> Result<()> {
        let path = paths.state();
        let tmp = paths.dir.join(".state.json.tmp");
        let bytes = serde_json::to_vec(self).map_err(|e| Error::Io {
            what: "serialize container state",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::OpenOptionsExt;
            // Root's only, like its directory: it holds the config's process (its env).
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&bytes)?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(Error::io("write container state", &path))
    }

    /// The status, from the live system: a dead init means stopped; a frozen cgroup means
    /// paused (a created container can be paused too, as with runc); a live init waiting on
    /// the exec fifo means created.
    pub(crate) fn status(&self, paths: &Paths) -> Status {
        let init_alive = self.pid > 0 && proc::is_alive(self.pid, self.pid_start_time);
        if let Some(creator) = self.creator {
            // Still being made; or made half-way by a `create` that was killed, and then
            // stopped once nothing of it is alive (what is in its cgroup, delete kills).
            if init_alive || proc::is_alive(creator.pid, creator.start_time) {
                return Status::Creating;
            }
            return Status::Stopped;
        }
        if !init_alive {
            return Status::Stopped;
        }
        let frozen = self
            .cgroup_path
            .as_deref()
            .and_then(|p| peapod_cgroup::Cgroup::open(p).ok())
            .is_some_and(|cg| cg.is_frozen().unwrap_or(false));
        if frozen {
            Status::Paused
        } else if paths.exec_fifo().exists() {
            Status::Created
        } else {
            Status::Running
        }
    }
}

/// The current time as RFC 3339 UTC with nanoseconds, as runc writes `created`.
pub(crate) fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_nanos())
}

fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates_are_right() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_900_000, 0), "2026-11-28T21:06:40.000000000Z");
    }

    #[test]
    fn a_record_round_trips_and_a_dead_pid_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            dir: dir.path().to_path_buf(),
        };
        let record = Record {
            oci_version: "1.2.0".into(),
            id: "c".into(),
            pid: i32::MAX,
            pid_start_time: 1,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            annotations: HashMap::new(),
            created: now_rfc3339(),
            cgroup_path: None,
            cgroup_created_parents: Vec::new(),
            poststart: Vec::new(),
            poststop: Vec::new(),
            process: None,
            namespaces: Vec::new(),
            seccomp: None,
            shared_root_mount: None,
            creator: None,
        };
        record.save(&paths).unwrap();
        let loaded = Record::load(&paths).unwrap();
        assert_eq!(loaded.id, "c");
        assert_eq!(loaded.status(&paths), Status::Stopped);
        assert!(!dir.path().join(".state.json.tmp").exists());
    }

    #[test]
    fn a_claimed_id_is_taken_until_removed_and_a_leftover_directory_is_not_a_container() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path(), "c");
        let mut record: Record = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "id": "c", "pid": 0, "pidStartTime": 0, "bundle": "/b",
            "rootfs": "/b/rootfs", "created": "x", "cgroupPath": null
        }))
        .unwrap();
        record.creator = ProcessRef::me();
        paths.claim(&record).unwrap();
        assert_eq!(Record::load(&paths).unwrap().creator, record.creator);
        assert_eq!(record.status(&paths), Status::Creating);
        let err = paths.claim(&record).unwrap_err().to_string();
        assert_eq!(err, "container c already exists");
        // What an interrupted delete leaves: no state.json. The id is free again.
        std::fs::write(paths.exec_fifo(), "").unwrap();
        std::fs::remove_file(paths.state()).unwrap();
        paths.claim(&record).unwrap();
        paths.remove().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
