//! A container without a mount namespace (runtime spec, "Namespaces": a namespace type
//! not listed is inherited from the runtime). Its mounts are made in the runtime's own
//! mount namespace, as runc 1.1 makes them, but so that nothing outlives the container and
//! nothing else on the host changes.
//!
//! What runc 1.1.5 does with such a config (run here inside a private mount namespace):
//! it makes the runtime's `/` rslave (or applies `rootfsPropagation` to it) and the
//! rootfs's parent mount private, binds the rootfs onto itself, mounts every OCI mount under
//! it, creates the devices and /dev symlinks in the rootfs's /dev, chroots, ignores
//! `root.readonly`, and leaves every mount behind after `delete`. It refuses masked and
//! read-only paths ("unable to restrict sys entries without a private MNT namespace").
//!
//! Here: the runtime binds the rootfs onto itself ([`bind_shared_root`]) and records the
//! bind's mount id; init mounts and creates devices under that bind ([`prepare_shared`]),
//! chroots into it ([`Prepared::chroot`]) and makes it read-only if asked
//! ([`Entered::finish`]); `delete` detaches the bind and everything under it at once
//! ([`release_shared_root`]). The propagation of the runtime's mounts is never changed, so
//! `linux.rootfsPropagation` is refused (it would apply to the runtime's own `/`), and so
//! are masked and read-only paths, as runc refuses them.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::{MntFlags, umount2};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::spec::{Entered, Prepared, RootfsSpec, State, bind_rootfs, populate};
use crate::sys;

impl RootfsSpec<'_> {
    /// Without a mount namespace: whether the rootfs must be bound onto itself first (by
    /// [`bind_shared_root`]), because something is mounted in it or the root is read-only.
    pub fn needs_shared_root(&self) -> bool {
        !self.mounts.is_empty() || self.readonly
    }

    /// Without a mount namespace: what of this spec cannot be done without changing the
    /// host beyond the container (the config's names), or `None` when all of it can.
    pub fn needs_private_mount_namespace(&self) -> Option<String> {
        let mut needs = Vec::new();
        if !self.masked_paths.is_empty() {
            needs.push("linux.maskedPaths");
        }
        if !self.readonly_paths.is_empty() {
            needs.push("linux.readonlyPaths");
        }
        if self.propagation.is_some() {
            needs.push("linux.rootfsPropagation");
        }
        (!needs.is_empty()).then(|| needs.join(", "))
    }
}

/// Binds the rootfs (an absolute host path) onto itself, recursively, in the caller's mount
/// namespace, and returns the new mount's id (statx `STATX_MNT_ID`, Linux 5.8): what
/// [`prepare_shared`] checks it mounts under and [`release_shared_root`] detaches.
pub fn bind_shared_root(rootfs: &Path) -> Result<u64> {
    if !rootfs.is_absolute() {
        return Err(Error::RelativeRootfs(rootfs.to_path_buf()));
    }
    let root = bind_rootfs(rootfs)?;
    sys::mount_id(root.as_fd()).map_err(|e| Error::SharedRoot {
        rootfs: rootfs.to_path_buf(),
        why: format!("cannot read its mount id: {}", crate::SysError(e)),
    })
}

/// [`crate::prepare`] for a container without a mount namespace: mounts every OCI mount
/// under the bind the runtime made (`root_mount`, from [`bind_shared_root`]; `None` when
/// [`RootfsSpec::needs_shared_root`] is false), then creates the devices and /dev symlinks
/// in the rootfs (unless /dev is a bind mount), as runc does. `/` is not made rslave:
/// nothing is mounted outside the rootfs. Errors: what
/// [`RootfsSpec::needs_private_mount_namespace`] names, a rootfs whose top mount is not
/// `root_mount`, and [`crate::prepare`]'s own.
pub fn prepare_shared(spec: &RootfsSpec<'_>, root_mount: Option<u64>) -> Result<Prepared> {
    if let Some(what) = spec.needs_private_mount_namespace() {
        return Err(Error::NeedsMountNamespace { what });
    }
    let checked = spec.check()?;
    let rootfs = spec.rootfs;
    let root = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Resolve {
        path: rootfs.to_path_buf(),
        source: e.into(),
    })?;
    match root_mount {
        Some(expected) => {
            let found = sys::mount_id(root.as_fd()).ok();
            if found != Some(expected) {
                return Err(Error::SharedRoot {
                    rootfs: rootfs.to_path_buf(),
                    why: format!(
                        "its top mount is {found:?}, not the bind {expected} the runtime made"
                    ),
                });
            }
        }
        None if spec.needs_shared_root() => {
            return Err(Error::SharedRoot {
                rootfs: rootfs.to_path_buf(),
                why: "it has mounts but was not bound onto itself first".into(),
            });
        }
        None => {}
    }
    populate(spec, &checked, root.as_fd())?;
    Ok(Prepared {
        state: State {
            root,
            rootfs: rootfs.to_path_buf(),
            devnull: None,
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
            readonly: spec.readonly,
            late_propagation: None,
        },
    })
}

impl Prepared {
    /// Makes the rootfs the process's root by `chroot` (and cwd `/`): for a container
    /// without a mount namespace, where pivot_root would move the runtime's own root.
    pub fn chroot(self) -> Result<Entered> {
        let fail = |step: &'static str| {
            let rootfs = self.state.rootfs.clone();
            move |e: Errno| Error::Pivot {
                rootfs,
                step,
                source: e.into(),
            }
        };
        nix::unistd::fchdir(self.state.root.as_fd()).map_err(fail("enter the rootfs"))?;
        nix::unistd::chroot(".").map_err(fail("chroot"))?;
        nix::unistd::chdir("/").map_err(fail("enter the new root"))?;
        Ok(Entered { state: self.state })
    }
}

/// Detaches the bind [`bind_shared_root`] made at `rootfs` (and every mount under it) if it
/// is still the top mount there with id `mount_id`; returns whether it was. Anything else
/// at `rootfs` (the bind already gone, another mount namespace's view) is left alone.
pub fn release_shared_root(rootfs: &Path, mount_id: u64) -> Result<bool> {
    let fail = |e: Errno| Error::SharedRoot {
        rootfs: rootfs.to_path_buf(),
        why: format!("cannot detach the container's bind: {}", crate::SysError(e)),
    };
    let root: OwnedFd = match open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => return Ok(false),
        Err(e) => return Err(fail(e)),
    };
    if sys::mount_id(root.as_fd()).ok() != Some(mount_id) {
        return Ok(false);
    }
    detach(root.as_fd()).map_err(fail)?;
    Ok(true)
}

/// Lazily unmounts the mount whose root `fd` is, through its /proc/self/fd magic link (the
/// very mount checked, not whatever a path names by then).
fn detach(fd: BorrowedFd<'_>) -> nix::Result<()> {
    umount2(
        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
        MntFlags::MNT_DETACH,
    )
}
