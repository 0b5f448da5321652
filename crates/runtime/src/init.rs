//! The container's first process, from its birth in the new namespaces to `execve`.
//!
//! Order: hostname; oom_score_adj; rootfs prepared (mounts, devices); createRuntime hooks
//! (run by the runtime) and createContainer hooks (run here); pivot_root; sysctls; masked
//! and read-only paths; terminal; rlimits; user; capabilities; no_new_privileges;
//! umask; cwd; close inherited fds; tell the runtime "created"; block on the exec fifo until
//! `start`; startContainer hooks; seccomp (earlier without no_new_privileges); exec.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, umask};
use oci_spec::runtime::{Process, Spec};
use peapod_ns::NamespaceKind;

use crate::channel::{Channel, Message};
use crate::config::Bundle;
use crate::{Error, Result, console, hooks, security};

/// `PATH` when the process's environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What init needs from the runtime process that forked it.
#[derive(Debug)]
pub(crate) struct InitContext<'a> {
    pub(crate) bundle: &'a Bundle,
    pub(crate) channel: Channel,
    /// The exec fifo, opened `O_PATH` by the runtime (the container's user may not be able
    /// to reach its directory); init reopens it for writing through /proc/self/fd. None
    /// when the container starts at once (`run`).
    pub(crate) exec_fifo: Option<OwnedFd>,
    pub(crate) console_socket: Option<OwnedFd>,
    /// The runtime's procfs, opened before init entered anything: what init reads or
    /// reopens through /proc after the pivot, it does through this.
    pub(crate) procfs: crate::procfs::Procfs,
    pub(crate) no_pivot: bool,
    /// Without a mount namespace: the mount id of the bind of the rootfs onto itself the
    /// runtime made, under which init mounts (None when there is nothing to mount).
    pub(crate) shared_root: Option<u64>,
    pub(crate) preserve_fds: u32,
    /// The container's cgroup directories on the host, for a `cgroup` mount.
    pub(crate) cgroup_dirs: Vec<PathBuf>,
    /// Set when init was cloned straight from the runtime (no intermediate): init joins
    /// these itself, and makes its cgroup namespace once it is in the container's cgroup.
    pub(crate) joined_by_init: Option<&'a peapod_ns::JoinedNamespaces>,
    /// Init was born in its cgroup (pure cgroup v2 host, clone3): it makes its cgroup
    /// namespace at once. Otherwise the runtime moves it there while it mounts the rootfs
    /// (on v1 and hybrid hosts a `cgroup` mount binds the container's directories, which
    /// does not depend on init's cgroup).
    pub(crate) born_in_cgroup: bool,
    /// Init has told the runtime "created": from then on nobody reads its errors.
    pub(crate) created: std::cell::Cell<bool>,
}

/// Runs init to `execve`; on failure, reports the error to the runtime and exits 1.
pub(crate) fn run(ctx: InitContext<'_>) -> ! {
    let error = match init(&ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    // Once init has reported "created" nobody listens (create has returned, or returns
    // without reading again): say it on the container's stderr.
    if ctx.created.get()
        || ctx
            .channel
            .send(&Message::Failed(error.to_string()))
            .is_err()
    {
        eprintln!("peapod-oci: {error}");
    }
    // SAFETY: _exit ends this process at once, without running the parent's atexit
    // handlers or destructors, which belong to the runtime process we were forked from.
    unsafe { libc::_exit(1) }
}

fn init(ctx: &InitContext<'_>) -> Result<Infallible> {
    let _ = nix::sys::prctl::set_name(c"peapod:[2:INIT]");
    if let Some(joined) = ctx.joined_by_init {
        crate::intermediate::non_dumpable()?;
        // Before any mount: sysfs shows the network namespace it is mounted in.
        joined.enter()?;
        if ctx.born_in_cgroup {
            // Before any mount: a fresh cgroup2 mount shows the namespace's root.
            make_cgroup_namespace(ctx)?;
        }
    }
    let spec = &ctx.bundle.spec;
    let process = spec.process().as_ref().ok_or_else(|| missing("process"))?;
    let linux = spec.linux().as_ref().ok_or_else(|| missing("linux"))?;
    let namespaces = &ctx.bundle.namespaces;

    if namespaces.contains(NamespaceKind::Uts) {
        set_names(spec)?;
    }
    if namespaces.is_new(NamespaceKind::Net) {
        crate::loopback::bring_up()?;
    }
    if let Some(score) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", score.to_string()).map_err(Error::io(
            "write oom_score_adj to",
            "/proc/self/oom_score_adj",
        ))?;
    }

    // Relative bind sources are relative to the bundle.
    nix::unistd::chdir(&ctx.bundle.dir).map_err(Error::sys(format!(
        "enter the bundle {}",
        ctx.bundle.dir.display()
    )))?;
    let no_strings: Vec<String> = Vec::new();
    let rootfs_spec = peapod_rootfs::RootfsSpec {
        rootfs: &ctx.bundle.rootfs,
        readonly: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        propagation: linux.rootfs_propagation().as_deref(),
        mounts: spec.mounts().as_deref().unwrap_or_default(),
        devices: linux.devices().as_deref().unwrap_or_default(),
        masked_paths: linux.masked_paths().as_deref().unwrap_or(&no_strings),
        readonly_paths: linux.readonly_paths().as_deref().unwrap_or(&no_strings),
        // New or joined: mknod is refused in any user namespace but the initial one.
        in_user_namespace: namespaces.contains(NamespaceKind::User),
        // New or joined by path: init is in it by now, and a fresh sysfs shows the devices
        // of the network namespace its mounter is in. (Binding the runtime's /sys to a
        // container that joined a namespace by path showed the host's devices.)
        own_net_namespace: namespaces.contains(NamespaceKind::Net),
        cgroup_dirs: &ctx.cgroup_dirs,
    };
    // Without a mount namespace the runtime's is the container's: the mounts are made
    // there, under the bind of the rootfs the runtime made, and the rootfs is entered by
    // chroot.
    let private = namespaces.contains(NamespaceKind::Mount);
    let prepared = if private {
        peapod_rootfs::prepare(&rootfs_spec)?
    } else {
        peapod_rootfs::prepare_shared(&rootfs_spec, ctx.shared_root)?
    };
    let hook_state = wait_for_go(ctx)?;

    #[allow(deprecated)] // prestart is deprecated by the spec but still honoured
    let runtime_hooks = spec.hooks().as_ref().is_some_and(|h| {
        h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
            || h.prestart().as_ref().is_some_and(|v| !v.is_empty())
    });
    if runtime_hooks {
        ctx.channel.send(&Message::RunCreateRuntimeHooks)?;
        match ctx.channel.recv()? {
            Some(Message::HooksDone) => {}
            other => return Err(unexpected(other)),
        }
    }
    if let Some(list) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        hooks::run_in_container("createContainer", list, &hook_state)?;
    }

    if private {
        let entered = prepared.enter(ctx.no_pivot)?;
        // Before `finish`, which makes /proc/sys read-only.
        if let Some(sysctl) = linux.sysctl() {
            peapod_rootfs::write_sysctls(sysctl)?;
        }
        entered.finish()?;
    } else {
        // Through the runtime's /proc: the rootfs may have none.
        if let Some(sysctl) = linux.sysctl() {
            peapod_rootfs::write_sysctls(sysctl)?;
        }
        prepared.chroot()?.finish()?;
    }
    reopen_dev_null()?;
    if process.terminal().unwrap_or(false) {
        let socket = ctx
            .console_socket
            .as_ref()
            .ok_or_else(|| missing("console socket"))?;
        console::attach_new_pty(socket.as_fd(), process.console_size().as_ref())?;
    } else {
        console::new_session()?;
    }
    if let Some(personality) = linux.personality() {
        set_personality(personality.domain())?;
    }
    let hooks_state = hook_state.replace("\"status\":\"creating\"", "\"status\":\"running\"");
    become_process(
        process,
        ctx.bundle.seccomp.as_ref(),
        &ctx.procfs,
        3 + ctx.preserve_fds,
        || {
            ctx.channel.send(&Message::Created)?;
            ctx.created.set(true);
            if let Some(fifo) = &ctx.exec_fifo {
                wait_for_start(fifo, &ctx.procfs)?;
            }
            if let Some(list) = spec
                .hooks()
                .as_ref()
                .and_then(|h| h.start_container().as_ref())
            {
                hooks::run_in_container("startContainer", list, &hooks_state)?;
            }
            Ok(())
        },
    )
}

/// Makes the working directory the root (and cwd `/`).
pub(crate) fn chroot_cwd() -> Result<()> {
    nix::unistd::chroot(".").map_err(Error::sys("chroot into the container's root"))?;
    nix::unistd::chdir("/").map_err(Error::sys("enter the container's root"))
}

/// Makes every stdio fd that is the host's null device the container's /dev/null instead,
/// as runc does: a file of the host's /dev is outside the container's mounts, and criu
/// cannot checkpoint a process holding one ("Can't lookup mount … path=/dev/null").
/// Only a character device 1:3 replaces one; a container without one keeps the host's.
fn reopen_dev_null() -> Result<()> {
    use nix::sys::stat::{SFlag, fstat, makedev};
    let is_null = |st: &nix::sys::stat::FileStat| {
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
            && st.st_rdev == makedev(1, 3)
    };
    let stdio_is_null = |fd: i32| {
        // SAFETY: fds 0..=2 are this process's stdio; the borrow ends with the fstat.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        fstat(fd).is_ok_and(|st| is_null(&st))
    };
    if !(0..3).any(stdio_is_null) {
        return Ok(());
    }
    let null = match nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(_) => return Ok(()),
    };
    if !fstat(&null).is_ok_and(|st| is_null(&st)) {
        return Ok(());
    }
    for fd in (0..3).filter(|fd| stdio_is_null(*fd)) {
        // SAFETY: dup2 onto a stdio number; `null` stays open across the call.
        let ret = unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) };
        nix::errno::Errno::result(ret).map_err(Error::sys("reopen /dev/null as stdio"))?;
    }
    Ok(())
}

/// Waits until the runtime has put init in the container's cgroup (or, born there, until it
/// has its start time); when the runtime moved it, then makes its cgroup namespace, rooted
/// there. Returns the state the hooks read.
fn wait_for_go(ctx: &InitContext<'_>) -> Result<String> {
    let hook_state = match ctx.channel.recv()? {
        Some(Message::InitGo { hook_state }) => hook_state,
        other => return Err(unexpected(other)),
    };
    if ctx.joined_by_init.is_some() && !ctx.born_in_cgroup {
        make_cgroup_namespace(ctx)?;
    }
    Ok(hook_state)
}

/// A new cgroup namespace, if the container has one, rooted in init's cgroup of now.
fn make_cgroup_namespace(ctx: &InitContext<'_>) -> Result<()> {
    if ctx.bundle.namespaces.is_new(NamespaceKind::Cgroup) {
        peapod_ns::unshare_namespaces(NamespaceKind::Cgroup.clone_flag())?;
    }
    Ok(())
}

/// Turns the calling process into `process`: rlimits, user, capabilities,
/// no_new_privileges, umask, cwd, fds from `first_closed_fd` on closed at exec, the seccomp
/// filter, then exec. `before_exec` runs after everything that needs privileges (init waits
/// for `start` there, and runs the startContainer hooks). Shared by init and `exec`.
///
/// After the seccomp filter is loaded the runtime makes no syscall the container's program
/// would not make itself: only the exec (by fd, or by path when the profile does not allow
/// `execveat`; see [`crate::trampoline`]), and, without no_new_privileges, one `capset`.
/// Loading a filter without no_new_privileges needs CAP_SYS_ADMIN: when the process's
/// final sets lack it, it is kept in the effective and permitted sets until the filter is
/// loaded, and that last `capset` drops it (runc makes the same call after its filter).
pub(crate) fn become_process(
    process: &Process,
    seccomp: Option<&crate::seccomp::Filter>,
    procfs: &crate::procfs::Procfs,
    first_closed_fd: u32,
    before_exec: impl FnOnce() -> Result<()>,
) -> Result<Infallible> {
    security::set_rlimits(process.rlimits().as_deref().unwrap_or_default())?;
    // Rust's runtime ignores SIGPIPE and an ignored signal stays ignored across exec: give
    // the container's process the default, as it would have had from a shell.
    // SAFETY: SIG_DFL installs no handler; this process is single-threaded.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        )
    }
    .map_err(Error::sys("restore the default SIGPIPE action"))?;
    let no_new_privileges = process.no_new_privileges().unwrap_or(false);
    let env = process.env().clone().unwrap_or_default();
    let program = find_program(process, &env)?;
    let exec = Exec::prepare(
        program,
        process.args().as_deref().unwrap_or_default(),
        &env,
        seccomp.is_none_or(crate::seccomp::Filter::allows_execveat),
    )?;
    let capabilities = process.capabilities().as_ref();
    // Without no_new_privileges and without configured capabilities, a non-root user ends
    // with no effective capability to load the filter with: load it first, as before.
    let filter_first = !no_new_privileges
        && capabilities.is_none()
        && process.user().uid() != 0
        && seccomp.is_some();
    if filter_first {
        if let Some(filter) = seccomp {
            filter.load()?;
        }
    }
    let restore_sets = capabilities
        .filter(|c| {
            seccomp.is_some() && !no_new_privileges && !security::has_effective_sys_admin(c)
        })
        .map(security::FinalSets::of);
    let keep_sys_admin = restore_sets.is_some();
    // In a user namespace whose setgroups was denied, setgroups(2) fails with EPERM. Read
    // through the runtime's procfs: the container's /proc may be anything by now.
    let may_setgroups = procfs.may_setgroups();
    security::drop_bounding(capabilities)?;
    security::set_user(process.user(), may_setgroups)?;
    security::set_capabilities(capabilities, keep_sys_admin)?;
    if no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(Error::sys("set no_new_privileges"))?;
    }
    if let Some(mask) = process.user().umask() {
        umask(Mode::from_bits_truncate(mask));
    }
    enter_cwd(process.cwd())?;
    close_inherited_fds(first_closed_fd)?;
    before_exec()?;
    if !filter_first {
        if let Some(filter) = seccomp {
            filter.load()?;
        }
    }
    if let Some(sets) = restore_sets {
        sets.apply()?;
    }
    exec.run()
}

/// `linux.personality`: the execution domain (LINUX or LINUX32, as `setarch` sets it).
fn set_personality(domain: oci_spec::runtime::LinuxPersonalityDomain) -> Result<()> {
    const PER_LINUX32: i32 = 0x0008;
    let value = match domain {
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0,
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    nix::sys::personality::set(nix::sys::personality::Persona::from_bits_retain(value))
        .map(drop)
        .map_err(Error::sys(format!("set personality {domain}")))
}

fn set_names(spec: &Spec) -> Result<()> {
    if let Some(name) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(name).map_err(Error::sys(format!("set hostname {name:?}")))?;
    }
    if let Some(name) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        let c = CString::new(name)
            .map_err(|_| Error::sys(format!("set domainname {name:?}"))(nix::Error::EINVAL))?;
        // SAFETY: nix has no setdomainname; `c` is a valid NUL-terminated string that
        // outlives the call, and its length excludes the NUL as the syscall expects.
        let ret = unsafe { libc::setdomainname(c.as_ptr(), name.len()) };
        nix::errno::Errno::result(ret).map_err(Error::sys(format!("set domainname {name:?}")))?;
    }
    Ok(())
}

/// Resolves `args[0]` the way execvp does, against the container's own `PATH`, so that a
/// program that cannot run fails `create` rather than `start`, with the kernel's errno:
/// ENOENT when it is missing (or no `PATH` entry has it), EACCES for a file without the x
/// bit or a directory, ENOTDIR or ELOOP for a bad path (runc's and podman's callers read
/// "permission denied" as exit 126, "no such file" as 127). ENOEXEC shows at exec.
fn find_program(process: &Process, env: &[String]) -> Result<CString> {
    let arg0 = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or_else(|| missing("process.args"))?;
    let fail = |errno: nix::Error| Error::Exec {
        program: arg0.clone(),
        errno,
        searched: !arg0.contains('/'),
    };
    let found = if arg0.contains('/') {
        let path = PathBuf::from(arg0);
        executable(&path).map_err(fail)?;
        path
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        // As execvp: a candidate refused for permission is remembered, others skipped.
        let mut denied = false;
        let mut found = None;
        for candidate in path.split(':').map(|dir| Path::new(dir).join(arg0)) {
            match executable(&candidate) {
                Ok(()) => {
                    found = Some(candidate);
                    break;
                }
                Err(nix::Error::EACCES) => denied = true,
                Err(_) => {}
            }
        }
        let errno = if denied {
            nix::Error::EACCES
        } else {
            nix::Error::ENOENT
        };
        found.ok_or_else(|| fail(errno))?
    };
    CString::new(found.into_os_string().into_encoded_bytes()).map_err(|_| fail(nix::Error::EINVAL))
}

/// What execve(2) would say of `path` before reading it: the x bit (access(2)), then a
/// regular file (execve refuses anything else with EACCES).
fn executable(path: &Path) -> std::result::Result<(), nix::Error> {
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK)?;
    let stat = nix::sys::stat::stat(path)?;
    if nix::sys::stat::SFlag::from_bits_truncate(stat.st_mode) & nix::sys::stat::SFlag::S_IFMT
        != nix::sys::stat::SFlag::S_IFREG
    {
        return Err(nix::Error::EACCES);
    }
    Ok(())
}

/// chdir, then check the result is inside the root: a leaked directory fd used as cwd would
/// read "(unreachable)" (CVE-2024-21626).
fn enter_cwd(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd).map_err(Error::sys(format!("enter process.cwd {}", cwd.display())))?;
    // A directory of a detached mount (the runtime's own /proc, say) has no path: getcwd
    // fails with ENOENT, or (older kernels) reads "(unreachable)".
    let outside = nix::unistd::getcwd().map_or(true, |now| !now.is_absolute());
    if outside {
        return Err(Error::sys(format!(
            "use process.cwd {}: it resolves outside the container",
            cwd.display()
        ))(nix::Error::EPERM));
    }
    Ok(())
}

/// Marks every fd from `first` up close-on-exec, so nothing the runtime holds reaches the
/// container (CVE-2024-21626); fds below `first` are stdio and `--preserve-fds`.
fn close_inherited_fds(first: u32) -> Result<()> {
    // SAFETY: nix has no close_range; the call only changes fd flags and touches no memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    nix::errno::Errno::result(ret)
        .map(drop)
        .map_err(Error::sys("mark inherited fds close-on-exec"))
}

/// Blocks until `start` opens the exec fifo, then writes the byte it waits for. The fifo is
/// reopened through the runtime's procfs, not the container's /proc.
fn wait_for_start(fifo: &OwnedFd, procfs: &crate::procfs::Procfs) -> Result<()> {
    let writer = procfs.reopen(fifo, OFlag::O_WRONLY)?;
    nix::unistd::write(&writer, b"0").map_err(Error::sys("signal start on the exec fifo"))?;
    Ok(())
}

/// The container's program, ready to exec (see [`become_process`]).
enum Exec {
    Trampoline(crate::trampoline::PreparedExec, CString),
    /// No trampoline: the whole runtime runs from a sealed copy (see `trampoline`).
    Direct(CString, Vec<CString>, Vec<CString>),
}

impl Exec {
    /// `by_fd`: the seccomp profile (if any) lets `execveat` through.
    fn prepare(program: CString, args: &[String], env: &[String], by_fd: bool) -> Result<Self> {
        let to_c = |s: &String| {
            CString::new(s.as_str())
                .map_err(|_| Error::sys(format!("pass {s:?} to exec"))(nix::Error::EINVAL))
        };
        let args = args.iter().map(to_c).collect::<Result<Vec<_>>>()?;
        let env = env.iter().map(to_c).collect::<Result<Vec<_>>>()?;
        Ok(match crate::trampoline::get() {
            Some(t) => Self::Trampoline(t.prepare(&program, args, &env, by_fd), program),
            None => Self::Direct(program, args, env),
        })
    }

    fn run(&self) -> Result<Infallible> {
        match self {
            Self::Trampoline(exec, program) => Err(Error::sys(format!(
                "exec {program:?} through the trampoline"
            ))(exec.run())),
            Self::Direct(program, args, env) => nix::unistd::execve(program, args, env)
                .map_err(Error::sys(format!("exec {program:?}"))),
        }
    }
}

fn unexpected(message: Option<Message>) -> Error {
    Error::Sys {
        what: format!("follow the runtime (got {message:?})"),
        source: nix::Error::EPROTO,
    }
}

fn missing(what: &str) -> Error {
    Error::Sys {
        what: format!("find {what} in the config"),
        source: nix::Error::EINVAL,
    }
}
