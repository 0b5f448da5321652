//! `exec`: another process in a running container, through its runtime, run from the
//! calling process. Without `-t` the process gets the caller's stdio (stdin only with
//! `-i`); with `-t` it gets a new pty whose master the caller copies to and from its own
//! terminal (raw mode, window size) until the process exits.

use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{Containers, State};
use crate::error::{Error, Result};

/// What `exec` runs.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// `-e KEY=VALUE`, over the container's environment.
    pub env: Vec<String>,
    /// `-u USER[:GROUP]` (numeric ids or names from the container's /etc/passwd).
    pub user: Option<String>,
    /// `-w DIR`.
    pub workdir: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub stdin: bool,
    /// `-d`: do not wait.
    pub detach: bool,
    /// `--privileged`: every capability.
    pub privileged: bool,
}

fn code_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

impl Containers<'_> {
    /// `exec`: runs `req` in the running container `key`; its exit code (0 with `detach`).
    /// The caller must be single-threaded (the runtime forks) and, for the built-in
    /// runtime, run from a protected binary ([`peapod_runtime::reexec_read_only`]).
    ///
    /// # Errors
    /// [`Error::WrongState`] unless running; [`Error::CommandNotFound`] (127) /
    /// [`Error::CommandNotExecutable`] (126); runtime errors.
    pub fn exec(&self, key: &str, req: &ExecRequest) -> Result<i32> {
        let record = self.get(key)?;
        record.refuse_infra()?;
        if record.state != State::Running {
            return Err(Error::WrongState {
                name: record.name,
                state: record.state.to_string(),
                action: "exec in it (it is not running)",
            });
        }
        if req.cmd.is_empty() {
            return Err(Error::InvalidFlag {
                flag: "exec",
                value: String::new(),
                why: "no command given".into(),
            });
        }
        let runtime_root = self.runtime_root(&record);
        if let Some(runtime) = &record.config.runtime {
            return self.exec_external(
                &super::lifecycle::runtime_path(runtime),
                &runtime_root,
                &record.id,
                req,
            );
        }
        let container = peapod_runtime::Container::load(&runtime_root, &record.id)?;
        let mut process = container.config_process()?;
        process.set_args(Some(req.cmd.clone()));
        process.set_terminal(Some(req.tty));
        let mut env = process.env().clone().unwrap_or_default();
        for e in &req.env {
            let key = e.split('=').next().unwrap_or(e);
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        process.set_env(Some(env));
        if let Some(w) = &req.workdir {
            process.set_cwd(w.into());
        }
        if let Some(u) = &req.user {
            let rootfs = crate::rootfs::ContainerRootfs::at(&self.engine.paths(&record.id).dir);
            let passwd = rootfs
                .read_file("/etc/passwd", 1 << 20)?
                .unwrap_or_default();
            let group = rootfs.read_file("/etc/group", 1 << 20)?.unwrap_or_default();
            let resolved = crate::spec::resolve_user(u, &passwd, &group)?;
            let mut user = process.user().clone();
            user.set_uid(resolved.uid);
            user.set_gid(resolved.gid);
            user.set_additional_gids(Some(resolved.additional_gids));
            process.set_user(user);
        }
        if req.privileged {
            let all = crate::spec::capabilities(&crate::spec::ContainerConfig {
                privileged: true,
                ..Default::default()
            })?;
            let caps: Vec<String> = all;
            let parsed: oci_spec::runtime::Capabilities =
                caps.iter().filter_map(|c| c.parse().ok()).collect();
            if let Some(mut c) = process.capabilities().clone() {
                c.set_bounding(Some(parsed.clone()));
                c.set_effective(Some(parsed.clone()));
                c.set_permitted(Some(parsed));
                process.set_capabilities(Some(c));
            }
        }
        let console = if req.tty {
            let dir = self.engine.paths(&record.id).run;
            Some(crate::monitor::stdio::ConsoleSocket::listen_named(
                &dir,
                &format!("exec-{}.sock", std::process::id()),
            )?)
        } else {
            None
        };
        if !req.stdin
            && !req.tty
            && let Ok(null) = std::fs::File::open("/dev/null")
        {
            let _ = nix::unistd::dup2_stdin(null.as_fd());
        }
        let pid = container
            .exec(&peapod_runtime::ExecOptions {
                process,
                console_socket: console.as_ref().map(|c| c.path.clone()),
                pid_file: None,
                preserve_fds: 0,
            })
            .map_err(Error::from_start)?;
        crate::events::record(self.engine, "exec", &record);
        let master = match console {
            Some(c) => Some(c.receive()?),
            None => None,
        };
        if req.detach {
            return Ok(0);
        }
        match master {
            None => Ok(peapod_runtime::wait_for(pid)?),
            Some(master) => Ok(pump_tty(&master, pid, req.stdin)),
        }
    }

    fn exec_external(
        &self,
        runtime: &std::path::Path,
        root: &std::path::Path,
        id: &str,
        req: &ExecRequest,
    ) -> Result<i32> {
        let mut cmd = std::process::Command::new(runtime);
        cmd.arg("--root").arg(root).arg("exec");
        if req.tty {
            cmd.arg("--tty");
        }
        if req.detach {
            cmd.arg("--detach");
        }
        for e in &req.env {
            cmd.arg("--env").arg(e);
        }
        if let Some(w) = &req.workdir {
            cmd.arg("--cwd").arg(w);
        }
        if let Some(u) = &req.user {
            cmd.arg("--user").arg(u);
        }
        cmd.arg(id).args(&req.cmd);
        if !req.stdin {
            cmd.stdin(std::process::Stdio::null());
        }
        let status = cmd.status().map_err(Error::io("run", runtime))?;
        Ok(status.code().unwrap_or(125))
    }
}

/// Copies between the caller's terminal and the pty until `pid` exits; its exit code.
/// The caller's terminal is in raw mode meanwhile (ctrl-c is a byte the pty turns into
/// SIGINT for the process), and its size follows the caller's (SIGWINCH).
fn pump_tty(master: &OwnedFd, pid: i32, stdin_open: bool) -> i32 {
    use crate::monitor::attach::{RawMode, Signals, window_size};
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stdin_is_tty = nix::unistd::isatty(stdin.as_fd()).unwrap_or(false);
    let _raw = RawMode::enter(stdin_is_tty && stdin_open);
    let signals = Signals::take(&[Signal::SIGWINCH, Signal::SIGCHLD]);
    let follow_size = || {
        if let Some((rows, cols)) = window_size(stdin.as_fd()) {
            crate::monitor::stdio::resize(master, rows, cols);
        }
    };
    follow_size();
    let mut buf = vec![0u8; 32 * 1024];
    let mut code = None;
    let mut stdin_open = stdin_open;
    loop {
        if code.is_none()
            && let Ok(status) = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG))
        {
            code = code_of(status);
        }
        let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let signal_index = fds.len();
        if let Some(fd) = signals.fd() {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        let stdin_index = fds.len();
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // Once the process is gone, what is left in the pty drains; SIGCHLD wakes us
        // otherwise (the timeout only bounds a missed one).
        let timeout: u16 = if code.is_some() { 50 } else { 1000 };
        let _ = poll(&mut fds, PollTimeout::from(timeout));
        let ready = |i: usize| {
            fds.get(i)
                .and_then(PollFd::revents)
                .is_some_and(|r| !r.is_empty())
        };
        let (master_ready, signal_ready, stdin_ready) = (
            ready(0),
            signals.fd().is_some() && ready(signal_index),
            stdin_open && ready(stdin_index),
        );
        drop(fds);
        if signal_ready && signals.pending().contains(&Signal::SIGWINCH) {
            follow_size();
        }
        if master_ready {
            match nix::unistd::read(master.as_fd(), &mut buf) {
                Ok(n) if n > 0 => write_all(stdout.as_fd(), &buf[..n]),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                _ => {
                    if code.is_none() {
                        code = waitpid(Pid::from_raw(pid), None).ok().and_then(code_of);
                    }
                    break;
                }
            }
        } else if code.is_some() {
            break;
        }
        if stdin_ready {
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(n) if n > 0 => write_all(master.as_fd(), &buf[..n]),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                _ => stdin_open = false,
            }
        }
    }
    code.unwrap_or(255)
}

/// Writes all of `data` (best effort: a terminal that went away loses it).
fn write_all(fd: std::os::fd::BorrowedFd<'_>, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(0) => return,
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}
