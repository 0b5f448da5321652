//! Creating and starting the container from the monitor: through the built-in runtime
//! in-process (the monitor is single-threaded, as `create` needs), or through another OCI
//! runtime binary (`--runtime crun`), runc's command line (`run --detach`), whose init the
//! monitor inherits as the children's subreaper.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use super::MonitorConfig;
use super::stdio::{ConsoleSocket, ContainerEnds, MonitorEnds, pipes};
use crate::error::{Error, Result};

/// A running container as its monitor holds it.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) pid: i32,
    pub(crate) ends: MonitorEnds,
}

fn dev_null() -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(Error::io("open", Path::new("/dev/null")))
}

/// Points fds 0, 1 and 2 at the container's ends (for the runtime to pass on), or back at
/// /dev/null.
fn set_stdio(ends: Option<&ContainerEnds>) -> Result<()> {
    let null = dev_null()?;
    let (i, o, e) = match ends {
        Some(c) => (c.stdin.as_fd(), c.stdout.as_fd(), c.stderr.as_fd()),
        None => (null.as_fd(), null.as_fd(), null.as_fd()),
    };
    let what = "set the container's stdio";
    nix::unistd::dup2_stdin(i).map_err(Error::sys(what))?;
    nix::unistd::dup2_stdout(o).map_err(Error::sys(what))?;
    nix::unistd::dup2_stderr(e).map_err(Error::sys(what))?;
    Ok(())
}

/// Clears what a previous run left in the runtime's state (a monitor killed mid-run).
pub(crate) fn delete_runtime_state(cfg: &MonitorConfig) {
    delete_runtime(cfg.runtime.as_deref(), &cfg.runtime_root, &cfg.id);
}

/// `delete --force` of container `id` in the runtime root `root`: through the built-in
/// runtime (`runtime` `None`) or that runtime binary. Best effort.
pub(crate) fn delete_runtime(runtime: Option<&Path>, root: &Path, id: &str) {
    match runtime {
        None => {
            if let Ok(c) = peapod_runtime::Container::load(root, id) {
                let _ = c.delete(true);
            }
        }
        Some(runtime) => {
            let _ = Command::new(runtime)
                .arg("--root")
                .arg(root)
                .args(["delete", "--force", id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Creates and starts the container.
pub(crate) fn start(cfg: &MonitorConfig, run_dir: &Path) -> Result<Started> {
    delete_runtime_state(cfg);
    let console = if cfg.tty {
        Some(ConsoleSocket::listen(run_dir)?)
    } else {
        None
    };
    let (mut ends, child) = if cfg.tty {
        (MonitorEnds::default(), None)
    } else {
        let (m, c) = pipes(cfg.stdin)?;
        (m, Some(c))
    };
    let pid = match &cfg.runtime {
        None => in_process(cfg, child.as_ref(), console.as_ref())?,
        Some(runtime) => external(
            cfg,
            runtime,
            child.as_ref(),
            console.as_ref(),
            &mut ends,
            run_dir,
        )?,
    };
    drop(child);
    if let Some(console) = console {
        let master = console.receive()?;
        let what = "duplicate the terminal";
        ends.stdin = Some(
            master
                .try_clone()
                .map_err(Error::io("dup", Path::new("pty")))?,
        );
        ends.stdout = Some(master.try_clone().map_err(|e| Error::Sys {
            what: what.into(),
            source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })?);
        ends.master = Some(master);
        if !cfg.stdin {
            ends.stdin = None;
        }
    }
    Ok(Started { pid, ends })
}

fn in_process(
    cfg: &MonitorConfig,
    child: Option<&ContainerEnds>,
    console: Option<&ConsoleSocket>,
) -> Result<i32> {
    let opts = peapod_runtime::CreateOptions {
        root: cfg.runtime_root.clone(),
        bundle: cfg.bundle.clone(),
        console_socket: console.map(|c| c.path.clone()),
        ..peapod_runtime::CreateOptions::default()
    };
    if child.is_some() {
        set_stdio(child)?;
    }
    let result = peapod_runtime::Container::create_and_start(&cfg.id, &opts);
    set_stdio(None)?;
    let (container, _warnings) = result.map_err(Error::from_start)?;
    Ok(container.pid())
}

fn external(
    cfg: &MonitorConfig,
    runtime: &Path,
    child: Option<&ContainerEnds>,
    console: Option<&ConsoleSocket>,
    ends: &mut MonitorEnds,
    run_dir: &Path,
) -> Result<i32> {
    let pid_file = run_dir.join("runtime.pid");
    let _ = std::fs::remove_file(&pid_file);
    let mut cmd = Command::new(runtime);
    cmd.arg("--root")
        .arg(&cfg.runtime_root)
        .args(["run", "--detach", "--bundle"])
        .arg(&cfg.bundle);
    cmd.arg("--pid-file").arg(&pid_file);
    if let Some(c) = console {
        cmd.arg("--console-socket").arg(&c.path);
    }
    cmd.arg(&cfg.id);
    let fd = |f: &OwnedFd| -> Result<Stdio> {
        Ok(Stdio::from(
            f.try_clone().map_err(Error::io("dup", Path::new("pipe")))?,
        ))
    };
    let (err_r, err_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::sys("create a pipe"))?;
    match child {
        Some(c) => {
            cmd.stdin(fd(&c.stdin)?)
                .stdout(fd(&c.stdout)?)
                .stderr(fd(&c.stderr)?);
        }
        None => {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(err_w));
        }
    }
    let status = cmd.status().map_err(Error::io("run", runtime))?;
    if !status.success() {
        let mut message = String::new();
        let source = if child.is_some() {
            ends.stderr.take()
        } else {
            Some(err_r)
        };
        if let Some(source) = source {
            let _ = nix::fcntl::fcntl(
                &source,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            let _ = std::fs::File::from(source)
                .take(64 * 1024)
                .read_to_string(&mut message);
        }
        let text = format!("{} ({status})", message.trim());
        if text.contains("no such file") || text.contains("not found") {
            return Err(Error::CommandNotFound(text));
        }
        if text.contains("permission denied") {
            return Err(Error::CommandNotExecutable(text));
        }
        return Err(Error::ExternalRuntime {
            runtime: runtime.display().to_string(),
            message: text,
        });
    }
    let text = std::fs::read_to_string(&pid_file).map_err(Error::io("read", &pid_file))?;
    text.trim().parse().map_err(|_| Error::ExternalRuntime {
        runtime: runtime.display().to_string(),
        message: format!("wrote {text:?} as the container's pid"),
    })
}
