//! What the runtime keeps about a container between invocations: `<root>/<id>/state.json`,
//! written atomically (temp file, rename), and the container's status derived from the live
//! system rather than stored. No fsync: the root lives under /run, which a crash empties
//! along with the containers it describes.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
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
        if !proc::is_alive(self.pid, self.pid_start_time) {
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
        };
        record.save(&paths).unwrap();
        let loaded = Record::load(&paths).unwrap();
        assert_eq!(loaded.id, "c");
        assert_eq!(loaded.status(&paths), Status::Stopped);
        assert!(!dir.path().join(".state.json.tmp").exists());
    }
}
