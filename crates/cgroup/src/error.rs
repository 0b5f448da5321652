//! The crate's error type. Every message names the cgroup, file or setting involved and the
//! cause, e.g. `linux.resources.pids.limit: cannot write 100 to
//! /sys/fs/cgroup/pids/peapod/x/pids.max: invalid argument`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cgroup path (OCI `linux.cgroupsPath`) cannot be used.
    #[error("invalid cgroup path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// The host's cgroup mounts could not be worked out.
    #[error("cannot detect the cgroup layout from {}: {reason}", file.display())]
    Layout {
        /// `/proc/self/mountinfo` or `/proc/self/cgroup`.
        file: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// `open` found the cgroup in no hierarchy.
    #[error("cgroup {path:?} does not exist (looked for {})", dir.display())]
    NotFound {
        /// The cgroup path as given.
        path: String,
        /// One of the directories looked for.
        dir: PathBuf,
    },
    /// Reading a cgroup (or procfs) file failed.
    #[error("cannot read {}: {}", path.display(), Cause(err))]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        err: io::Error,
    },
    /// Writing a cgroup file failed.
    #[error("{}cannot write {value} to {}: {}{hint}", Setting(setting), path.display(), Cause(err))]
    Write {
        /// The OCI setting being applied, if any (`linux.resources.memory.limit`).
        setting: Option<String>,
        /// The file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The cause.
        err: io::Error,
        /// More explanation, empty or starting with a space (`(the cgroup does not exist)`).
        hint: String,
    },
    /// Creating a cgroup directory failed.
    #[error("cannot create cgroup directory {}: {}", path.display(), Cause(err))]
    Create {
        /// The directory.
        path: PathBuf,
        /// The cause.
        err: io::Error,
    },
    /// Removing a cgroup directory failed.
    #[error("cannot remove cgroup directory {}: {}", path.display(), Cause(err))]
    Remove {
        /// The directory.
        path: PathBuf,
        /// The cause.
        err: io::Error,
    },
    /// `remove` found live processes in the cgroup.
    #[error("cannot remove cgroup {}: processes remain in it: {pids:?}", path.display())]
    Busy {
        /// A directory of the cgroup.
        path: PathBuf,
        /// The processes found.
        pids: Vec<i32>,
    },
    /// A cgroup file held something this crate could not parse.
    #[error("cannot parse {}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// An OCI resource setting has a value that can never be applied.
    #[error("{setting}: invalid value {value}: {reason}")]
    InvalidValue {
        /// The OCI setting (`linux.resources.cpu.period`).
        setting: String,
        /// The value found.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An OCI resource setting cannot be applied on this host.
    #[error("{setting} is not supported: {reason}")]
    Unsupported {
        /// The OCI setting, or the operation.
        setting: String,
        /// Why.
        reason: String,
    },
    /// Signalling a member of the cgroup failed.
    #[error("cannot send {signal} to process {pid} of cgroup {}: {}", path.display(), err.desc().to_lowercase())]
    Signal {
        /// A directory of the cgroup.
        path: PathBuf,
        /// The process.
        pid: i32,
        /// The signal.
        signal: Signal,
        /// The cause.
        err: Errno,
    },
    /// The freezer did not reach the wanted state in time.
    #[error("{} did not become {wanted} within {millis} ms (last seen: {last})", path.display())]
    Timeout {
        /// The freezer file (`freezer.state`, `cgroup.events`).
        path: PathBuf,
        /// The state wanted.
        wanted: &'static str,
        /// The last state read.
        last: String,
        /// How long we waited.
        millis: u64,
    },
    /// Loading or attaching the cgroup v2 eBPF device filter failed.
    #[error("linux.resources.devices: cannot {what} for {}: {}", path.display(), Cause(err))]
    DeviceFilter {
        /// The cgroup directory.
        path: PathBuf,
        /// The step that failed (`load the eBPF device program`, …).
        what: String,
        /// The cause.
        err: io::Error,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The errno behind this error, if the kernel gave one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Read { err, .. }
            | Error::Write { err, .. }
            | Error::Create { err, .. }
            | Error::Remove { err, .. }
            | Error::DeviceFilter { err, .. } => err.raw_os_error().map(Errno::from_raw),
            Error::Signal { err, .. } => Some(*err),
            _ => None,
        }
    }

    /// True for [`Error::NotFound`]: `open` on a cgroup that is already gone.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

/// Formats an `io::Error` the way the house style wants: `invalid argument`, not
/// `Invalid argument (os error 22)`.
pub(crate) struct Cause<'a>(pub(crate) &'a io::Error);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => {
                let desc = Errno::from_raw(code).desc();
                let mut chars = desc.chars();
                if let Some(first) = chars.next() {
                    write!(f, "{}{}", first.to_lowercase(), chars.as_str())?;
                }
                Ok(())
            }
            None => write!(f, "{}", self.0),
        }
    }
}

struct Setting<'a>(&'a Option<String>);

impl fmt::Display for Setting<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "{s}: "),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_error_reads_like_the_house_style() {
        let e = Error::Write {
            setting: Some("linux.resources.pids.limit".into()),
            path: "/sys/fs/cgroup/pids/peapod/x/pids.max".into(),
            value: "100".into(),
            err: io::Error::from_raw_os_error(libc::EINVAL),
            hint: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "linux.resources.pids.limit: cannot write 100 to \
             /sys/fs/cgroup/pids/peapod/x/pids.max: invalid argument"
        );
        assert_eq!(e.errno(), Some(Errno::EINVAL));
    }

    #[test]
    fn signal_error_names_pid_and_cause() {
        let e = Error::Signal {
            path: "/sys/fs/cgroup/x".into(),
            pid: 7,
            signal: Signal::SIGTERM,
            err: Errno::EPERM,
        };
        assert_eq!(
            e.to_string(),
            "cannot send SIGTERM to process 7 of cgroup /sys/fs/cgroup/x: operation not permitted"
        );
    }
}
