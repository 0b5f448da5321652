//! The engine's error type. Each variant names the object (container, image, volume, path)
//! and the cause, and maps to docker's exit codes through [`Error::exit_code`].

use std::path::PathBuf;

/// What can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No container has this name, id or id prefix.
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// An id prefix that matches more than one container.
    #[error("container id prefix {0:?} is ambiguous: give more of the id")]
    AmbiguousContainer(String),
    /// The name is taken.
    #[error(
        "the container name {name:?} is already in use by {id}: remove or rename that container, or choose another name"
    )]
    NameInUse {
        /// The name asked for.
        name: String,
        /// The container holding it.
        id: String,
    },
    /// No pod has this name, id or id prefix.
    #[error("no such pod: {0}")]
    NoSuchPod(String),
    /// An id prefix that matches more than one pod.
    #[error("pod id prefix {0:?} is ambiguous: give more of the id")]
    AmbiguousPod(String),
    /// The pod name is taken.
    #[error("the pod name {0:?} is already in use: remove that pod, or choose another name")]
    PodNameInUse(String),
    /// The pod is not in a state the verb accepts.
    #[error("pod {name} is {state}: cannot {action}")]
    PodWrongState {
        /// The pod's name.
        name: String,
        /// Its state.
        state: String,
        /// The verb.
        action: &'static str,
    },
    /// A container verb on a pod's infra container (it is managed through its pod).
    #[error(
        "container {name} is the infra container of pod {pod}: manage it with `peapod pod` (start, stop, kill, rm)"
    )]
    InfraContainer {
        /// The infra container's name.
        name: String,
        /// Its pod's id.
        pod: String,
    },
    /// A name docker would refuse.
    #[error("invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// The container is not in a state the verb accepts.
    #[error("container {name} is {state}: cannot {action}")]
    WrongState {
        /// The container's name.
        name: String,
        /// Its state.
        state: String,
        /// The verb.
        action: &'static str,
    },
    /// A flag's value is invalid (`-m lots`, `--cpus -1`, `--restart bogus`).
    #[error("invalid {flag} {value:?}: {why}")]
    InvalidFlag {
        /// The flag, as typed (`--memory`).
        flag: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// The configuration file is wrong.
    #[error("bad configuration in {}: {why}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The default network in the configuration differs from the database's while
    /// containers are on it.
    #[error("the default network {name} {why}")]
    NetworkConfig {
        /// The network.
        name: String,
        /// The difference, the file, and a container on it.
        why: String,
    },
    /// No such volume.
    #[error("no such volume: {0}")]
    NoSuchVolume(String),
    /// A volume still used by a container.
    #[error("volume {name} is in use by container {container}")]
    VolumeInUse {
        /// The volume.
        name: String,
        /// A container using it.
        container: String,
    },
    /// The volume exists already.
    #[error("volume {0} already exists")]
    VolumeExists(String),
    /// The container's program could not be found (exit code 127).
    #[error("{0}")]
    CommandNotFound(String),
    /// The container's program could not be run (exit code 126).
    #[error("{0}")]
    CommandNotExecutable(String),
    /// A file or directory operation failed.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("cannot {what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// The database failed.
    #[error("database {}: {source}", path.display())]
    Db {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A network still used by a container.
    #[error("network {name} is in use by container {container}")]
    NetworkInUse {
        /// The network.
        name: String,
        /// A container on it.
        container: String,
    },
    /// Network plumbing failed.
    #[error(transparent)]
    Net(#[from] peapod_net::NetError),
    /// The monitor of a container failed or went away.
    #[error("container {name}: {why}")]
    Monitor {
        /// The container.
        name: String,
        /// What happened.
        why: String,
    },
    /// The OCI runtime failed.
    #[error(transparent)]
    Runtime(#[from] peapod_runtime::Error),
    /// An external OCI runtime (`--runtime crun`) failed.
    #[error("runtime {runtime}: {message}")]
    ExternalRuntime {
        /// Its path.
        runtime: String,
        /// What it printed.
        message: String,
    },
    /// Images.
    #[error(transparent)]
    Image(#[from] peapod_image::Error),
    /// The container's config could not be built.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// The user could not be resolved in the image.
    #[error(transparent)]
    User(#[from] crate::spec::UserError),
    /// The root filesystem could not be prepared.
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    /// A volume of a `kube play` pod cannot be made ready (a hostPath of the wrong type).
    #[error("pod {pod}: volume {volume}: {why}")]
    KubeVolume {
        /// The pod.
        pod: String,
        /// The volume's name in the manifest.
        volume: String,
        /// What is wrong.
        why: String,
    },
    /// A verb or feature this engine does not have (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A record or report could not be (de)serialised.
    #[error("{what}: {source}")]
    Json {
        /// What it was.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// docker's exit code for this error when it ends `run`/`start`/`exec`: 127 when the
    /// command was not found, 126 when it could not be run, 125 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::CommandNotFound(_) => 127,
            Error::CommandNotExecutable(_) => 126,
            _ => 125,
        }
    }

    pub(crate) fn io(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io { what, path, source }
    }

    pub(crate) fn sys(what: impl Into<String>) -> impl FnOnce(nix::Error) -> Error {
        let what = what.into();
        move |source| Error::Sys { what, source }
    }

    pub(crate) fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let what = what.into();
        move |source| Error::Json { what, source }
    }

    /// Classifies the runtime's failure to start the container's program as docker does
    /// (127 not found, 126 not executable); other errors pass through.
    pub(crate) fn from_start(e: peapod_runtime::Error) -> Error {
        match &e {
            peapod_runtime::Error::Exec { errno, .. } => match errno {
                nix::Error::ENOENT | nix::Error::ENOTDIR => Error::CommandNotFound(e.to_string()),
                _ => Error::CommandNotExecutable(e.to_string()),
            },
            // From the container's init, the same error arrives as its message.
            peapod_runtime::Error::Init { message, .. }
                if message.starts_with("cannot find executable")
                    || message.starts_with("cannot execute") =>
            {
                if message.ends_with("(ENOENT)") || message.ends_with("(ENOTDIR)") {
                    Error::CommandNotFound(e.to_string())
                } else {
                    Error::CommandNotExecutable(e.to_string())
                }
            }
            _ => Error::Runtime(e),
        }
    }
}
