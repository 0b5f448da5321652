//! Containers: their options ([`CreateOptions`]), records ([`ContainerRecord`]) and states,
//! and the verbs ([`Containers`]): create, start, stop, kill, remove, list, inspect, wait,
//! exec, attach, logs, pause, rename, top, stats, cp, prune.

pub(crate) mod bundle;
mod create;
mod exec;
mod inspect;
mod lifecycle;
mod mounts;
mod names;
mod observe;
mod options;
mod probe;
mod reconcile;
mod remove;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use bundle::write_etc_files;
pub use create::DEFAULT_CGROUP_PARENT;
pub use exec::ExecRequest;
pub use inspect::ListOptions;
pub use lifecycle::StartedContainer;
pub use mounts::{MountSpec, parse_mount, parse_tmpfs, parse_volume};
pub use names::validate as validate_name;
pub(crate) use names::{generate as generate_name, new_id};
pub use observe::{ContainerUsage, ObserveError, dir_size};
pub use options::{
    HealthConfig, NetworkMode, PullPolicy, Resources, RestartPolicy, SeccompChoice, Ulimit,
    parse_cpus, parse_size, parse_ulimit,
};
pub use probe::{
    DEFAULT_FAILURE_THRESHOLD, DEFAULT_PERIOD_SECONDS, DEFAULT_SUCCESS_THRESHOLD,
    DEFAULT_TIMEOUT_SECONDS, Probe, ProbeAction, Probes,
};
pub(crate) use reconcile::{cgroup_path, cgroup_path_of};
pub(crate) use remove::remove_after_exit;

use crate::Engine;
use crate::spec::ContainerConfig;

/// A container's state, as docker names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Made, never started (or reset).
    Created,
    /// Its process runs.
    Running,
    /// Frozen (`pause`).
    Paused,
    /// Between two runs of its restart policy.
    Restarting,
    /// Its process ended (or the engine lost it: exit code 255).
    Exited,
    /// Being removed.
    Removing,
}

impl State {
    /// The name docker prints.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Exited => "exited",
            State::Removing => "removing",
        }
    }

    pub(crate) fn parse(text: &str) -> State {
        match text {
            "running" => State::Running,
            "paused" => State::Paused,
            "restarting" => State::Restarting,
            "exited" => State::Exited,
            "removing" => State::Removing,
            _ => State::Created,
        }
    }

    /// Whether a monitor should be alive for it.
    pub fn is_live(self) -> bool {
        matches!(self, State::Running | State::Paused | State::Restarting)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything `create`/`run` takes (their flags, parsed), stored with the container.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateOptions {
    /// The image, as typed (`busybox`, `localhost/app:1`, an id).
    pub image: String,
    /// `--name` (default: a generated `adjective_name`).
    pub name: Option<String>,
    /// What shapes the process (entrypoint, command, env, user, tty, capabilities…).
    pub config: ContainerConfig,
    /// `-i`: keep stdin open.
    pub stdin: bool,
    /// `--label KEY=VALUE`.
    pub labels: BTreeMap<String, String>,
    /// `-v`, `--mount`, `--tmpfs`.
    pub mounts: Vec<MountSpec>,
    /// `-m`, `--memory-swap`, `--cpus`, `--cpu-shares`, `--pids-limit`.
    pub resources: Resources,
    /// `--ulimit`.
    pub ulimits: Vec<Ulimit>,
    /// `--restart`; `None` when not given: a pod's member then takes the pod's policy, any
    /// other container `no` (an explicit `no` stays `no`, in a pod too). The engine fills it
    /// in at create, so a stored container's is `Some`; read it with
    /// [`CreateOptions::restart_policy`].
    pub restart: Option<RestartPolicy>,
    /// `--health-*` (merged over the image's HEALTHCHECK); `None` keeps the image's.
    pub health: Option<HealthConfig>,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
    /// Kubernetes' startup, liveness and readiness probes (from `kube play`), run by the
    /// monitor next to any healthcheck.
    pub probes: Probes,
    /// `--rm`.
    pub autoremove: bool,
    /// `--init`: run a tiny init (tini) as PID 1.
    pub init: bool,
    /// `--stop-signal` (default: the image's, else SIGTERM).
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (default 10).
    pub stop_timeout: Option<u32>,
    /// `--runtime NAME|PATH` (default: the built-in runtime, in-process).
    pub runtime: Option<String>,
    /// `--network`.
    pub network: NetworkMode,
    /// `--security-opt seccomp=…`.
    pub seccomp: SeccompChoice,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--log-opt max-size=` in bytes (default 10 MiB; 0 = unbounded).
    pub log_max_size: Option<u64>,
    /// `--log-opt max-file=` (default 3).
    pub log_max_files: Option<u32>,
    /// `--cgroup-parent` (default [`DEFAULT_CGROUP_PARENT`]).
    pub cgroup_parent: Option<String>,
    /// `-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]` (ranges too), on a bridge network.
    pub publish: Vec<String>,
    /// `-P`: every port the image exposes, on a free host port (chosen at create and
    /// recorded in `publish`).
    pub publish_all: bool,
    /// `--ip`: a fixed address on its network.
    pub ip: Option<String>,
    /// `--ip6`: a fixed IPv6 address on its (dual-stack) network.
    pub ip6: Option<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--add-host NAME:IP`.
    pub add_hosts: Vec<String>,
    /// `--network-alias`: more names other containers of its network resolve it by.
    pub aliases: Vec<String>,
    /// `--pod`: the id of the pod it belongs to (it joins the namespaces the pod shares and
    /// its cgroup goes under the pod's); set by the engine from the name given.
    pub pod: Option<String>,
    /// Whether it is its pod's infra container (no image: the engine's own infra process
    /// holding the pod's namespaces, see [`crate::pod`]).
    pub infra: bool,
    /// The manifest's own text of what `kube play` expanded (`$(VAR)` in command, args and
    /// env), for `kube generate`; `None` for a container not made from a manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube: Option<crate::kube::KubeSource>,
}

impl CreateOptions {
    /// The restart policy in force: `--restart` as given or as filled in from its pod, `no`
    /// when neither.
    pub fn restart_policy(&self) -> RestartPolicy {
        self.restart.unwrap_or_default()
    }
}

/// A container as the engine records it.
#[derive(Clone, Debug, Serialize)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// The image id (`sha256:…`).
    pub image_id: String,
    /// The image as typed at create.
    pub image_name: String,
    /// The create options.
    pub config: CreateOptions,
    /// Unix nanoseconds.
    pub created: i64,
    /// The state (reconciled with the monitor when read through [`Containers`]).
    pub state: State,
    /// The container's init pid on the host while it runs, else 0.
    pub pid: i32,
    /// Its monitor's pid while it runs, else 0.
    pub monitor_pid: i32,
    /// The last exit code.
    pub exit_code: Option<i32>,
    /// Unix nanoseconds of the last start.
    pub started: Option<i64>,
    /// Unix nanoseconds of the last exit.
    pub finished: Option<i64>,
    /// How many times the restart policy restarted it.
    pub restart_count: u32,
    /// Whether the last exit was the kernel's OOM killer.
    pub oom_killed: bool,
}

impl ContainerRecord {
    /// A new record in state `created`, made now.
    pub(crate) fn new(
        id: String,
        image_id: String,
        image_name: String,
        config: CreateOptions,
    ) -> Self {
        Self {
            id,
            name: String::new(),
            image_id,
            image_name,
            config,
            created: now_ns(),
            state: State::Created,
            pid: 0,
            monitor_pid: 0,
            exit_code: None,
            started: None,
            finished: None,
            restart_count: 0,
            oom_killed: false,
        }
    }

    /// [`crate::Error::InfraContainer`] if this is a pod's infra container (managed through
    /// its pod, never by container verbs).
    pub(crate) fn refuse_infra(&self) -> crate::Result<()> {
        if self.config.infra {
            return Err(crate::Error::InfraContainer {
                name: self.name.clone(),
                pod: self.config.pod.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// The first 12 hex digits, as docker prints ids.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

/// The container verbs of an [`Engine`]: `engine.containers()`.
#[derive(Debug)]
pub struct Containers<'e> {
    pub(crate) engine: &'e Engine,
}

/// Paths of one container.
#[derive(Clone, Debug)]
pub(crate) struct ContainerPaths {
    /// `ROOT/containers/<id>`: rootfs dirs, config.json, hosts files, logs.
    pub(crate) dir: PathBuf,
    /// `RUNROOT/containers/<id>`: monitor socket, state, lock.
    pub(crate) run: PathBuf,
}

impl ContainerPaths {
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.join("ctr.log")
    }
    /// The monitor's attach socket.
    pub(crate) fn attach_socket(&self) -> PathBuf {
        self.run.join("attach")
    }
    pub(crate) fn stop_marker(&self) -> PathBuf {
        self.run.join("stopped-by-user")
    }
}

/// For the fault tests: when `_PEAPOD_TEST_PAUSE_AT` names this point, say so on stderr
/// and wait a minute there (the test kills the process meanwhile). A no-op otherwise.
pub(crate) fn pause_point(name: &str) {
    if std::env::var_os("_PEAPOD_TEST_PAUSE_AT").is_some_and(|v| v == name) {
        eprintln!("paused at {name}");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// Unix nanoseconds now.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
