//! Kubernetes' probes, run by the monitor (see [`crate::container::Probes`] for their
//! semantics). Each probe has its own schedule; a check is a forked child, as the
//! healthcheck's is, so that the monitor stays single-threaded and may fork again:
//! - `exec`: the child execs the command in the container through the runtime;
//! - `httpGet` and `tcpSocket`: the child joins the container's network namespace
//!   (`setns(2)` on `/proc/INIT/ns/net`, allowed as it has one thread) and connects from
//!   there, so `127.0.0.1` is the pod's own loopback and nothing is needed in the image.
//!   The HTTP/1.1 request is one written line set; the response head is parsed by
//!   `httparse` (hyper's parser: no dependencies, no allocation). A full client (ureq)
//!   would bring TLS, pools and redirects that a one-shot `GET` in a forked child does not
//!   need, and would still need the namespace switch done by us.
//!
//! The child's exit status is the verdict (0 success), its output the message.

use std::time::{Duration, Instant};

mod net;
#[cfg(test)]
mod tests;

use super::health::{Running, exec_in_child};
use super::{MonitorConfig, ProbeResult, ProbeState};
use crate::container::{Probe, ProbeAction, Probes, now_ns};

/// How many results `State.Probes.Log` keeps.
const LOG_LENGTH: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Startup,
    Liveness,
    Readiness,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Startup => "startup",
            Which::Liveness => "liveness",
            Which::Readiness => "readiness",
        }
    }
}

struct Runner {
    which: Which,
    probe: Probe,
    next: Instant,
    running: Option<Running>,
    successes: u32,
    failures: u32,
}

impl Runner {
    fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.probe.timeout_seconds.max(1)))
    }

    fn period(&self) -> Duration {
        Duration::from_secs(u64::from(self.probe.period_seconds.max(1)))
    }

    /// When it next needs attention: its check's deadline, or its next check.
    fn at(&self) -> Instant {
        match &self.running {
            Some(r) => r.began + self.timeout(),
            None => self.next,
        }
    }
}

/// A container's probes and their state.
pub(crate) struct ProbeSet {
    runners: Vec<Runner>,
    pub(crate) state: ProbeState,
    /// The container's init (a child of the monitor: its pid cannot be reused before the
    /// monitor reaps it).
    init_pid: i32,
    started: Instant,
    /// A liveness or startup failure killed this run: no more checks until the next.
    killed: bool,
    pub(crate) changed: bool,
}

impl ProbeSet {
    pub(crate) fn new(probes: &Probes) -> Self {
        let now = Instant::now();
        let runners = [
            (Which::Startup, &probes.startup),
            (Which::Liveness, &probes.liveness),
            (Which::Readiness, &probes.readiness),
        ]
        .into_iter()
        .filter_map(|(which, p)| {
            p.clone().map(|probe| Runner {
                which,
                probe,
                next: now,
                running: None,
                successes: 0,
                failures: 0,
            })
        })
        .collect();
        Self {
            runners,
            state: ProbeState::default(),
            init_pid: 0,
            started: now,
            killed: false,
            changed: false,
        }
    }

    fn has(&self, which: Which) -> bool {
        self.runners.iter().any(|r| r.which == which)
    }

    /// A new run of the container, whose init is `pid`: not started (if there is a
    /// startup probe), not ready (if there is a readiness probe), every probe after its
    /// initial delay.
    pub(crate) fn reset(&mut self, pid: i32) {
        let now = Instant::now();
        self.init_pid = pid;
        self.started = now;
        self.killed = false;
        self.state.started = !self.has(Which::Startup);
        self.state.ready = self.state.started && !self.has(Which::Readiness);
        for r in &mut self.runners {
            if let Some(old) = r.running.take() {
                kill(old.pid);
            }
            r.next = now + Duration::from_secs(u64::from(r.probe.initial_delay_seconds));
            r.successes = 0;
            r.failures = 0;
        }
        self.changed = true;
    }

    /// Whether this probe runs now: startup until it succeeds, the others after.
    fn active(&self, which: Which) -> bool {
        !self.killed && self.init_pid > 0 && (which == Which::Startup) != self.state.started
    }

    pub(crate) fn until_next(&self) -> Duration {
        let now = Instant::now();
        self.runners
            .iter()
            .filter(|r| self.active(r.which))
            .map(|r| r.at().saturating_duration_since(now) + Duration::from_millis(1))
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }

    pub(crate) fn due(&self) -> bool {
        let now = Instant::now();
        self.runners
            .iter()
            .any(|r| self.active(r.which) && now >= r.at())
    }

    /// Starts the checks that are due; ends (as failures) those that timed out.
    pub(crate) fn run(&mut self, cfg: &MonitorConfig) {
        let now = Instant::now();
        for i in 0..self.runners.len() {
            let Some(which) = self.runners.get(i).map(|r| r.which) else {
                continue;
            };
            if !self.active(which) {
                continue;
            }
            let Some(r) = self.runners.get_mut(i) else {
                continue;
            };
            if now < r.at() {
                continue;
            }
            if let Some(old) = r.running.take() {
                kill(old.pid);
                let why = format!("timed out after {}s", r.probe.timeout_seconds.max(1));
                self.record(i, old.began_ns, false, why);
                continue;
            }
            r.next = now + r.period();
            match spawn(cfg, &r.probe.action, self.init_pid) {
                Ok(running) => r.running = Some(running),
                Err(e) => self.record(i, now_ns(), false, format!("cannot run the probe: {e}")),
            }
        }
    }

    /// A child was reaped: if it was a running check, records its result.
    pub(crate) fn reaped(&mut self, pid: i32, code: i32) {
        let Some(i) = self
            .runners
            .iter()
            .position(|r| r.running.as_ref().is_some_and(|r| r.pid == pid))
        else {
            return;
        };
        let Some(r) = self.runners.get_mut(i).and_then(|r| r.running.take()) else {
            return;
        };
        self.record(i, r.began_ns, code == 0, r.output());
    }

    fn record(&mut self, i: usize, began_ns: i64, success: bool, output: String) {
        let Some(r) = self.runners.get_mut(i) else {
            return;
        };
        if success {
            r.successes = r.successes.saturating_add(1);
            r.failures = 0;
        } else {
            r.failures = r.failures.saturating_add(1);
            r.successes = 0;
        }
        let which = r.which;
        let (successes, failures) = (r.successes, r.failures);
        let (success_threshold, failure_threshold) = (
            r.probe.success_threshold.max(1),
            r.probe.failure_threshold.max(1),
        );
        self.state.log.push(ProbeResult {
            probe: which.name().into(),
            start: crate::time::rfc3339(began_ns),
            end: crate::time::rfc3339(now_ns()),
            success,
            output,
        });
        let failed = failures >= failure_threshold;
        match which {
            Which::Startup if success => {
                self.state.started = true;
                self.state.ready = !self.has(Which::Readiness);
                // The others' initial delays count from the container's start.
                let now = Instant::now();
                for other in &mut self.runners {
                    let delay = Duration::from_secs(u64::from(other.probe.initial_delay_seconds));
                    other.next = (self.started + delay).max(now);
                }
            }
            Which::Readiness if successes >= success_threshold => self.state.ready = true,
            Which::Readiness if failed => self.state.ready = false,
            Which::Startup | Which::Liveness if failed => self.kill_container(which, failures),
            _ => {}
        }
        let excess = self.state.log.len().saturating_sub(LOG_LENGTH);
        self.state.log.drain(..excess);
        self.changed = true;
    }

    /// Kubernetes' answer to a failed liveness (or startup) probe: kill the container and
    /// let its restart policy decide.
    fn kill_container(&mut self, which: Which, failures: u32) {
        self.killed = true;
        self.state.ready = false;
        self.state.liveness_kills = self.state.liveness_kills.saturating_add(1);
        for r in &mut self.runners {
            if let Some(old) = r.running.take() {
                kill(old.pid);
            }
        }
        self.state.log.push(ProbeResult {
            probe: which.name().into(),
            start: crate::time::rfc3339(now_ns()),
            end: crate::time::rfc3339(now_ns()),
            success: false,
            output: format!(
                "{} probe failed {failures} times in a row: the container is killed",
                which.name()
            ),
        });
        kill(self.init_pid);
    }
}

fn kill(pid: i32) {
    if pid > 0 {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Forks the child that runs one check.
fn spawn(cfg: &MonitorConfig, action: &ProbeAction, init_pid: i32) -> nix::Result<Running> {
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the monitor is single-threaded; the child runs the check and exits.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            let code = match action {
                ProbeAction::Exec { command } => exec_in_child(cfg, command.clone(), &out_w),
                _ => net::check(action, init_pid, &out_w),
            };
            std::process::exit(code);
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(out_w);
            let _ = nix::fcntl::fcntl(
                &out_r,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            Ok(Running {
                pid: child.as_raw(),
                began: Instant::now(),
                began_ns: now_ns(),
                output: out_r,
            })
        }
    }
}
