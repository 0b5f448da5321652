//! Network namespaces: persist one as a bind-mounted file, remove it, and run code inside one.
//!
//! A persisted namespace is what `ip netns add` makes: a new net namespace (`unshare(2)`,
//! `CLONE_NEWNET`) whose `/proc/thread-self/ns/net` is bind-mounted onto a file, so that it
//! outlives every process in it (namespaces(7), "The /proc/[pid]/ns/ directory").
//!
//! Code that must run *inside* a namespace runs on a short-lived thread that `setns(2)`s into
//! it and ends with the call: the caller's thread, and any tokio worker, never changes
//! namespace (DESIGN.md: never setns a worker).

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

use crate::error::{NetError, Result};
use crate::link;

/// Runs `f` on a new thread that has joined the network namespace `netns`, and returns its
/// result. The thread ends with the call, so no other code ever runs in the namespace by
/// accident.
///
/// # Errors
/// [`NetError::Io`] if `setns(2)` fails (not a net namespace fd, or no `CAP_SYS_ADMIN`), or
/// whatever `f` returns.
pub fn in_netns<T: Send>(netns: BorrowedFd<'_>, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            setns(netns, CloneFlags::CLONE_NEWNET)
                .map_err(|e| NetError::io("enter the network namespace (setns)", e))?;
            f()
        });
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Opens a network namespace file (a persisted one, or `/proc/PID/ns/net`) for [`in_netns`]
/// and [`crate::Attachment`].
///
/// # Errors
/// [`NetError::Io`] naming the path if it cannot be opened.
pub fn open_netns(path: &Path) -> Result<OwnedFd> {
    let file = OpenOptions::new()
        .read(true)
        .open(path)
        .map_err(|e| NetError::io(format!("open network namespace {}", path.display()), e))?;
    Ok(OwnedFd::from(file))
}

/// Creates a new network namespace, brings its loopback up, and pins it by bind-mounting it
/// onto `path` (a new file; its directory must exist). Returns the namespace, opened.
///
/// On failure nothing is left: no file, no mount.
///
/// # Errors
/// [`NetError::Io`] naming `path` if the file exists or cannot be created, if `unshare(2)` or
/// the bind mount fails (not root), or a [`NetError::Netlink`] if loopback cannot be set up.
pub fn create_netns(path: &Path) -> Result<OwnedFd> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(|e| NetError::io(format!("create namespace file {}", path.display()), e))?;
    let pinned = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<()> {
                unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| NetError::io("create a network namespace (unshare)", e))?;
                mount(
                    Some("/proc/thread-self/ns/net"),
                    path,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| {
                    NetError::io(
                        format!("bind-mount the network namespace on {}", path.display()),
                        e,
                    )
                })?;
                link::set_up_by_name("lo")
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let opened = pinned.and_then(|()| open_netns(path));
    if opened.is_err() {
        // Best effort: the error we return is the first one.
        let _ = remove_netns(path);
    }
    opened
}

/// Unpins a namespace made by [`create_netns`]: unmounts `path` (lazily, so a namespace still
/// in use by a process stays alive for it) and removes the file. A path that is already gone is
/// not an error.
///
/// # Errors
/// [`NetError::Io`] naming `path` if the unmount fails for another reason than "not mounted",
/// or the file cannot be removed.
pub fn remove_netns(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
        Err(e) => {
            return Err(NetError::io(
                format!("unmount network namespace {}", path.display()),
                e,
            ));
        }
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(NetError::io(
            format!("remove network namespace file {}", path.display()),
            e,
        )),
        _ => Ok(()),
    }
}

/// Whether two namespace fds name the same namespace (same nsfs inode).
///
/// # Errors
/// [`NetError::Io`] if `fstat(2)` fails on either.
pub fn same_netns(a: impl AsFd, b: impl AsFd) -> Result<bool> {
    let sa = nix::sys::stat::fstat(a.as_fd()).map_err(|e| NetError::io("stat a namespace", e))?;
    let sb = nix::sys::stat::fstat(b.as_fd()).map_err(|e| NetError::io("stat a namespace", e))?;
    Ok(sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev)
}
