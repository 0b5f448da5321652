//! Process creation for the runtime's bring-up: `fork`, and a fork whose child becomes the
//! caller's sibling (so a short-lived intermediate process can create the container's init
//! as a direct child of the runtime).

use nix::unistd::Pid;

use crate::{Error, Result};

/// Which side of a fork the caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Child,
    Parent(Pid),
}

/// `fork(2)`.
///
/// # Safety
/// The caller must be single-threaded: in the child only the calling thread exists, and any
/// lock another thread held stays locked forever.
pub unsafe fn fork() -> Result<Forked> {
    // SAFETY: the caller guarantees it is single-threaded (this function's contract).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child)),
        Err(source) => Err(Error::Spawn {
            how: "fork",
            source,
        }),
    }
}

/// `clone(CLONE_PARENT | SIGCHLD)`: like fork, but the child's parent is the caller's parent.
///
/// # Safety
/// As for [`fork`]: the caller must be single-threaded.
pub unsafe fn fork_sibling() -> Result<Forked> {
    // SAFETY: the caller guarantees it is single-threaded (this function's contract).
    unsafe { raw_clone(libc::CLONE_PARENT as libc::c_ulong, "clone(CLONE_PARENT)") }
}

/// `clone(flags | SIGCHLD)` without a new stack: a fork whose child starts in the new
/// namespaces `flags` asks for (`CLONE_NEWPID` makes it pid 1 of a new pid namespace).
///
/// # Safety
/// As for [`fork`]: the caller must be single-threaded.
pub unsafe fn clone_process(flags: nix::sched::CloneFlags) -> Result<Forked> {
    // SAFETY: the caller guarantees it is single-threaded (this function's contract).
    unsafe { raw_clone(flags.bits() as libc::c_ulong, "clone into new namespaces") }
}

/// The raw clone(2) with `flags | SIGCHLD` and no new stack, which behaves like fork (the
/// child runs on a copy of the caller's stack); nix's clone needs a stack and a callback.
///
/// # Safety
/// As for [`fork`]: the caller must be single-threaded.
unsafe fn raw_clone(flags: libc::c_ulong, how: &'static str) -> Result<Forked> {
    let flags = flags | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: x86_64/aarch64 clone(flags, newsp = 0, parent_tid, child_tid, tls): no stack,
    // no tid pointers and no TLS, so the kernel touches no memory of ours; the caller is
    // single-threaded, so the child's copy of the address space is consistent.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    forked(ret, how)
}

/// What a clone-like syscall's return value means.
fn forked(ret: libc::c_long, how: &'static str) -> Result<Forked> {
    match ret {
        -1 => Err(Error::Spawn {
            how,
            source: nix::Error::last(),
        }),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// `clone3(flags | CLONE_INTO_CGROUP)` without a new stack: as [`clone_process`], with the
/// child born in the cgroup v2 directory `cgroup` (Linux 5.7), so that it never runs
/// outside it and nobody has to move it. Kernels without clone3 fail with
/// [`Error::Spawn`] and `ENOSYS`.
///
/// # Safety
/// As for [`fork`]: the caller must be single-threaded.
pub unsafe fn clone_process_into(
    flags: nix::sched::CloneFlags,
    cgroup: std::os::fd::BorrowedFd<'_>,
) -> Result<Forked> {
    use std::os::fd::AsRawFd;
    /// `struct clone_args` as of Linux 5.7 (`CLONE_ARGS_SIZE_VER2`).
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        // No stack: the child runs on its copy of ours, as after fork.
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup.as_raw_fd() as u64,
    };
    // SAFETY: `args` is a valid clone_args of the size passed, alive for the call; with no
    // stack, tid pointers or TLS the kernel writes no memory of ours; the caller is
    // single-threaded, so the child's copy of the address space is consistent.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    forked(ret, "clone3 into a cgroup")
}

#[cfg(test)]
mod tests {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{getpid, getppid, pipe, read, write};

    use super::*;

    #[test]
    fn a_sibling_is_a_child_of_the_callers_parent() {
        let (rx, tx) = pipe().unwrap();
        // SAFETY: the children below only make raw syscalls (no allocation, no locks) and
        // leave with _exit, so forking from the multi-threaded test harness is sound.
        match unsafe { fork() }.unwrap() {
            Forked::Child => {
                // SAFETY: as above.
                let code = match unsafe { fork_sibling() } {
                    Ok(Forked::Child) => {
                        let ppid = getppid().as_raw().to_ne_bytes();
                        i32::from(write(&tx, &ppid).is_err())
                    }
                    Ok(Forked::Parent(_)) => 0,
                    Err(_) => 2,
                };
                // SAFETY: _exit is async-signal-safe and ends this child at once.
                unsafe { libc::_exit(code) }
            }
            Forked::Parent(middle) => {
                assert_eq!(
                    waitpid(middle, None).unwrap(),
                    WaitStatus::Exited(middle, 0)
                );
                drop(tx);
                let mut buf = [0u8; 4];
                assert_eq!(read(&rx, &mut buf).unwrap(), 4);
                assert_eq!(i32::from_ne_bytes(buf), getpid().as_raw());
                // The sibling is our child: we can reap it.
                let status = waitpid(None, None).unwrap();
                assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
            }
        }
    }
}
