//! The runtime's error type. Each variant names the container or file and the cause, so a
//! caller (a person, or an engine driving `peapod-oci`) can act on it.

use std::path::PathBuf;

/// What can go wrong running a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid container id {id:?}: {why}")]
    InvalidId { id: String, why: &'static str },
    #[error("container {0} already exists")]
    Exists(String),
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("cannot read bundle config {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid bundle config {path}: {why}")]
    InvalidConfig { path: PathBuf, why: String },
    #[error("container {id} is {status}; {action} needs it {needed}")]
    WrongState {
        id: String,
        status: String,
        action: &'static str,
        needed: &'static str,
    },
    /// runc's wording ("container not running"), which containerd's shim recognises.
    #[error("container not running: {id} is {status}")]
    NotRunning { id: String, status: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot {what}: {source}")]
    Sys { what: String, source: nix::Error },
    #[error(transparent)]
    Namespace(#[from] peapod_ns::Error),
    #[error(transparent)]
    Cgroup(#[from] peapod_cgroup::Error),
    /// Capabilities this runtime does not know, ignored as runc ignores them (a warning).
    #[error("ignoring unknown capabilities: {}", .0.join(", "))]
    UnknownCapabilities(Vec<String>),
    /// A resource this host cannot apply, skipped as runc skips it (a warning, not fatal).
    #[error(transparent)]
    ResourceIgnored(peapod_cgroup::Warning),
    #[error(transparent)]
    Rootfs(#[from] peapod_rootfs::Error),
    #[error("{hook} hook {path} {why}")]
    Hook {
        hook: &'static str,
        path: PathBuf,
        why: String,
    },
    /// The container's program cannot be run (found before the exec, as execvp would).
    /// The cause is worded as Go's syscall package words the errno, lowercase ("no such
    /// file or directory", "permission denied", and "executable file not found in $PATH"
    /// for a name no `PATH` entry has), then the errno's name: docker's CLI and daemon,
    /// podman and containerd match those words, case-sensitively in docker's CLI, to exit
    /// with 127 (not found) or 126 (cannot run) as they do with runc.
    #[error(
        "cannot {} {program:?} in the container: {} ({errno:?})",
        if *errno == nix::Error::ENOENT { "find executable" } else { "execute" },
        exec_cause(*errno, *searched)
    )]
    Exec {
        /// `process.args[0]`, as the config has it.
        program: String,
        errno: nix::Error,
        /// Whether it was looked up in the container's `PATH` (it has no `/`).
        searched: bool,
    },
    #[error("container {id}: {message}")]
    Init { id: String, message: String },
    #[error("container {id}: the container process exited before it was created{detail}")]
    InitDied { id: String, detail: String },
    #[error("cannot send the terminal to console socket {path}: {source}")]
    Console { path: PathBuf, source: nix::Error },
    /// criu (checkpoint or restore) failed; its log names the cause.
    #[error("criu {action} of container {id} failed ({status}): {detail} (criu's log: {log})")]
    Criu {
        id: String,
        action: &'static str,
        status: String,
        detail: String,
        log: PathBuf,
    },
    /// A checkpoint or restore option this runtime does not implement.
    #[error("{what} is not supported by peapod-oci's {action}")]
    CriuUnsupported {
        action: &'static str,
        what: &'static str,
    },
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    #[error("cannot signal container {id} (pid {pid}): {source}")]
    Signal {
        id: String,
        pid: i32,
        source: nix::Error,
    },
}

/// The errno as Go's `syscall.Errno.Error()` prints it (glibc's text, lowercase).
fn exec_cause(errno: nix::Error, searched: bool) -> String {
    if searched && errno == nix::Error::ENOENT {
        "executable file not found in $PATH".to_owned()
    } else {
        errno.desc().to_lowercase()
    }
}

impl Error {
    pub(crate) fn sys(what: impl Into<String>) -> impl FnOnce(nix::Error) -> Error {
        let what = what.into();
        move |source| Error::Sys { what, source }
    }

    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }
}

/// The runtime's result type.
pub type Result<T> = std::result::Result<T, Error>;
