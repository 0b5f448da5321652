//! The crate's error type: each variant names the path (and the rootfs) and the cause.

use std::fmt;
use std::path::PathBuf;

use nix::errno::Errno;

/// A failed system call, shown as its lower-case description ("permission denied").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysError(pub Errno);

impl SysError {
    /// The errno the kernel returned.
    pub fn errno(self) -> Errno {
        self.0
    }
}

impl From<Errno> for SysError {
    fn from(errno: Errno) -> Self {
        Self(errno)
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let desc = self.0.desc();
        let mut chars = desc.chars();
        match chars.next() {
            Some(first) => write!(f, "{}{}", first.to_lowercase(), chars.as_str()),
            None => write!(f, "{:?}", self.0),
        }
    }
}

impl std::error::Error for SysError {}

/// What can go wrong while setting up a container's root filesystem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `root.path` was not resolved to an absolute path by the caller.
    #[error("rootfs {0} must be an absolute path")]
    RelativeRootfs(PathBuf),
    /// `linux.rootfsPropagation` holds an unknown value.
    #[error(
        "invalid linux.rootfsPropagation {0:?}: expected shared, slave, private, unbindable or an r-prefixed form"
    )]
    Propagation(String),
    /// A mount option this crate does not know.
    #[error("mount on {destination}: unknown mount option {option:?}")]
    UnknownOption {
        destination: PathBuf,
        option: String,
    },
    /// A mount feature this crate does not implement.
    #[error("mount on {destination}: {what} is not supported")]
    Unsupported {
        destination: PathBuf,
        what: &'static str,
    },
    /// A mount entry that cannot be honoured as written.
    #[error("mount on {destination}: {why}")]
    InvalidMount {
        destination: PathBuf,
        why: &'static str,
    },
    /// A mount failed; `detail` carries the kernel's own message when it gave one.
    #[error("cannot mount {what} on {destination} in {rootfs}: {source}{detail}")]
    Mount {
        what: String,
        destination: PathBuf,
        rootfs: PathBuf,
        source: SysError,
        detail: String,
    },
    /// A device entry that cannot be created as written.
    #[error("device {path}: {why}")]
    InvalidDevice { path: PathBuf, why: String },
    /// Creating (or binding) a device node failed.
    #[error("cannot create device {path} in {rootfs}: {source}")]
    Device {
        path: PathBuf,
        rootfs: PathBuf,
        source: SysError,
    },
    /// Creating a /dev symlink failed.
    #[error("cannot create symlink {path} in {rootfs}: {source}")]
    Symlink {
        path: PathBuf,
        rootfs: PathBuf,
        source: SysError,
    },
    /// The host's /dev/null is missing or is not the null device.
    #[error("the host /dev/null cannot be used to mask paths: {why}")]
    DevNull { why: String },
    /// Changing the propagation of a mount failed.
    #[error("cannot make {path} {how}: {source}")]
    Propagate {
        path: PathBuf,
        how: String,
        source: SysError,
    },
    /// A step of pivot_root (or of the --no-pivot move) failed.
    #[error("cannot switch the root to {rootfs} ({step}): {source}")]
    Pivot {
        rootfs: PathBuf,
        step: &'static str,
        source: SysError,
    },
    /// Masking a path failed.
    #[error("cannot mask {path} in {rootfs}: {source}")]
    Mask {
        path: PathBuf,
        rootfs: PathBuf,
        source: SysError,
    },
    /// Making a path read-only failed.
    #[error("cannot make {path} in {rootfs} read-only: {source}")]
    ReadonlyPath {
        path: PathBuf,
        rootfs: PathBuf,
        source: SysError,
    },
    /// Resolving a path inside a root failed ([`crate::open_in_root`]).
    #[error("cannot resolve {path} inside the root: {source}")]
    Resolve { path: PathBuf, source: SysError },
    /// A detached read-only bind could not be made ([`crate::read_only_bind`]).
    #[error("cannot make a read-only bind of {path}: {source}")]
    ReadOnlyBind { path: PathBuf, source: SysError },
    /// Creating a path inside a root failed ([`crate::create_in_root`]).
    #[error("cannot create {path} inside the root: {source}")]
    Create { path: PathBuf, source: SysError },
    /// A `linux.sysctl` key that could escape /proc/sys or is malformed.
    #[error("invalid sysctl key {key:?}: {why}")]
    SysctlKey { key: String, why: &'static str },
    /// Writing a sysctl failed.
    #[error("cannot write sysctl {key} = {value:?} ({path}): {source}")]
    Sysctl {
        key: String,
        value: String,
        path: PathBuf,
        source: SysError,
    },
    /// A path that must be on a given filesystem is not (a fake or redirected /proc or /sys).
    #[error("refusing to use {path}: it is not {expected}")]
    WrongFilesystem {
        path: PathBuf,
        expected: &'static str,
    },
    /// Checking which filesystem a path is on failed.
    #[error("cannot check the filesystem of {path}: {source}")]
    Statfs { path: PathBuf, source: SysError },
    /// Without a mount namespace, something of the config that would change the host
    /// beyond the container (see `prepare_shared`).
    #[error(
        "{what} need a mount namespace: without one they would apply to the runtime's own \
         mount namespace, on the host (add {{\"type\": \"mount\"}} to linux.namespaces)"
    )]
    NeedsMountNamespace { what: String },
    /// Without a mount namespace, the bind of the rootfs onto itself is not as expected.
    #[error("container root {rootfs} without a mount namespace: {why}")]
    SharedRoot { rootfs: PathBuf, why: String },
    /// Assembling an overlay failed.
    #[error("cannot mount overlay on {target}: {source}{detail}")]
    Overlay {
        target: PathBuf,
        source: SysError,
        detail: String,
    },
}

impl Error {
    /// The errno behind this error, when a system call failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Mount { source, .. }
            | Self::Device { source, .. }
            | Self::Symlink { source, .. }
            | Self::Propagate { source, .. }
            | Self::Pivot { source, .. }
            | Self::Mask { source, .. }
            | Self::ReadonlyPath { source, .. }
            | Self::Resolve { source, .. }
            | Self::ReadOnlyBind { source, .. }
            | Self::Create { source, .. }
            | Self::Sysctl { source, .. }
            | Self::Statfs { source, .. }
            | Self::Overlay { source, .. } => Some(source.errno()),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// The suffix of a mount error: the kernel's filesystem-context log (see `mount_api`), or a
/// hint when the kernel lacks the new mount API.
pub(crate) fn detail(errno: Errno, log: &str) -> String {
    if !log.is_empty() {
        format!(" (kernel: {log})")
    } else if errno == Errno::ENOSYS {
        " (the new mount API needs Linux 5.12 or later)".to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_lower_case_prose() {
        let e = Error::Mount {
            what: "proc".into(),
            destination: "/proc".into(),
            rootfs: "/run/x/rootfs".into(),
            source: Errno::EACCES.into(),
            detail: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "cannot mount proc on /proc in /run/x/rootfs: permission denied"
        );
        assert_eq!(e.errno(), Some(Errno::EACCES));
    }
}
