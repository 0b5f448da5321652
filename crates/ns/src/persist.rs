//! Keeping a namespace alive without its processes: bind-mount its nsfs file onto a path.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::{Error, NamespaceKind, Result};

/// Pins `pid`'s namespace of `kind` at `target` (created as an empty file if missing), so
/// that later processes can join it by path after `pid` is gone.
pub fn pin(pid: i32, kind: NamespaceKind, target: &Path) -> Result<()> {
    let source = PathBuf::from(format!("/proc/{pid}/ns/{}", kind.proc_name()));
    let pin_err = |source| Error::Pin {
        kind,
        path: target.to_path_buf(),
        source,
    };
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(target)
        .map_err(pin_err)?;
    mount(
        Some(&source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|errno| {
        let _ = std::fs::remove_file(target);
        pin_err(errno.into())
    })
}

/// Releases a pin made by [`pin`]: unmounts it and removes the file. A path that is not
/// there is fine (already released).
pub fn unpin(target: &Path) -> Result<()> {
    match umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(errno) => {
            return Err(Error::Unpin {
                path: target.to_path_buf(),
                source: errno.into(),
            });
        }
    }
    match std::fs::remove_file(target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Unpin {
            path: target.to_path_buf(),
            source,
        }),
    }
}

/// Whether `target` is a live pin: a file on which an nsfs file is mounted (`statfs(2)` gives
/// `NSFS_MAGIC`). A plain file left behind, a missing path or an unreadable one is not.
pub fn is_pinned(target: &Path) -> bool {
    nix::sys::statfs::statfs(target)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}
