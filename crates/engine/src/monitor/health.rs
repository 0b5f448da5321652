//! Healthchecks run by the monitor itself (no daemon, no systemd timers: podman#19326):
//! every interval it forks a child that execs the check in the container (through the
//! runtime, as `exec` does), captures its output, and records the result in docker's
//! `State.Health` shape: `starting` until the first success (failures within the start
//! period do not count), `healthy`, or `unhealthy` after `retries` consecutive failures.
//!
//! [`Health`] is what the monitor's loop drives: that healthcheck and the container's
//! Kubernetes probes (`super::probe`), each with its own schedule and child.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use super::probe::ProbeSet;
use super::{HealthResult, HealthState, MonitorConfig, MonitorState};
use crate::container::{HealthConfig, ProbeAction, now_ns};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
pub(super) const OUTPUT_LIMIT: usize = 4096;

/// A check's child process while it runs.
pub(super) struct Running {
    pub(super) pid: i32,
    pub(super) began: Instant,
    pub(super) began_ns: i64,
    pub(super) output: OwnedFd,
}

impl Running {
    /// Its output so far (at most [`OUTPUT_LIMIT`] bytes), read without blocking.
    pub(super) fn output(&self) -> String {
        let mut output = vec![0u8; OUTPUT_LIMIT];
        let n = nix::unistd::read(self.output.as_fd(), &mut output).unwrap_or(0);
        output.truncate(n);
        String::from_utf8_lossy(&output).into_owned()
    }
}

/// Everything the monitor checks in a running container: docker's healthcheck and
/// Kubernetes' probes. The loop asks [`Health::until_next`] how long it may sleep, calls
/// [`Health::run`] when [`Health::due`], passes every reaped child to [`Health::reaped`],
/// and copies the states into `state.json` ([`Health::publish`]) when
/// [`Health::take_changed`] says so.
pub(crate) struct Health {
    check: Option<Healthcheck>,
    probes: Option<ProbeSet>,
}

/// Whether the checks exec into the container (the monitor then protects its binary first,
/// as `exec` needs).
pub(crate) fn execs(cfg: &MonitorConfig) -> bool {
    let probe_execs = [
        &cfg.probes.startup,
        &cfg.probes.liveness,
        &cfg.probes.readiness,
    ]
    .into_iter()
    .flatten()
    .any(|p| matches!(p.action, ProbeAction::Exec { .. }));
    cfg.health.is_some() || probe_execs
}

impl Health {
    /// The checks of `cfg`; `None` if it has none.
    pub(crate) fn new(cfg: &MonitorConfig) -> Option<Self> {
        let check = cfg.health.clone().map(Healthcheck::new);
        let probes = (!cfg.probes.is_empty()).then(|| ProbeSet::new(&cfg.probes));
        (check.is_some() || probes.is_some()).then_some(Self { check, probes })
    }

    /// A new run of the container, whose init is `pid`.
    pub(crate) fn reset(&mut self, pid: i32) {
        if let Some(c) = &mut self.check {
            c.reset();
        }
        if let Some(p) = &mut self.probes {
            p.reset(pid);
        }
    }

    /// How long until something is due.
    pub(crate) fn until_next(&self) -> Duration {
        let check = self.check.as_ref().map(Healthcheck::until_next);
        let probes = self.probes.as_ref().map(ProbeSet::until_next);
        check
            .into_iter()
            .chain(probes)
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }

    /// Whether a check should start, or a running one has timed out.
    pub(crate) fn due(&self) -> bool {
        self.check.as_ref().is_some_and(Healthcheck::due)
            || self.probes.as_ref().is_some_and(ProbeSet::due)
    }

    /// Starts the checks that are due, ends those that timed out.
    pub(crate) fn run(&mut self, cfg: &MonitorConfig) {
        if let Some(c) = &mut self.check
            && c.due()
        {
            c.run(cfg);
        }
        if let Some(p) = &mut self.probes {
            p.run(cfg);
        }
    }

    /// A child was reaped: if it was a running check, records its result.
    pub(crate) fn reaped(&mut self, pid: i32, code: i32) {
        if let Some(c) = &mut self.check {
            c.reaped(pid, code);
        }
        if let Some(p) = &mut self.probes {
            p.reaped(pid, code);
        }
    }

    /// Whether a state changed since the last call.
    pub(crate) fn take_changed(&mut self) -> bool {
        let check = self
            .check
            .as_mut()
            .is_some_and(|c| std::mem::take(&mut c.changed));
        let probes = self
            .probes
            .as_mut()
            .is_some_and(|p| std::mem::take(&mut p.changed));
        check || probes
    }

    /// Copies the states into the monitor's.
    pub(crate) fn publish(&self, state: &mut MonitorState) {
        if let Some(c) = &self.check {
            state.health = Some(c.state.clone());
        }
        if let Some(p) = &self.probes {
            state.probes = Some(p.state.clone());
        }
    }
}

/// One container's healthcheck.
struct Healthcheck {
    cfg: HealthConfig,
    state: HealthState,
    started: Instant,
    next: Instant,
    running: Option<Running>,
    changed: bool,
}

fn nanos(n: Option<u64>, default: Duration) -> Duration {
    match n {
        Some(n) if n > 0 => Duration::from_nanos(n),
        _ => default,
    }
}

impl Healthcheck {
    fn new(cfg: HealthConfig) -> Self {
        let now = Instant::now();
        Self {
            cfg,
            state: HealthState::default(),
            started: now,
            next: now,
            running: None,
            changed: false,
        }
    }

    fn interval(&self) -> Duration {
        nanos(self.cfg.interval, DEFAULT_INTERVAL)
    }

    fn timeout(&self) -> Duration {
        nanos(self.cfg.timeout, DEFAULT_TIMEOUT)
    }

    /// A new run of the container: `starting`, first check after one interval.
    fn reset(&mut self) {
        let now = Instant::now();
        self.started = now;
        self.next = now + self.interval();
        self.state = HealthState {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        };
    }

    /// How long until something is due.
    fn until_next(&self) -> Duration {
        let at = match &self.running {
            Some(r) => r.began + self.timeout(),
            None => self.next,
        };
        at.saturating_duration_since(Instant::now()) + Duration::from_millis(1)
    }

    /// Whether a check should start, or a running one has timed out.
    fn due(&self) -> bool {
        let now = Instant::now();
        match &self.running {
            Some(r) => now >= r.began + self.timeout(),
            None => now >= self.next,
        }
    }

    /// Starts a check, or ends one that timed out.
    fn run(&mut self, cfg: &MonitorConfig) {
        if let Some(r) = self.running.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(r.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let timeout = self.timeout();
            self.record(
                r.began_ns,
                -1,
                format!("Health check exceeded timeout ({timeout:?})"),
            );
            return;
        }
        self.next = Instant::now() + self.interval();
        let Some(args) = command(&self.cfg.test) else {
            return;
        };
        let Ok((out_r, out_w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
            return;
        };
        // SAFETY: the monitor is single-threaded; the child only calls the runtime's exec
        // (which forks again) and exits.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                let code = exec_in_child(cfg, args, &out_w);
                std::process::exit(code);
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(out_w);
                let _ = nix::fcntl::fcntl(
                    &out_r,
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                );
                self.running = Some(Running {
                    pid: child.as_raw(),
                    began: Instant::now(),
                    began_ns: now_ns(),
                    output: out_r,
                });
            }
            Err(e) => self.record(now_ns(), -1, format!("cannot run the healthcheck: {e}")),
        }
    }

    /// A child was reaped: if it was the running check, records its result.
    fn reaped(&mut self, pid: i32, code: i32) {
        if self.running.as_ref().is_none_or(|r| r.pid != pid) {
            return;
        }
        let Some(r) = self.running.take() else { return };
        self.record(r.began_ns, code, r.output());
    }

    fn record(&mut self, began_ns: i64, code: i32, output: String) {
        let in_start_period = self.started.elapsed() < nanos(self.cfg.start_period, Duration::ZERO);
        if code == 0 {
            self.state.status = "healthy".into();
            self.state.failing_streak = 0;
        } else if !in_start_period || self.state.status != "starting" {
            self.state.failing_streak += 1;
            if self.state.failing_streak
                >= self
                    .cfg
                    .retries
                    .filter(|r| *r > 0)
                    .unwrap_or(DEFAULT_RETRIES)
            {
                self.state.status = "unhealthy".into();
            }
        }
        self.state.log.push(HealthResult {
            start: crate::time::rfc3339(began_ns),
            end: crate::time::rfc3339(now_ns()),
            exit_code: code,
            output,
        });
        if self.state.log.len() > 5 {
            self.state.log.remove(0);
        }
        self.changed = true;
    }
}

/// The process arguments of a `Test`: `CMD args…` as they are, `CMD-SHELL cmd` through
/// `/bin/sh -c`; `NONE` or empty: no check.
pub(crate) fn command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

/// In the forked child: runs `args` in the container with stdout and stderr on `out`.
pub(super) fn exec_in_child(cfg: &MonitorConfig, args: Vec<String>, out: &OwnedFd) -> i32 {
    let mut mask = nix::sys::signal::SigSet::empty();
    mask.add(nix::sys::signal::Signal::SIGCHLD);
    let _ = mask.thread_unblock();
    let _ = nix::unistd::dup2_stdout(out.as_fd());
    let _ = nix::unistd::dup2_stderr(out.as_fd());
    if let Some(runtime) = &cfg.runtime {
        let status = std::process::Command::new(runtime)
            .arg("--root")
            .arg(&cfg.runtime_root)
            .arg("exec")
            .arg(&cfg.id)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .status();
        return status.ok().and_then(|s| s.code()).unwrap_or(125);
    }
    let result = peapod_runtime::Container::load(&cfg.runtime_root, &cfg.id).and_then(|c| {
        let mut process = c.config_process()?;
        process.set_args(Some(args));
        process.set_terminal(Some(false));
        let pid = c.exec(&peapod_runtime::ExecOptions {
            process,
            console_socket: None,
            pid_file: None,
            preserve_fds: 0,
        })?;
        peapod_runtime::wait_for(pid)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            125
        }
    }
}
