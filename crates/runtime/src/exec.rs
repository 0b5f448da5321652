//! `exec`: a new process in a running container. An intermediate process joins every
//! namespace of the container's init (user first, mount last), then clones the new process
//! as the runtime's child; the runtime puts it in the container's cgroup before it goes on.
//! The process takes the user, capabilities, no_new_privileges and seccomp profile of its
//! own `process` document (the container's profile when the caller passes none).

use std::convert::Infallible;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType, Process};
use peapod_ns::{Forked, NamespaceKind, Namespaces};

use crate::channel::{Channel, Message};
use crate::seccomp::Filter;
use crate::{Error, Result, console};

/// How to run a process in a container.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The process: args, env, cwd, user, capabilities, rlimits, terminal…
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
}

/// Starts `process` in the container whose init is `init_pid`; returns its pid (a child of
/// the caller) once it has exec'd.
pub(crate) fn spawn(
    id: &str,
    init_pid: i32,
    namespaces: &Namespaces,
    seccomp: Option<&Filter>,
    cgroup: &peapod_cgroup::Cgroup,
    opts: &ExecOptions,
) -> Result<i32> {
    if opts.process.terminal().unwrap_or(false) && opts.console_socket.is_none() {
        return Err(Error::Init {
            id: id.to_owned(),
            message: "process.terminal is true but no console socket was given".into(),
        });
    }
    if namespaces.contains(NamespaceKind::Pid) {
        crate::exe_guard::require_protected(id, "exec")?;
    }
    let joined = container_namespaces(init_pid, namespaces)?.open_joined()?;
    // Without a mount namespace the container's root is init's chroot, which joining
    // namespaces does not give: the process chroots to init's root.
    let root = if namespaces.contains(NamespaceKind::Mount) {
        None
    } else {
        let path = format!("/proc/{init_pid}/root");
        Some(
            nix::fcntl::open(
                path.as_str(),
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(Error::sys(format!("open the container's root {path}")))?,
        )
    };
    let console_socket = match &opts.console_socket {
        Some(path) => {
            Some(
                UnixStream::connect(path)
                    .map(OwnedFd::from)
                    .map_err(|e| Error::Console {
                        path: path.clone(),
                        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                    })?,
            )
        }
        None => None,
    };
    let procfs = crate::procfs::Procfs::open()?;
    let (ours, theirs) = Channel::pair()?;
    // SAFETY: the runtime is single-threaded (DESIGN.md's process model).
    let intermediate = match unsafe { peapod_ns::fork() }? {
        Forked::Child => {
            drop(ours);
            let fds = (console_socket.as_ref(), root.as_ref());
            intermediate(theirs, &joined, seccomp, &procfs, opts, fds)
        }
        Forked::Parent(pid) => pid,
    };
    drop(theirs);
    drop(console_socket);
    let result = follow(id, cgroup, &ours);
    if result.is_err() {
        let _ = kill(intermediate, Signal::SIGKILL);
    }
    let _ = waitpid(intermediate, None);
    let pid = result?;
    if let Some(path) = &opts.pid_file {
        crate::create::write_pid_file(path, pid)?;
    }
    Ok(pid)
}

/// The intermediate: join the namespaces, clone the process as the runtime's child, exit.
fn intermediate(
    channel: Channel,
    joined: &peapod_ns::JoinedNamespaces,
    seccomp: Option<&Filter>,
    procfs: &crate::procfs::Procfs,
    opts: &ExecOptions,
    (console_socket, root): (Option<&OwnedFd>, Option<&OwnedFd>),
) -> ! {
    let entered = crate::intermediate::non_dumpable().and_then(|()| Ok(joined.enter()?));
    let error: Error = match entered {
        Err(e) => e,
        // SAFETY: this process is single-threaded (forked from the single-threaded runtime).
        Ok(()) => match unsafe { peapod_ns::fork_sibling() } {
            Ok(Forked::Child) => match child(&channel, seccomp, procfs, opts, console_socket, root)
            {
                Ok(never) => match never {},
                Err(e) => e,
            },
            Ok(Forked::Parent(pid)) => {
                let _ = channel.send(&Message::InitPid(pid.as_raw()));
                // SAFETY: _exit ends this forked process without the runtime's destructors.
                unsafe { libc::_exit(0) }
            }
            Err(e) => e.into(),
        },
    };
    let _ = channel.send(&Message::Failed(error.to_string()));
    // SAFETY: as above.
    unsafe { libc::_exit(1) }
}

/// Gets the new process's pid, moves it into the cgroup, lets it go, and waits for its exec
/// (the channel closes on exec, being close-on-exec) or its error.
fn follow(id: &str, cgroup: &peapod_cgroup::Cgroup, channel: &Channel) -> Result<i32> {
    let pid = match channel.recv()? {
        Some(Message::InitPid(pid)) => pid,
        Some(Message::Failed(message)) => {
            return Err(Error::Init {
                id: id.to_owned(),
                message,
            });
        }
        other => {
            return Err(Error::Init {
                id: id.to_owned(),
                message: format!("exec protocol error: {other:?}"),
            });
        }
    };
    let reap = |e: Error| {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        e
    };
    cgroup.add_process(pid).map_err(|e| reap(e.into()))?;
    channel.send(&Message::Go).map_err(reap)?;
    match channel.recv().map_err(reap)? {
        None => Ok(pid),
        Some(Message::Failed(message)) => Err(reap(Error::Init {
            id: id.to_owned(),
            message,
        })),
        Some(other) => Err(reap(Error::Init {
            id: id.to_owned(),
            message: format!("exec protocol error: {other:?}"),
        })),
    }
}

/// The container's namespaces as seen through its init: `/proc/<pid>/ns/<kind>` for every
/// kind the container has.
fn container_namespaces(init_pid: i32, namespaces: &Namespaces) -> Result<Namespaces> {
    let kinds = [
        (NamespaceKind::User, LinuxNamespaceType::User),
        (NamespaceKind::Pid, LinuxNamespaceType::Pid),
        (NamespaceKind::Uts, LinuxNamespaceType::Uts),
        (NamespaceKind::Ipc, LinuxNamespaceType::Ipc),
        (NamespaceKind::Net, LinuxNamespaceType::Network),
        (NamespaceKind::Cgroup, LinuxNamespaceType::Cgroup),
        (NamespaceKind::Time, LinuxNamespaceType::Time),
        (NamespaceKind::Mount, LinuxNamespaceType::Mount),
    ];
    let list = kinds
        .iter()
        .filter(|(kind, _)| namespaces.contains(*kind))
        .map(|(kind, typ)| {
            LinuxNamespaceBuilder::default()
                .typ(*typ)
                .path(Path::new(&format!(
                    "/proc/{init_pid}/ns/{}",
                    kind.proc_name()
                )))
                .build()
                .map_err(|e| Error::Sys {
                    what: format!("describe namespace {kind}: {e}"),
                    source: nix::Error::EINVAL,
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Namespaces::from_oci(&list)?)
}

/// The new process, inside every namespace: wait to be in the cgroup, then become the
/// configured process.
fn child(
    channel: &Channel,
    seccomp: Option<&Filter>,
    procfs: &crate::procfs::Procfs,
    opts: &ExecOptions,
    console_socket: Option<&OwnedFd>,
    root: Option<&OwnedFd>,
) -> Result<Infallible> {
    match channel.recv()? {
        Some(Message::Go) => {}
        other => {
            return Err(Error::Sys {
                what: format!("follow the runtime (got {other:?})"),
                source: nix::Error::EPROTO,
            });
        }
    }
    if let Some(root) = root {
        nix::unistd::fchdir(root).map_err(Error::sys("enter the container's root"))?;
        crate::init::chroot_cwd()?;
    }
    let process = &opts.process;
    match console_socket {
        Some(socket) if process.terminal().unwrap_or(false) => {
            console::attach_new_pty(socket.as_fd(), process.console_size().as_ref())?;
        }
        _ => console::new_session()?,
    }
    crate::init::become_process(process, seccomp, procfs, 3 + opts.preserve_fds, || Ok(()))
}
