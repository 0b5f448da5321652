//! `create`, runtime side: validate, make the state directory and cgroup, fork the
//! intermediate process, answer its requests (id maps, hooks), and record the container
//! once init reports "created". Any failure undoes every step (see [`Undo`]).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use peapod_cgroup::Cgroup;
use peapod_ns::{Forked, NamespaceKind};

use crate::channel::{Channel, Message};
use crate::claim::{Claimed, claim};
use crate::config::Bundle;
use crate::init::{self, InitContext};
use crate::state::{Paths, Record, now_rfc3339};
use crate::{CreateOptions, Error, Result, hooks, intermediate, proc};

/// Creates container `id`; on success its init waits for `start`, or with `start_at_once`
/// goes on to exec its program (there is then no exec fifo). Also returns the resources
/// this host ignored (warnings).
pub(crate) fn create(
    id: &str,
    opts: &CreateOptions,
    start_at_once: bool,
) -> Result<(Record, Paths, Cgroup, Vec<Error>)> {
    validate_id(id)?;
    let bundle = Bundle::load_with_cache(
        &opts.bundle,
        Some(&opts.root.join(crate::seccomp::CACHE_DIR)),
    )?;
    let process = bundle.spec.process().as_ref();
    if process.and_then(|p| p.terminal()).unwrap_or(false) && opts.console_socket.is_none() {
        return Err(Error::InvalidConfig {
            path: bundle.dir.join("config.json"),
            why: "process.terminal is true but no console socket was given".into(),
        });
    }
    if bundle.namespaces.joined_path(NamespaceKind::Pid).is_some() {
        crate::exe_guard::require_protected(id, "joining a pid namespace")?;
    }
    let mut claimed = claim(id, &bundle, &opts.root)?;
    let Claimed {
        record,
        paths,
        undo,
        cgroup,
        ..
    } = &mut claimed;
    bring_up(record, &bundle, opts, paths, cgroup, start_at_once, undo)?;
    claimed.undo.disarm();
    let resources = claimed.ignored.into_iter().map(Error::ResourceIgnored);
    let ignored = ignored_capabilities(&bundle)
        .into_iter()
        .chain(resources)
        .collect();
    Ok((claimed.record, claimed.paths, claimed.cgroup, ignored))
}

/// Capability names the runtime dropped, as a warning.
fn ignored_capabilities(bundle: &Bundle) -> Option<Error> {
    let unknown = bundle.unknown_capabilities.clone();
    (!unknown.is_empty()).then_some(Error::UnknownCapabilities(unknown))
}

fn bring_up(
    record: &mut Record,
    bundle: &Bundle,
    opts: &CreateOptions,
    paths: &Paths,
    cgroup: &Cgroup,
    start_at_once: bool,
    undo: &mut Undo,
) -> Result<()> {
    let id = record.id.clone();
    let id = id.as_str();
    let shared_root = bind_shared_root(record, bundle, paths, undo)?;
    let exec_fifo = if start_at_once {
        None
    } else {
        Some(make_exec_fifo(paths)?)
    };
    let console_socket = opts
        .console_socket
        .as_deref()
        .map(connect_console)
        .transpose()?;
    let joined = bundle.namespaces.open_joined()?;
    let procfs = crate::procfs::Procfs::open()?;
    let (ours, theirs) = Channel::pair()?;
    let direct = init_can_be_cloned_directly(&bundle.namespaces);
    let (joined, cgroup_dirs) = (&joined, cgroup.directories());
    // On a pure cgroup v2 host init is born in its cgroup (clone3 CLONE_INTO_CGROUP): it
    // never runs outside it, nobody moves it, and it can make its cgroup namespace at once.
    let born_in = match cgroup.unified_dir().filter(|_| direct) {
        Some(dir) => Some(
            nix::fcntl::open(
                dir,
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(Error::sys(format!("open cgroup {}", dir.display())))?,
        ),
        None => None,
    };
    let context = move |born_in_cgroup: bool| InitContext {
        bundle,
        channel: theirs,
        exec_fifo,
        console_socket,
        procfs,
        no_pivot: opts.no_pivot,
        shared_root,
        preserve_fds: opts.preserve_fds,
        cgroup_dirs,
        joined_by_init: direct.then_some(joined),
        born_in_cgroup,
        created: std::cell::Cell::new(false),
    };

    let spawned = if direct {
        // The cgroup namespace is made by init once it is in the container's cgroup, so that
        // the namespace's root is that cgroup.
        let flags = bundle.namespaces.new_flags(false) - NamespaceKind::Cgroup.clone_flag();
        let into_cgroup = match &born_in {
            // SAFETY: the runtime is single-threaded here (no async runtime, no helper
            // threads: DESIGN.md's process model), so the child's copy of the address space
            // is consistent.
            Some(dir) => match unsafe { peapod_ns::clone_process_into(flags, dir.as_fd()) } {
                Err(e) if clone3_refused(&e) => None,
                forked => Some(forked),
            },
            None => None,
        };
        drop(born_in);
        let (forked, born_in_cgroup) = match into_cgroup {
            Some(forked) => (forked, true),
            // SAFETY: as above.
            None => (unsafe { peapod_ns::clone_process(flags) }, false),
        };
        match forked? {
            Forked::Child => {
                drop(ours);
                init::run(context(born_in_cgroup))
            }
            Forked::Parent(pid) => Spawned::Init {
                pid,
                born_in_cgroup,
            },
        }
    } else {
        // SAFETY: as above.
        match unsafe { peapod_ns::fork() }? {
            Forked::Child => {
                drop(ours);
                intermediate::run(context(false), joined)
            }
            Forked::Parent(pid) => Spawned::Intermediate(pid),
        }
    };
    drop(context);
    let mut note_init = |pid: i32, start_time: u64| {
        record.pid = pid;
        record.pid_start_time = start_time;
        record.save(paths)
    };
    let result = talk_to_children(id, bundle, cgroup, spawned, &ours, undo, &mut note_init);
    if let Spawned::Intermediate(intermediate_pid) = spawned {
        // The intermediate exits once init exists; reap it whatever happened.
        if result.is_err() {
            let _ = kill(intermediate_pid, Signal::SIGKILL);
        }
        let _ = waitpid(intermediate_pid, None);
    }
    result?;
    record.created = now_rfc3339();
    record.creator = None;
    record.save(paths)?;
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, record.pid)?;
    }
    Ok(())
}

/// Without a mount namespace, with something to mount: binds the rootfs onto itself in the
/// runtime's mount namespace (init mounts under it; `delete` detaches it), and records the
/// bind's mount id before init makes anything under it.
fn bind_shared_root(
    record: &mut Record,
    bundle: &Bundle,
    paths: &Paths,
    undo: &mut Undo,
) -> Result<Option<u64>> {
    let spec = &bundle.spec;
    let needs = spec.mounts().as_ref().is_some_and(|m| !m.is_empty())
        || spec.root().as_ref().and_then(|r| r.readonly()) == Some(true);
    if bundle.namespaces.contains(NamespaceKind::Mount) || !needs {
        return Ok(None);
    }
    let mount_id = peapod_rootfs::bind_shared_root(&bundle.rootfs)?;
    undo.shared_root = Some((bundle.rootfs.clone(), mount_id));
    record.shared_root_mount = Some(mount_id);
    record.save(paths)?;
    Ok(Some(mount_id))
}

/// Whether `clone3` was refused rather than failed: container engines' seccomp profiles
/// (Docker's) answer it with ENOSYS when we run inside one; init is then moved into its
/// cgroup, as on v1.
fn clone3_refused(e: &peapod_ns::Error) -> bool {
    matches!(
        e,
        peapod_ns::Error::Spawn {
            source: nix::Error::ENOSYS | nix::Error::EPERM | nix::Error::E2BIG | nix::Error::EINVAL,
            ..
        }
    )
}

/// The fifo init blocks on until `start` opens it, opened `O_PATH` for init to reopen.
fn make_exec_fifo(paths: &Paths) -> Result<OwnedFd> {
    // Writable by the container's user whoever it maps to (the umask would take the bits
    // away, hence the chmod); only reachable through init's own fd, as the directory is 0700.
    let fifo = paths.exec_fifo();
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600))
        .and_then(|()| {
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                &fifo,
                Mode::from_bits_truncate(0o622),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
        })
        .map_err(Error::sys(format!("create {}", fifo.display())))?;
    nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(Error::sys(format!("open {}", fifo.display())))
}

/// The first process `create` starts.
#[derive(Debug, Clone, Copy)]
enum Spawned {
    /// Joins namespaces, makes the user namespace, then clones init (see `intermediate`).
    Intermediate(Pid),
    /// Init itself, cloned straight into its new namespaces (and maybe its cgroup).
    Init { pid: Pid, born_in_cgroup: bool },
}

/// Without a user namespace, a pid namespace joined by path or a time namespace (each of
/// which only the *children* of the process entering it live in, or which must be mapped
/// first), init can be cloned straight into its namespaces, as crun does: one process less.
fn init_can_be_cloned_directly(namespaces: &peapod_ns::Namespaces) -> bool {
    !namespaces.contains(NamespaceKind::User)
        && !namespaces.contains(NamespaceKind::Time)
        && namespaces.joined_path(NamespaceKind::Pid).is_none()
}

/// Serves the children's requests until init reports "created"; returns init's pid and
/// start time.
fn talk_to_children(
    id: &str,
    bundle: &Bundle,
    cgroup: &Cgroup,
    spawned: Spawned,
    channel: &Channel,
    undo: &mut Undo,
    note_init: &mut dyn FnMut(i32, u64) -> Result<()>,
) -> Result<(i32, u64)> {
    let mut init: Option<(i32, u64)> = None;
    match spawned {
        Spawned::Intermediate(pid) => {
            // Born into the cgroup before it creates anything, its children are too.
            cgroup.add_process(pid.as_raw())?;
            channel.send(&Message::Go)?;
        }
        Spawned::Init {
            pid,
            born_in_cgroup,
        } => {
            let pid = pid.as_raw();
            undo.init = Some(pid);
            // Init is already mounting the rootfs: if it failed meanwhile, its own report
            // says more than our failure to reach it.
            let moved = if born_in_cgroup {
                Ok(())
            } else {
                cgroup.add_process(pid)
            };
            let go = moved
                .map_err(Error::from)
                .and_then(|()| let_init_go(id, bundle, pid, channel));
            match go.and_then(|started| note_init(started.0, started.1).map(|()| started)) {
                Ok(started) => init = Some(started),
                Err(e) => return Err(report_of_dead_init(id, pid, channel, &e).unwrap_or(e)),
            }
        }
    }
    loop {
        let message = channel.recv()?;
        match message {
            Some(Message::WriteIdMaps) => {
                let (uid, gid) = crate::config::id_maps(&bundle.spec);
                let rootless = !nix::unistd::geteuid().is_root();
                let Spawned::Intermediate(intermediate) = spawned else {
                    return Err(protocol(id, "id maps requested by init"));
                };
                peapod_ns::write_id_maps(intermediate.as_raw(), &uid, &gid, rootless)?;
                channel.send(&Message::IdMapsWritten)?;
            }
            Some(Message::InitPid(pid)) => {
                undo.init = Some(pid);
                // Init may have failed (mounting the rootfs) before this reached it.
                let started = let_init_go(id, bundle, pid, channel)
                    .map_err(|e| report_of_dead_init(id, pid, channel, &e).unwrap_or(e))?;
                note_init(started.0, started.1)?;
                init = Some(started);
            }
            Some(Message::RunCreateRuntimeHooks) => {
                let (pid, _) =
                    init.ok_or_else(|| protocol(id, "hooks requested before init existed"))?;
                let state = creating_state(id, bundle, pid);
                #[allow(deprecated)] // prestart is deprecated by the spec but still honoured
                if let Some(h) = bundle.spec.hooks().as_ref() {
                    hooks::run(
                        "createRuntime",
                        h.create_runtime().as_deref().unwrap_or_default(),
                        &state,
                    )?;
                    hooks::run(
                        "prestart",
                        h.prestart().as_deref().unwrap_or_default(),
                        &state,
                    )?;
                }
                channel.send(&Message::HooksDone)?;
            }
            Some(Message::Created) => {
                return init.ok_or_else(|| protocol(id, "created before init existed"));
            }
            Some(Message::Failed(message)) => {
                return Err(Error::Init {
                    id: id.to_owned(),
                    message,
                });
            }
            Some(other) => return Err(protocol(id, &format!("unexpected {other:?}"))),
            None => {
                let detail = match init {
                    Some((pid, _)) => exit_detail(pid),
                    None => String::new(),
                };
                return Err(Error::InitDied {
                    id: id.to_owned(),
                    detail,
                });
            }
        }
    }
}

/// Records init's start time and sends it the state its hooks will read; init's pid and
/// start time.
fn let_init_go(id: &str, bundle: &Bundle, pid: i32, channel: &Channel) -> Result<(i32, u64)> {
    let start_time = proc::stat(pid)
        .map(|s| s.start_time)
        .ok_or_else(|| Error::InitDied {
            id: id.to_owned(),
            detail: String::new(),
        })?;
    channel.send(&Message::InitGo {
        hook_state: creating_state(id, bundle, pid),
    })?;
    Ok((pid, start_time))
}

/// The state hooks read on stdin while the container is being created.
fn creating_state(id: &str, bundle: &Bundle, pid: i32) -> String {
    crate::container::oci_state(
        id,
        crate::Status::Creating,
        pid,
        &bundle.dir,
        bundle.spec.annotations().as_ref(),
    )
}

/// What init reported before dying, if it is dead or `failed` says every other end of the
/// channel is closed (EPIPE: init closes its end as it exits, before it is a zombie), so
/// that reading cannot block.
fn report_of_dead_init(id: &str, pid: i32, channel: &Channel, failed: &Error) -> Option<Error> {
    let peers_gone = matches!(
        failed,
        Error::Sys {
            source: nix::Error::EPIPE,
            ..
        }
    );
    if !peers_gone && proc::stat(pid).is_some_and(|s| !matches!(s.state, 'Z' | 'X')) {
        return None;
    }
    match channel.recv() {
        Ok(Some(Message::Failed(message))) => Some(Error::Init {
            id: id.to_owned(),
            message,
        }),
        _ => None,
    }
}

fn protocol(id: &str, what: &str) -> Error {
    Error::Init {
        id: id.to_owned(),
        message: format!("bring-up protocol error: {what}"),
    }
}

/// How init ended, if it has (it is our child: the intermediate cloned it as our sibling).
fn exit_detail(pid: i32) -> String {
    match waitpid(
        Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    ) {
        Ok(WaitStatus::Exited(_, code)) => format!(" (exit code {code})"),
        Ok(WaitStatus::Signaled(_, signal, _)) => format!(" (killed by {signal})"),
        _ => String::new(),
    }
}

/// Container ids become directory and cgroup names: no separators, no dot names, nothing odd.
pub(crate) fn validate_id(id: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidId {
            id: id.to_owned(),
            why,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if id == "." || id == ".." || id.contains('/') || id.contains("..") {
        return bad("it must not contain '/' or '..'");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
    {
        return bad("only letters, digits, '-', '_', '.' and '+' are allowed");
    }
    Ok(())
}

fn connect_console(path: &Path) -> Result<OwnedFd> {
    UnixStream::connect(path)
        .map(OwnedFd::from)
        .map_err(|e| Error::Console {
            path: path.to_path_buf(),
            source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })
}

/// Writes `pid` to `path` (write then rename, so a reader never sees half). The temporary
/// name sits beside `path`, often in the bundle (containerd's layout): a symlink planted
/// there is removed, never followed (unlink does not follow, `O_EXCL` refuses one).
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("peapod-tmp");
    let write = || -> std::io::Result<()> {
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?
            .write_all(pid.to_string().as_bytes())?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(Error::io("write pid file", path))
}

/// Undoes a half-made container: kills init, removes the cgroup, the bind of a rootfs
/// without a mount namespace and the state directory.
#[derive(Debug)]
pub(crate) struct Undo {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) init: Option<i32>,
    /// The rootfs and the mount id of its bind (see `bind_shared_root`).
    pub(crate) shared_root: Option<(PathBuf, u64)>,
}

impl Undo {
    pub(crate) fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.init = None;
        self.shared_root = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.init.take() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
        if let Some(cgroup) = self.cgroup.take() {
            // remove() waits for exiting processes itself.
            let _ = cgroup.kill_all(Signal::SIGKILL);
            let _ = cgroup.remove();
        }
        if let Some((rootfs, mount_id)) = self.shared_root.take() {
            let _ = peapod_rootfs::release_shared_root(&rootfs, mount_id);
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate_id;

    #[test]
    fn ids_that_could_escape_or_confuse_are_refused() {
        for good in ["web", "a-b_c.1", "x+y", "0123456789abcdef"] {
            validate_id(good).unwrap();
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("..", "it must not contain '/' or '..'"),
            ("a/b", "it must not contain '/' or '..'"),
            ("a..b", "it must not contain '/' or '..'"),
            (
                "sp ace",
                "only letters, digits, '-', '_', '.' and '+' are allowed",
            ),
        ] {
            let err = validate_id(bad).unwrap_err().to_string();
            assert_eq!(err, format!("invalid container id {bad:?}: {why}"));
        }
    }
}
