//! Switching the process's root to the rootfs: `pivot_root(".", ".")` (the runc trick, no
//! put_old directory needed), or for `--no-pivot` a move of the rootfs onto `/` and a chroot.

use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use crate::error::{Error, Result};
use crate::mount_api;

fn step<'a>(rootfs: &'a Path, step: &'static str) -> impl Fn(Errno) -> Error + 'a {
    move |e| Error::Pivot {
        rootfs: rootfs.to_path_buf(),
        step,
        source: e.into(),
    }
}

/// `pivot_root(".", ".")` in the rootfs, then detach the old root stacked on top of it. The
/// old root is made rslave first so that the detach does not propagate to the host.
pub(crate) fn pivot(root: BorrowedFd<'_>, rootfs: &Path) -> Result<()> {
    fchdir(root).map_err(step(rootfs, "fchdir to the rootfs"))?;
    pivot_root(".", ".").map_err(step(rootfs, "pivot_root"))?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(step(rootfs, "make the old root rslave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(step(rootfs, "detach the old root"))?;
    chdir("/").map_err(step(rootfs, "chdir to the new root"))
}

/// What `runc --no-pivot` does: move the rootfs mount onto `/` and chroot into it. Weaker
/// than pivot_root (the old root stays underneath, reachable by a process that can escape
/// a chroot); for filesystems where pivot_root is impossible (initramfs).
pub(crate) fn move_root(root: BorrowedFd<'_>, rootfs: &Path) -> Result<()> {
    fchdir(root).map_err(step(rootfs, "fchdir to the rootfs"))?;
    mount_api::attach_path(root, Path::new("/")).map_err(step(rootfs, "move the rootfs onto /"))?;
    chroot(".").map_err(step(rootfs, "chroot"))?;
    chdir("/").map_err(step(rootfs, "chdir to the new root"))
}
