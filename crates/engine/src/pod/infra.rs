//! A pod's **infra process**: this program re-executed as `PROGRAM __peapod-infra RUNDIR
//! READYFD` (see [`super`] for who holds which namespace).
//!
//! Its life, in one single-threaded process (it forks, so no threads):
//! 1. reads `RUNDIR/infra.json` ([`InfraConfig`]), starts a session, joins the pod's cgroup
//!    (`POD/infra`) and takes `RUNDIR/monitor.lock`;
//! 2. joins the pod's pinned network namespace (unless the pod is on the host's network),
//!    then `unshare(2)`s the IPC, UTS and PID namespaces the pod shares and sets the hostname;
//! 3. forks: the parent pins the child's (the infra's: PID 1 of the new PID namespace, if there
//!    is one) IPC, UTS and PID namespaces by bind mounts (`peapod_ns::pin`), writes
//!    `state.json` (the child's host pid and start time) and the ready line for the engine,
//!    and exits;
//! 4. the child waits for signals: `SIGCHLD` → reap every exited child (orphans of the PID
//!    namespace come to it); `SIGTERM`/`SIGINT`/`SIGHUP` → record the exit and end (ending PID 1
//!    kills whatever is left in its PID namespace: the engine stops the members first).
//!
//! Linux: `namespaces(7)`, `pid_namespaces(7)` ("the init process of the namespace"),
//! `setns(2)`, `unshare(2)`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use peapod_ns::NamespaceKind;
use serde::{Deserialize, Serialize};

use crate::container::now_ns;
use crate::error::{Error, Result};
use crate::monitor::MonitorState;
use crate::monitor::run::Ready;

/// What the engine tells an infra process (`RUNDIR/infra.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InfraConfig {
    /// The pod's name, for messages.
    pub(crate) pod: String,
    /// The pinned network namespace to join; `None` for the host's network.
    pub(crate) netns: Option<PathBuf>,
    /// The namespaces to create and pin.
    pub(crate) share: super::Share,
    pub(crate) hostname: String,
    /// Its cgroup (`linux.cgroupsPath` style, absolute).
    pub(crate) cgroup: String,
    /// Where the pins go (`RUNROOT/pods/<id>/ns`).
    pub(crate) pins: PathBuf,
    /// Join the pinned namespaces instead of making them: a new infra for a pod whose
    /// members outlived the last one (never with a shared PID namespace).
    #[serde(default)]
    pub(crate) rejoin: bool,
}

/// The namespaces pinned under the pins directory (each as `pins/<proc name>`).
pub(crate) const PINNED: &[NamespaceKind] =
    &[NamespaceKind::Ipc, NamespaceKind::Uts, NamespaceKind::Pid];

/// Whether the pod shares namespaces of `kind` (one of [`PINNED`]).
pub(crate) fn is_shared(share: &super::Share, kind: NamespaceKind) -> bool {
    match kind {
        NamespaceKind::Ipc => share.ipc,
        NamespaceKind::Uts => share.uts,
        NamespaceKind::Pid => share.pid,
        _ => false,
    }
}

fn tell(ready: &OwnedFd, msg: &Ready) {
    let mut line = serde_json::to_vec(msg).unwrap_or_default();
    line.push(b'\n');
    let _ = nix::unistd::write(ready.as_fd(), &line);
}

/// Entry point (after [`crate::monitor::dispatch`]); the process's exit code.
pub(crate) fn main(run_dir: &Path, ready_fd: i32) -> i32 {
    // SAFETY: the engine passed us this fd (the ready pipe's write end); nothing else here
    // owns it.
    let ready = unsafe { OwnedFd::from_raw_fd(ready_fd) };
    let _ = nix::fcntl::fcntl(
        &ready,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    match prepare(run_dir) {
        Ok((cfg, lock)) => hold(&cfg, run_dir, &ready, lock),
        Err(e) => {
            tell(&ready, &Ready::Failed(125, e.to_string()));
            1
        }
    }
}

/// Steps 1 and 2: session, cgroup, lock, namespaces.
fn prepare(run_dir: &Path) -> Result<(InfraConfig, Flock<File>)> {
    let path = run_dir.join("infra.json");
    let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
    let cfg: InfraConfig = serde_json::from_slice(&bytes).map_err(Error::json("infra.json"))?;
    let _ = nix::unistd::setsid();
    let cgroup = peapod_cgroup::Cgroup::create(&cfg.cgroup).map_err(|e| Error::Monitor {
        name: cfg.pod.clone(),
        why: format!("its infra cannot make its cgroup {}: {e}", cfg.cgroup),
    })?;
    cgroup
        .add_process(std::process::id().cast_signed())
        .map_err(|e| Error::Monitor {
            name: cfg.pod.clone(),
            why: format!("its infra cannot join its cgroup {}: {e}", cfg.cgroup),
        })?;
    let lock_path = run_dir.join("monitor.lock");
    let file = File::create(&lock_path).map_err(Error::io("create", &lock_path))?;
    let lock =
        Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| Error::Monitor {
            name: cfg.pod.clone(),
            why: format!(
                "its infra runs already ({} is locked: {e})",
                lock_path.display()
            ),
        })?;
    if let Some(netns) = &cfg.netns {
        let ns = File::open(netns).map_err(Error::io("open", netns))?;
        setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(Error::sys(format!(
            "join network namespace {}",
            netns.display()
        )))?;
    }
    let mut flags = CloneFlags::empty();
    for kind in PINNED {
        if !is_shared(&cfg.share, *kind) {
            continue;
        }
        if cfg.rejoin {
            let pin = cfg.pins.join(kind.proc_name());
            let ns = File::open(&pin).map_err(Error::io("open", &pin))?;
            setns(ns.as_fd(), kind.clone_flag()).map_err(Error::sys(format!(
                "join the pod's namespace {}",
                pin.display()
            )))?;
        } else {
            flags |= kind.clone_flag();
        }
    }
    unshare(flags).map_err(Error::sys("create the pod's namespaces (unshare)"))?;
    if cfg.share.uts && !cfg.rejoin {
        nix::unistd::sethostname(&cfg.hostname)
            .map_err(Error::sys(format!("set the hostname {:?}", cfg.hostname)))?;
    }
    Ok((cfg, lock))
}

/// Steps 3 and 4.
fn hold(cfg: &InfraConfig, run_dir: &Path, ready: &OwnedFd, lock: Flock<File>) -> i32 {
    // SAFETY: single-threaded (the engine exec'd us; no thread was started).
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => {
            // The child holds the lock from here on: dropping ours would unlock the shared
            // open file description (flock(2)), so only its fd is closed, at exit.
            std::mem::forget(lock);
            let pinned = if cfg.rejoin {
                Ok(())
            } else {
                pin(cfg, child.as_raw())
            };
            let state = MonitorState {
                monitor_pid: child.as_raw(),
                pid: child.as_raw(),
                status: "running".into(),
                started: Some(now_ns()),
                start_ticks: peapod_runtime::process_start_time(child.as_raw()),
                ..MonitorState::default()
            };
            if let Err(e) = pinned.and_then(|()| state.save(run_dir)) {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                tell(ready, &Ready::Failed(125, e.to_string()));
                return 1;
            }
            tell(ready, &Ready::Started(child.as_raw()));
            0
        }
        Ok(ForkResult::Child) => {
            let _lock = lock;
            sleep_and_reap(run_dir)
        }
        Err(e) => {
            tell(ready, &Ready::Failed(125, format!("cannot fork: {e}")));
            1
        }
    }
}

/// Pins the shared namespaces of `child` (the infra, PID 1 of the new PID namespace if there
/// is one; it has the IPC and UTS namespaces this process made) under the pins directory.
fn pin(cfg: &InfraConfig, child: i32) -> Result<()> {
    std::fs::create_dir_all(&cfg.pins).map_err(Error::io("create", &cfg.pins))?;
    for kind in PINNED.iter().filter(|k| is_shared(&cfg.share, **k)) {
        let target = cfg.pins.join(kind.proc_name());
        peapod_ns::pin(child, *kind, &target).map_err(|e| Error::Monitor {
            name: format!("pod {}", cfg.pod),
            why: e.to_string(),
        })?;
    }
    Ok(())
}

/// The infra's long sleep: reap children, end on a stop signal.
fn sleep_and_reap(run_dir: &Path) -> i32 {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return 1;
    }
    // Drop the code pages used so far and the heap's free memory: it only sleeps from here.
    crate::monitor::stdio::trim(&crate::monitor::stdio::code_ranges());
    // SAFETY: malloc_trim(3) has no preconditions; single-threaded.
    unsafe {
        libc::malloc_trim(0);
    }
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            },
            Ok(_) => {
                let mut state = MonitorState::load(run_dir).unwrap_or_default();
                state.status = "exited".into();
                state.exit_code = Some(0);
                state.finished = Some(now_ns());
                state.pid = 0;
                let _ = state.save(run_dir);
                return 0;
            }
            Err(_) => return 1,
        }
    }
}

/// Engine side: runs the infra process for `run_dir` (its `infra.json` written) and returns
/// the infra's pid once its namespaces are pinned.
pub(crate) fn spawn(program: &Path, run_dir: &Path, pod: &str) -> Result<i32> {
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::sys("create a pipe"))?;
    nix::fcntl::fcntl(
        &ready_w,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(Error::sys("pass a pipe to the infra process"))?;
    let log_path = run_dir.join("monitor.log");
    let log = File::create(&log_path).map_err(Error::io("create", &log_path))?;
    let mut child = Command::new(program)
        .arg(super::INFRA_ARG)
        .arg(run_dir)
        .arg(std::os::fd::AsRawFd::as_raw_fd(&ready_w).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(Error::io("run the infra process", program))?;
    drop(ready_w);
    let _ = child.wait();
    let lost = |why: String| Error::Monitor {
        name: format!("pod {pod}"),
        why,
    };
    let mut line = String::new();
    BufReader::new(File::from(ready_r))
        .read_line(&mut line)
        .map_err(|e| lost(format!("cannot read its infra's report: {e}")))?;
    match serde_json::from_str::<Ready>(line.trim_end()) {
        Ok(Ready::Started(pid)) => Ok(pid),
        Ok(Ready::Failed(_, message)) => Err(lost(message)),
        _ if line.is_empty() => Err(lost(format!(
            "its infra process exited before pinning its namespaces (see {})",
            log_path.display()
        ))),
        _ => Err(lost(format!("its infra reported {line:?}"))),
    }
}

/// Sends `signal` to the infra process recorded in `run_dir`, through a pidfd opened on it
/// and then checked to be the one recorded (the run's lock is held, and the process's start
/// time is the recorded one). `Ok(false)` if it is not running.
pub(crate) fn signal(run_dir: &Path, signal: Signal) -> Result<bool> {
    let Some(state) = MonitorState::load(run_dir) else {
        return Ok(false);
    };
    if state.pid <= 0 || !crate::monitor::is_alive(run_dir) {
        return Ok(false);
    }
    let pid = state.pid;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let Ok(raw) = i32::try_from(fd) else {
        return Ok(false);
    };
    if raw < 0 {
        return Ok(false);
    }
    // SAFETY: a new fd just returned by pidfd_open.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
    // The pidfd names whatever process had `pid` when it was opened: it is our infra if it
    // started at the recorded time (a reused pid has a later start).
    if state.start_ticks.is_none() || peapod_runtime::process_start_time(pid) != state.start_ticks {
        return Ok(false);
    }
    // SAFETY: pidfd_send_signal(2) with a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            std::os::fd::AsRawFd::as_raw_fd(&pidfd),
            signal as i32,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(false);
        }
        return Err(Error::io("signal the infra process of", run_dir)(e));
    }
    Ok(true)
}

/// Waits up to `timeout` for the infra of `run_dir` to be gone (its lock free).
pub(crate) fn wait_gone(run_dir: &Path, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while crate::monitor::is_alive(run_dir) {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}
