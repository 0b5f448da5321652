//! The per-container **monitor** (DESIGN.md's process model): the engine's program
//! re-executed as `PROGRAM __peapod-monitor RUNDIR READYFD`, detached in its own session.
//! It creates and starts the container through the runtime (in-process, or another OCI
//! runtime binary), owns its stdio (pipes, or a pty for `-t`), writes the log, serves
//! `attach` clients on a unix socket, waits for the exit, records it in
//! `RUNDIR/state.json`, applies the restart policy, and cleans up (unmounts the root
//! filesystem; removes the container with `--rm`). It is a plain `poll(2)` loop with no
//! async runtime and no threads, so that it stays small and may fork.
//!
//! The engine talks to it through files in its run directory (`RUNROOT/containers/<id>`):
//! `monitor.json` (its `MonitorConfig`, written before it starts), `state.json` (its
//! [`MonitorState`], replaced atomically at each change), `monitor.lock` (held for its
//! whole life: a free lock means no monitor), `attach` (the socket, [`attach`]'s
//! protocol) and `stopped-by-user` (written by `stop`/`kill`: no restart).

pub mod attach;
mod health;
mod probe;
pub(crate) mod run;
pub(crate) mod start;
pub(crate) mod stdio;

pub(crate) use health::command as health_command;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container::{HealthConfig, Probes, RestartPolicy};
use crate::error::{Error, Result};

/// The first argument that makes a program the monitor (see [`dispatch`]).
pub const MONITOR_ARG: &str = "__peapod-monitor";

/// What the engine tells a monitor (`monitor.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct MonitorConfig {
    pub(crate) id: String,
    pub(crate) name: String,
    /// `--root` and `--runroot`, for `--rm`.
    pub(crate) root: PathBuf,
    pub(crate) runroot: PathBuf,
    /// The bundle (config.json) directory, which also holds the rootfs dirs.
    pub(crate) bundle: PathBuf,
    /// An OCI runtime binary; `None` for the built-in one, in-process.
    pub(crate) runtime: Option<PathBuf>,
    /// That runtime's `--root`.
    pub(crate) runtime_root: PathBuf,
    pub(crate) log_path: PathBuf,
    pub(crate) log_max_size: Option<u64>,
    pub(crate) log_max_files: u32,
    pub(crate) tty: bool,
    pub(crate) stdin: bool,
    /// Wait for an attach client before starting (foreground `run`, `start -a`).
    pub(crate) wait_attach: bool,
    pub(crate) restart: RestartPolicy,
    pub(crate) health: Option<HealthConfig>,
    /// Kubernetes' probes (`kube play`).
    #[serde(default)]
    pub(crate) probes: Probes,
    pub(crate) autoremove: bool,
    /// Restarts so far (kept across `start`s, as docker's RestartCount).
    pub(crate) restart_count: u32,
    /// The container's `linux.cgroupsPath` (for its OOM kills).
    pub(crate) cgroup_path: String,
    /// The image as typed (for events).
    pub(crate) image: String,
    /// Whether it has a network namespace of the engine's to unpin after the last exit.
    #[serde(default)]
    pub(crate) network: bool,
    /// Its `-p` list, to unpublish after the last exit.
    #[serde(default)]
    pub(crate) publish: Vec<String>,
    /// Whether it joins an existing PID namespace (a pod's, with `--share pid`).
    #[serde(default)]
    pub(crate) joins_pid: bool,
}

/// What a monitor reports (`state.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MonitorState {
    /// The monitor's pid.
    pub monitor_pid: i32,
    /// The container's init pid on the host (0 when not running).
    pub pid: i32,
    /// `running`, `restarting` or `exited`.
    pub status: String,
    /// Unix nanoseconds of the last start.
    pub started: Option<i64>,
    /// Unix nanoseconds of the last exit.
    pub finished: Option<i64>,
    /// The last exit code (128 + signal for a signal).
    pub exit_code: Option<i32>,
    /// Restarts done by the restart policy.
    pub restart_count: u32,
    /// Whether the kernel's OOM killer ended the last run.
    pub oom_killed: bool,
    /// The healthcheck's state, if the container has one.
    pub health: Option<HealthState>,
    /// Kubernetes' probes' state, if the container has any.
    #[serde(default)]
    pub probes: Option<ProbeState>,
    /// Why the last start failed, if it did (a restart that could not be made).
    pub error: Option<String>,
    /// A pod's infra process: its start time in clock ticks since boot (`/proc/PID/stat`
    /// field 22), so that a reused pid is never signalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
}

/// docker's `State.Health`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Consecutive failures.
    pub failing_streak: u32,
    /// The last five results.
    pub log: Vec<HealthResult>,
}

/// The state of a container's Kubernetes probes (`State.Probes` in inspect).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeState {
    /// Whether the startup probe has succeeded in this run (true without one).
    pub started: bool,
    /// Whether the container is ready: readiness succeeded `successThreshold` times in a
    /// row (true without a readiness probe once started).
    pub ready: bool,
    /// Liveness or startup failures that killed the container, over all its runs.
    pub liveness_kills: u32,
    /// The last ten results of any probe.
    pub log: Vec<ProbeResult>,
}

/// One probe run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeResult {
    /// `startup`, `liveness` or `readiness`.
    pub probe: String,
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
    /// Whether it succeeded.
    pub success: bool,
    /// What it said (the program's first 4 KiB, the HTTP status, the connect error).
    pub output: String,
}

/// One healthcheck run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
    /// 0 healthy, else unhealthy (-1: timed out or could not run).
    pub exit_code: i32,
    /// The first 4 KiB of its output.
    pub output: String,
}

impl MonitorState {
    /// Reads `state.json` from a run directory; `None` if absent or torn (it is replaced
    /// atomically, so torn means foreign).
    pub(crate) fn load(run_dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(run_dir.join("state.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes it atomically.
    pub(crate) fn save(&self, run_dir: &Path) -> Result<()> {
        let tmp = run_dir.join(".state.json.tmp");
        let path = run_dir.join("state.json");
        let bytes = serde_json::to_vec(self).map_err(Error::json("the monitor state"))?;
        std::fs::write(&tmp, bytes).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io("rename into place", &path))
    }
}

/// Whether a monitor holds the lock of `run_dir` (is alive).
pub(crate) fn is_alive(run_dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(run_dir.join("monitor.lock")) else {
        return false;
    };
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockSharedNonblock) {
        Ok(_unlocked_on_drop) => false,
        Err((_, errno)) => errno == nix::errno::Errno::EWOULDBLOCK,
    }
}

/// Runs the monitor (or a pod's infra process) and exits if this process was started as one
/// (`argv[1]` is [`MONITOR_ARG`] or [`crate::pod::INFRA_ARG`]); returns otherwise. A program that opens an [`crate::Engine`] without
/// setting `monitor_program` must call this first thing in `main`.
pub fn dispatch() {
    let mut args = std::env::args_os().skip(1);
    let role = args.next();
    let infra = role.as_deref() == Some(std::ffi::OsStr::new(crate::pod::INFRA_ARG));
    if !infra && role.as_deref() != Some(std::ffi::OsStr::new(MONITOR_ARG)) {
        return;
    }
    let run_dir = args.next().map(PathBuf::from);
    let ready_fd = args
        .next()
        .and_then(|a| a.to_str().and_then(|s| s.parse::<i32>().ok()));
    let code = match (run_dir, ready_fd) {
        (Some(dir), Some(fd)) if infra => crate::pod::infra::main(&dir, fd),
        (Some(dir), Some(fd)) => run::main(&dir, fd),
        _ => 2,
    };
    std::process::exit(code);
}
