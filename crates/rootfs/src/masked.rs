//! Masked paths (`linux.maskedPaths`), read-only paths (`linux.readonlyPaths`) and the
//! read-only root.
//!
//! Files are masked with the *host's* /dev/null, opened once before anything of the
//! container's is touched, checked with fstat to be char 1:3, and cloned as a detached mount:
//! a rootfs (or a hook) that swaps its own /dev/null for a symlink cannot redirect the mask
//! (runc CVE-2025-31133, CVE-2025-52565). Directories are masked with an empty read-only
//! tmpfs. Every target is resolved inside the root; a missing path is not an error.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag, fstat, major, minor};

use crate::error::{Error, Result};
use crate::mount_api::{self, Attrs};
use crate::safe_open::resolve;

/// The host's /dev/null as a detached, private bind mount, ready to be attached over files.
#[derive(Debug)]
pub(crate) struct DevNull {
    mnt: OwnedFd,
    attached: bool,
}

/// Fails unless `fd` is the null device (char 1:3).
fn check_null(fd: BorrowedFd<'_>) -> Result<()> {
    let st = fstat(fd).map_err(|e| Error::DevNull {
        why: format!("cannot stat it: {}", crate::error::SysError(e)),
    })?;
    let is_char = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFCHR.bits();
    if is_char && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3 {
        Ok(())
    } else {
        Err(Error::DevNull {
            why: format!(
                "it is not char device 1:3 (mode {:o}, device {}:{})",
                st.st_mode,
                major(st.st_rdev),
                minor(st.st_rdev)
            ),
        })
    }
}

impl DevNull {
    /// Opens and checks the host's /dev/null; call while the host's /dev is still reachable.
    pub(crate) fn open() -> Result<Self> {
        let fail = |what: &str, e: Errno| Error::DevNull {
            why: format!("cannot {what}: {}", crate::error::SysError(e)),
        };
        let fd = open("/dev/null", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| fail("open it", e))?;
        check_null(fd.as_fd())?;
        let mnt = mount_api::clone_fd(fd.as_fd(), false).map_err(|e| fail("clone it", e))?;
        check_null(mnt.as_fd())?;
        mount_api::set_propagation(mnt.as_fd(), MsFlags::MS_PRIVATE)
            .map_err(|e| fail("make it private", e))?;
        Ok(Self {
            mnt,
            attached: false,
        })
    }

    /// Binds /dev/null over `target`: the detached mount itself the first time, a clone of
    /// it (now attached, so clonable) afterwards.
    fn attach_to(&mut self, target: BorrowedFd<'_>) -> nix::Result<()> {
        if self.attached {
            let copy = mount_api::clone_fd(self.mnt.as_fd(), false)?;
            mount_api::attach(copy.as_fd(), target)
        } else {
            mount_api::attach(self.mnt.as_fd(), target)?;
            self.attached = true;
            Ok(())
        }
    }
}

/// The target of a masked or read-only path, or `None` if it does not exist.
fn target(root: BorrowedFd<'_>, path: &Path) -> nix::Result<Option<OwnedFd>> {
    match resolve(root, path, OFlag::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Masks each path: /dev/null over files, an empty read-only tmpfs over directories.
pub(crate) fn mask_paths(
    root: BorrowedFd<'_>,
    rootfs: &Path,
    devnull: &mut Option<DevNull>,
    paths: &[String],
) -> Result<()> {
    for path in paths {
        let path = Path::new(path);
        mask(root, devnull, path).map_err(|e| Error::Mask {
            path: path.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            source: e.into(),
        })?;
    }
    Ok(())
}

fn mask(root: BorrowedFd<'_>, devnull: &mut Option<DevNull>, path: &Path) -> nix::Result<()> {
    let Some(target) = target(root, path)? else {
        return Ok(());
    };
    let st = fstat(&target)?;
    if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits() {
        let attrs = libc::MOUNT_ATTR_RDONLY
            | libc::MOUNT_ATTR_NOSUID
            | libc::MOUNT_ATTR_NODEV
            | libc::MOUNT_ATTR_NOEXEC;
        let mnt =
            mount_api::new_fs::<&str>("tmpfs", "tmpfs", &[], &[], attrs).map_err(|e| e.errno)?;
        mount_api::attach(mnt.as_fd(), target.as_fd())
    } else {
        // `prepare` opens /dev/null whenever there are masked paths.
        let devnull = devnull.as_mut().ok_or(Errno::ENODEV)?;
        devnull.attach_to(target.as_fd())
    }
}

/// Makes each path read-only: a recursive bind of it over itself, read-only on every mount
/// of the tree; its other flags (nosuid, nodev, noexec, atime) stay as they were.
pub(crate) fn readonly_paths(root: BorrowedFd<'_>, rootfs: &Path, paths: &[String]) -> Result<()> {
    for path in paths {
        let path = Path::new(path);
        readonly(root, path).map_err(|e| Error::ReadonlyPath {
            path: path.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            source: e.into(),
        })?;
    }
    Ok(())
}

fn readonly(root: BorrowedFd<'_>, path: &Path) -> nix::Result<()> {
    let Some(target) = target(root, path)? else {
        return Ok(());
    };
    let mnt = mount_api::clone_fd(target.as_fd(), true)?;
    mount_api::set_attrs(mnt.as_fd(), Attrs::RDONLY, true)?;
    mount_api::attach(mnt.as_fd(), target.as_fd())
}

/// Makes the root mount read-only (only the root: the OCI mounts keep their own flags).
pub(crate) fn readonly_root(root: BorrowedFd<'_>, rootfs: &Path) -> Result<()> {
    mount_api::set_attrs(root, Attrs::RDONLY, false).map_err(|e| Error::ReadonlyPath {
        path: "/".into(),
        rootfs: rootfs.to_path_buf(),
        source: e.into(),
    })
}
