//! The monitor's life: detach, lock, listen, start the container, serve its stdio and
//! attach clients until it exits, record the exit, restart by policy, clean up.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind, listen, recv,
    send, setsockopt, socket, sockopt,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use super::attach::{EXIT, MAX_PACKET, RESIZE, STDERR, STDIN, STDOUT};
use super::start::{Started, delete_runtime_state, start};
use super::{MonitorConfig, MonitorState, health::Health};
use crate::container::{RestartPolicy, now_ns};
use crate::error::{Error, Result};
use crate::logs::{LogLimits, LogWriter, Stream};

/// How long the monitor is quiet before it trims its code pages.
const IDLE_TRIM: Duration = Duration::from_secs(1);

/// A message on the ready pipe: one JSON line.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
pub(crate) enum Ready {
    /// The attach socket listens.
    Listening,
    /// The container runs with this pid.
    Started(i32),
    /// It could not start: exit code (125/126/127) and message.
    Failed(u8, String),
}

fn tell(ready: &mut Option<OwnedFd>, msg: &Ready) {
    if let Some(fd) = ready {
        let mut line = serde_json::to_vec(msg).unwrap_or_default();
        line.push(b'\n');
        let _ = nix::unistd::write(fd.as_fd(), &line);
    }
}

/// Entry point (after [`super::dispatch`]); the process's exit code.
pub(super) fn main(run_dir: &Path, ready_fd: i32) -> i32 {
    // SAFETY: the engine passed us this fd (the ready pipe's write end) and nothing else
    // in this process owns it.
    let ready = unsafe { OwnedFd::from_raw_fd(ready_fd) };
    let cfg: MonitorConfig = match std::fs::read(run_dir.join("monitor.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            tell(
                &mut Some(ready),
                &Ready::Failed(125, format!("monitor: cannot read its config: {e}")),
            );
            return 1;
        }
    };
    // A healthcheck or an exec probe execs into the container, and a pod's member may join
    // the pod's PID namespace: protect our binary first, as the runtime needs for both.
    if (super::health::execs(&cfg) || cfg.joins_pid) && !peapod_runtime::exe_is_protected() {
        let _ = peapod_runtime::reexec_read_only();
    }
    let _ = nix::fcntl::fcntl(
        &ready,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    // SAFETY: the monitor is single-threaded here (no runtime, no threads started).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            tell(
                &mut Some(ready),
                &Ready::Failed(125, format!("monitor: cannot fork: {e}")),
            );
            return 1;
        }
    }
    let _ = nix::unistd::setsid();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let mut ready = Some(ready);
    match Monitor::new(cfg, run_dir) {
        Ok(mut m) => {
            tell(&mut ready, &Ready::Listening);
            m.run(&mut ready)
        }
        Err(e) => {
            tell(&mut ready, &Ready::Failed(e.exit_code(), e.to_string()));
            1
        }
    }
}

struct Monitor {
    cfg: MonitorConfig,
    run_dir: std::path::PathBuf,
    _lock: Flock<File>,
    listener: OwnedFd,
    clients: Vec<OwnedFd>,
    log: LogWriter,
    state: MonitorState,
    health: Option<Health>,
    /// What to trim when idle ([`super::stdio::code_ranges`]).
    code: Vec<(usize, usize)>,
}

impl Monitor {
    fn new(cfg: MonitorConfig, run_dir: &Path) -> Result<Self> {
        let lock_path = run_dir.join("monitor.lock");
        let file = File::create(&lock_path).map_err(Error::io("create", &lock_path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            Error::Monitor {
                name: cfg.name.clone(),
                why: format!("another monitor holds {}: {e}", lock_path.display()),
            }
        })?;
        let _ = std::fs::remove_file(run_dir.join("attach"));
        let short = super::stdio::SocketPath::new(run_dir, "attach")?;
        let path = short.path.clone();
        let listener = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(Error::sys("create the attach socket"))?;
        let addr =
            UnixAddr::new(&path).map_err(Error::sys(format!("address {}", path.display())))?;
        bind(listener.as_raw_fd(), &addr)
            .map_err(Error::sys(format!("bind {}", path.display())))?;
        listen(&listener, Backlog::new(16).map_err(Error::sys("listen"))?)
            .map_err(Error::sys(format!("listen on {}", path.display())))?;
        let limits = LogLimits {
            max_size: cfg.log_max_size,
            max_files: cfg.log_max_files,
        };
        let log = LogWriter::open(&cfg.log_path, limits).map_err(|e| Error::Monitor {
            name: cfg.name.clone(),
            why: format!("cannot open the log {}: {e}", cfg.log_path.display()),
        })?;
        let state = MonitorState {
            monitor_pid: std::process::id().cast_signed(),
            status: "created".into(),
            restart_count: cfg.restart_count,
            ..MonitorState::default()
        };
        let health = Health::new(&cfg);
        Ok(Self {
            run_dir: run_dir.to_path_buf(),
            cfg,
            _lock: lock,
            listener,
            clients: Vec::new(),
            log,
            state,
            health,
            code: super::stdio::code_ranges(),
        })
    }

    fn save(&self) {
        let _ = self.state.save(&self.run_dir);
    }

    fn accept(&mut self) {
        if let Ok(client) = accept4(&self.listener, SockFlag::SOCK_CLOEXEC) {
            let _ = setsockopt(
                &client,
                sockopt::SendTimeout,
                &nix::sys::time::TimeVal::new(5, 0),
            );
            self.clients.push(client);
        }
    }

    fn broadcast(&mut self, kind: u8, data: &[u8]) {
        let mut packet = Vec::with_capacity(data.len() + 1);
        packet.push(kind);
        packet.extend_from_slice(data);
        self.clients
            .retain(|c| send(c.as_raw_fd(), &packet, MsgFlags::MSG_NOSIGNAL).is_ok());
    }

    fn run(&mut self, ready: &mut Option<OwnedFd>) -> i32 {
        if self.cfg.wait_attach {
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            if !matches!(poll(&mut fds, PollTimeout::from(30_000u16)), Ok(n) if n > 0) {
                tell(
                    ready,
                    &Ready::Failed(125, "no client attached within 30 s".into()),
                );
                self.finish(false);
                return 1;
            }
            self.accept();
        }
        let mut first = true;
        let mut backoff = Duration::from_millis(100);
        loop {
            let _ = std::fs::remove_file(self.run_dir.join("stopped-by-user"));
            let started = match start(&self.cfg, &self.run_dir) {
                Ok(s) => s,
                Err(e) => {
                    self.state.error = Some(e.to_string());
                    self.state.exit_code = Some(i32::from(e.exit_code()));
                    self.state.finished = Some(now_ns());
                    if first {
                        tell(ready, &Ready::Failed(e.exit_code(), e.to_string()));
                        *ready = None;
                    }
                    break;
                }
            };
            let began = Instant::now();
            self.state.pid = started.pid;
            self.state.status = "running".into();
            self.state.started = Some(now_ns());
            self.state.error = None;
            if let Some(h) = &mut self.health {
                h.reset(started.pid);
                h.publish(&mut self.state);
            }
            self.save();
            if first {
                tell(ready, &Ready::Started(started.pid));
                *ready = None;
                first = false;
            }
            let oom_before = oom_kills(&self.cfg.cgroup_path);
            let code = self.serve(started);
            self.state.oom_killed = oom_kills(&self.cfg.cgroup_path) > oom_before;
            delete_runtime_state(&self.cfg);
            crate::events::append(
                &self.cfg.runroot,
                "die",
                &self.cfg.id,
                &self.cfg.name,
                &self.cfg.image,
            );
            self.state.pid = 0;
            self.state.exit_code = Some(code);
            self.state.finished = Some(now_ns());
            let stopped = self.run_dir.join("stopped-by-user").exists();
            if stopped || !should_restart(self.cfg.restart, code, self.state.restart_count) {
                break;
            }
            // docker's back-off: 100 ms doubling up to a minute, reset after 10 s of running.
            if began.elapsed() > Duration::from_secs(10) {
                backoff = Duration::from_millis(100);
            }
            self.state.status = "restarting".into();
            self.save();
            if self.sleep_unless_stopped(backoff) {
                break;
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
            self.state.restart_count += 1;
        }
        self.finish(true);
        0
    }

    /// Sleeps `d`, serving new attach clients; true if `stop` came meanwhile.
    fn sleep_unless_stopped(&mut self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let marker = self.run_dir.join("stopped-by-user");
        while Instant::now() < until {
            if marker.exists() {
                return true;
            }
            let left = until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            if matches!(poll(&mut fds, PollTimeout::try_from(left).unwrap_or(PollTimeout::ZERO)), Ok(n) if n > 0)
            {
                self.accept();
            }
        }
        marker.exists()
    }

    /// After the last run: unmount, record, remove with `--rm`, tell attached clients.
    fn finish(&mut self, record: bool) {
        let _ = crate::rootfs::ContainerRootfs::at(&self.cfg.bundle).unmount();
        if self.cfg.network {
            crate::network::teardown(&self.cfg.runroot, &self.cfg.id, &self.cfg.publish);
        }
        self.state.status = "exited".into();
        self.state.pid = 0;
        if record {
            self.save();
        }
        if self.cfg.autoremove {
            crate::container::remove_after_exit(&self.cfg.root, &self.cfg.runroot, &self.cfg.id);
        }
        let code = self.state.exit_code.unwrap_or(0);
        self.broadcast(EXIT, &code.to_be_bytes());
    }

    /// The event loop of one run; the exit code (128 + signal for a signal).
    fn serve(&mut self, started: Started) -> i32 {
        let Started { pid, ends } = started;
        let mut stdin = ends.stdin;
        let mut outputs: Vec<(Option<OwnedFd>, u8, Stream)> = vec![
            (ends.stdout, STDOUT, Stream::Stdout),
            (ends.stderr, STDERR, Stream::Stderr),
        ];
        let master = ends.master;
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        let _ = mask.thread_block();
        let sigfd =
            SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
        let mut exit: Option<i32> = reap(pid, self.health.as_mut());
        let mut drain_until: Option<Instant> = None;
        let mut buf = vec![0u8; MAX_PACKET];
        // Once quiet for a second, drop the code pages faulted in so far (creating the
        // container touched most of the binary): the idle footprint. Again after activity.
        let mut last_event = Instant::now();
        let mut trimmed = false;
        // A line without its newline yet (a prompt) goes to the log once output pauses.
        let mut unflushed = false;
        loop {
            let open_outputs = outputs.iter().any(|(fd, ..)| fd.is_some());
            if exit.is_some() {
                let deadline =
                    *drain_until.get_or_insert_with(|| Instant::now() + Duration::from_secs(2));
                if !open_outputs || Instant::now() >= deadline {
                    break;
                }
            }
            let mut fds: Vec<PollFd<'_>> = Vec::new();
            let mut kinds: Vec<usize> = Vec::new(); // 0..2 outputs, 10 listener, 11 sigfd, 100+ clients
            for (i, (fd, ..)) in outputs.iter().enumerate() {
                if let Some(fd) = fd {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    kinds.push(i);
                }
            }
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            kinds.push(10);
            if let Some(s) = &sigfd {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
                kinds.push(11);
            }
            for (i, c) in self.clients.iter().enumerate() {
                fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
                kinds.push(100 + i);
            }
            let mut timeout = match (exit, &self.health) {
                (Some(_), _) => Duration::from_millis(100),
                (None, Some(h)) => h.until_next(),
                (None, None) => Duration::from_secs(3600),
            };
            if !trimmed {
                timeout = timeout.min(IDLE_TRIM.saturating_sub(last_event.elapsed()));
            }
            if unflushed {
                timeout = timeout.min(Duration::from_millis(100));
            }
            timeout = timeout.min(Duration::from_secs(3600));
            match poll(
                &mut fds,
                PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
            let ready: Vec<(usize, PollFlags)> = fds
                .iter()
                .zip(&kinds)
                .filter_map(|(f, k)| f.revents().filter(|r| !r.is_empty()).map(|r| (*k, r)))
                .collect();
            drop(fds);
            if ready.is_empty() {
                if unflushed {
                    let _ = self.log.flush_partial();
                    unflushed = false;
                }
                if !trimmed && last_event.elapsed() >= IDLE_TRIM {
                    super::stdio::trim(&self.code);
                    trimmed = true;
                }
            } else {
                last_event = Instant::now();
                trimmed = false;
            }
            let mut gone_clients = Vec::new();
            for (kind, revents) in ready {
                match kind {
                    0 | 1 => {
                        let Some((Some(fd), tag, stream)) =
                            outputs.get(kind).map(|(f, t, s)| (f.as_ref(), *t, *s))
                        else {
                            continue;
                        };
                        // One byte of each packet is its kind: read what fits in the rest.
                        match nix::unistd::read(fd.as_fd(), &mut buf[..MAX_PACKET - 1]) {
                            Ok(0) | Err(nix::errno::Errno::EIO) => outputs[kind].0 = None,
                            Ok(n) => {
                                let data = buf[..n].to_vec();
                                let _ = self.log.write(stream, &data);
                                unflushed |= data.last() != Some(&b'\n');
                                self.broadcast(tag, &data);
                            }
                            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                            Err(_) => outputs[kind].0 = None,
                        }
                    }
                    10 => self.accept(),
                    11 => {
                        if let Some(s) = &sigfd {
                            while let Ok(Some(_)) = s.read_signal() {}
                        }
                        if let Some(code) = reap(pid, self.health.as_mut()) {
                            exit.get_or_insert(code);
                        }
                    }
                    k if k >= 100 => {
                        let i = k - 100;
                        let Some(client) = self.clients.get(i) else {
                            continue;
                        };
                        if !revents.contains(PollFlags::POLLIN) {
                            gone_clients.push(i);
                            continue;
                        }
                        let n = match recv(client.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                            Ok(n) => n,
                            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                            Err(_) => 0,
                        };
                        if n == 0 {
                            gone_clients.push(i);
                            continue;
                        }
                        match buf[0] {
                            STDIN if n == 1 && master.is_none() => stdin = None,
                            STDIN if n == 1 => {}
                            STDIN => {
                                if let Some(fd) = &stdin
                                    && write_all(fd, &buf[1..n]).is_err()
                                {
                                    stdin = None;
                                }
                            }
                            RESIZE if n >= 5 => {
                                if let Some(m) = &master {
                                    let rows = u16::from_be_bytes([buf[1], buf[2]]);
                                    let cols = u16::from_be_bytes([buf[3], buf[4]]);
                                    super::stdio::resize(m, rows, cols);
                                }
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            gone_clients.sort_unstable();
            for i in gone_clients.into_iter().rev() {
                if i < self.clients.len() {
                    self.clients.remove(i);
                }
            }
            if let Some(h) = &mut self.health {
                if exit.is_none() && h.due() {
                    h.run(&self.cfg);
                }
                if h.take_changed() {
                    h.publish(&mut self.state);
                    self.save();
                }
            }
        }
        let _ = self.log.flush_partial();
        drop(sigfd);
        let _ = mask.thread_unblock();
        exit.unwrap_or(255)
    }
}

fn write_all(fd: &OwnedFd, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd.as_fd(), data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reaps every exited child; the init's exit code if it was among them.
fn reap(init: i32, mut health: Option<&mut Health>) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) => {
                if p.as_raw() == init {
                    code = Some(c);
                } else if let Some(h) = health.as_deref_mut() {
                    h.reaped(p.as_raw(), c);
                }
            }
            Ok(WaitStatus::Signaled(p, s, _)) => {
                if p.as_raw() == init {
                    code = Some(128 + s as i32);
                } else if let Some(h) = health.as_deref_mut() {
                    h.reaped(p.as_raw(), 128 + s as i32);
                }
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => {}
        }
    }
}

/// The OOM killer's kills in the container's cgroup so far (0 if unknown).
fn oom_kills(cgroup_path: &str) -> u64 {
    peapod_cgroup::Cgroup::open(cgroup_path)
        .and_then(|c| c.stats())
        .map_or(0, |s| s.oom_kills)
}

fn should_restart(policy: RestartPolicy, code: i32, restarts: u32) -> bool {
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max } => code != 0 && (max == 0 || restarts < max),
    }
}
