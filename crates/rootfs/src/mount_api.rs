//! Mounting by file descriptor with the new mount API: a source is cloned (`open_tree`) or
//! created (`fsopen`/`fsconfig`/`fsmount`) as a detached mount, given its attributes while
//! still detached (`mount_setattr`), then attached onto a target *fd* (`move_mount`). No step
//! re-resolves a path, so nothing can swap a symlink in between (CVE-2021-30465), and nothing
//! depends on a trusted /proc. Needs Linux 5.12 (mount_setattr).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AT_FDCWD;
use nix::mount::MsFlags;

use crate::sys::{self, cpath, cstr};

const EMPTY: &std::ffi::CStr = c"";

/// Mount attributes for `mount_setattr`/`fsmount` (`MOUNT_ATTR_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Attrs {
    pub(crate) set: u64,
    pub(crate) clr: u64,
}

impl Attrs {
    pub(crate) const RDONLY: Self = Self {
        set: libc::MOUNT_ATTR_RDONLY,
        clr: 0,
    };

    /// The per-mount part of `set`/`clear` (`MS_*`) as `MOUNT_ATTR_*`. Superblock flags
    /// (sync, dirsync, mand, lazytime) are not per-mount; see [`sb_flags`].
    pub(crate) fn from_flags(set: MsFlags, clear: MsFlags) -> Self {
        let map = [
            (MsFlags::MS_RDONLY, libc::MOUNT_ATTR_RDONLY),
            (MsFlags::MS_NOSUID, libc::MOUNT_ATTR_NOSUID),
            (MsFlags::MS_NODEV, libc::MOUNT_ATTR_NODEV),
            (MsFlags::MS_NOEXEC, libc::MOUNT_ATTR_NOEXEC),
            (MsFlags::MS_NODIRATIME, libc::MOUNT_ATTR_NODIRATIME),
            (
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
                libc::MOUNT_ATTR_NOSYMFOLLOW,
            ),
        ];
        let mut a = Self::default();
        for (ms, attr) in map {
            if set.contains(ms) {
                a.set |= attr;
            }
            if clear.contains(ms) {
                a.clr |= attr;
            }
        }
        // One access-time mode at most; asking for one replaces whatever was there.
        let atime = if set.contains(MsFlags::MS_STRICTATIME) {
            Some(libc::MOUNT_ATTR_STRICTATIME)
        } else if set.contains(MsFlags::MS_NOATIME) {
            Some(libc::MOUNT_ATTR_NOATIME)
        } else if set.contains(MsFlags::MS_RELATIME) {
            Some(libc::MOUNT_ATTR_RELATIME)
        } else {
            None
        };
        if let Some(mode) = atime {
            a.set |= mode;
            a.clr |= libc::MOUNT_ATTR__ATIME;
        }
        a
    }

    fn is_empty(self) -> bool {
        self.set == 0 && self.clr == 0
    }
}

/// Superblock flags as the `fsconfig` flag names the VFS knows for every filesystem.
pub(crate) fn sb_flags(set: MsFlags, clear: MsFlags) -> Vec<&'static str> {
    let map = [
        (MsFlags::MS_SYNCHRONOUS, "sync", "async"),
        (MsFlags::MS_DIRSYNC, "dirsync", ""),
        (MsFlags::MS_MANDLOCK, "mand", "nomand"),
        (MsFlags::MS_LAZYTIME, "lazytime", "nolazytime"),
    ];
    let mut out = Vec::new();
    for (ms, on, off) in map {
        if set.contains(ms) {
            out.push(on);
        } else if clear.contains(ms) && !off.is_empty() {
            out.push(off);
        }
    }
    out
}

/// A detached copy of the mount at host `path` (followed if a symlink: host paths are the
/// caller's, not the container's), recursive for `rbind`.
pub(crate) fn clone_path(path: &Path, recursive: bool) -> nix::Result<OwnedFd> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    sys::open_tree(AT_FDCWD, &cpath(path)?, flags)
}

/// A detached, read-only bind of the file or directory at `path` (followed if a symlink,
/// magic links included): an fd through which it can be read or executed, never written
/// (EROFS), in no mount namespace, gone with its last reference. E.g. `peapod-runtime`
/// executes its own binary through one, so that `/proc/<pid>/exe` of its processes cannot
/// be reopened for writing (CVE-2019-5736).
pub fn read_only_bind(path: &Path) -> crate::Result<OwnedFd> {
    let fail = |e: nix::errno::Errno| crate::Error::ReadOnlyBind {
        path: path.to_path_buf(),
        source: e.into(),
    };
    let mnt = clone_path(path, false).map_err(fail)?;
    set_attrs(mnt.as_fd(), Attrs::RDONLY, false).map_err(fail)?;
    Ok(mnt)
}

/// A detached copy of the mount (or the file or directory inside one) that `fd` refers to.
pub(crate) fn clone_fd(fd: BorrowedFd<'_>, recursive: bool) -> nix::Result<OwnedFd> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    sys::open_tree(fd, EMPTY, flags)
}

/// Sets and clears attributes on the mount `mnt` (the whole tree if `recursive`).
pub(crate) fn set_attrs(mnt: BorrowedFd<'_>, attrs: Attrs, recursive: bool) -> nix::Result<()> {
    if attrs.is_empty() {
        return Ok(());
    }
    let attr = libc::mount_attr {
        attr_set: attrs.set,
        attr_clr: attrs.clr,
        propagation: 0,
        userns_fd: 0,
    };
    sys::mount_setattr(mnt, EMPTY, at_flags(recursive), &attr)
}

/// Changes the propagation of `mnt`: `MS_PRIVATE`, `MS_SHARED`, `MS_SLAVE` or
/// `MS_UNBINDABLE`, with `MS_REC` for the whole tree.
pub(crate) fn set_propagation(mnt: BorrowedFd<'_>, propagation: MsFlags) -> nix::Result<()> {
    let recursive = propagation.contains(MsFlags::MS_REC);
    let kind = propagation.difference(MsFlags::MS_REC);
    let attr = libc::mount_attr {
        attr_set: 0,
        attr_clr: 0,
        propagation: kind.bits(),
        userns_fd: 0,
    };
    sys::mount_setattr(mnt, EMPTY, at_flags(recursive), &attr)
}

fn at_flags(recursive: bool) -> u32 {
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    flags
}

/// Attaches the detached mount `mnt` onto the file or directory `target` refers to.
pub(crate) fn attach(mnt: BorrowedFd<'_>, target: BorrowedFd<'_>) -> nix::Result<()> {
    sys::move_mount(
        mnt,
        EMPTY,
        target,
        EMPTY,
        libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// Attaches the detached mount `mnt` onto the host path `target` (the caller's path).
pub(crate) fn attach_path(mnt: BorrowedFd<'_>, target: &Path) -> nix::Result<()> {
    sys::move_mount(
        mnt,
        EMPTY,
        AT_FDCWD,
        &cpath(target)?,
        libc::MOVE_MOUNT_F_EMPTY_PATH,
    )
}

/// A new filesystem that failed: the errno and the kernel's log for the context.
#[derive(Debug)]
pub(crate) struct FsError {
    pub(crate) errno: Errno,
    pub(crate) log: String,
}

impl From<Errno> for FsError {
    fn from(errno: Errno) -> Self {
        Self {
            errno,
            log: String::new(),
        }
    }
}

/// A detached mount of a new `fstype` superblock. `params` are `key=value` strings or bare
/// flags (`newinstance`); `sb` are superblock flag names; `attrs` the mount's attributes.
pub(crate) fn new_fs<S: AsRef<str>>(
    fstype: &str,
    source: &str,
    params: &[S],
    sb: &[&str],
    attrs: u64,
) -> Result<OwnedFd, FsError> {
    let fs = sys::fsopen(&cstr(fstype)?, libc::FSOPEN_CLOEXEC)?;
    let configure = || -> nix::Result<OwnedFd> {
        let fd = fs.as_fd();
        set_string(fd, "source", source)?;
        for p in params {
            match p.as_ref().split_once('=') {
                Some((key, value)) => set_string(fd, key, value)?,
                None => set_flag(fd, p.as_ref())?,
            }
        }
        for flag in sb {
            set_flag(fd, flag)?;
        }
        sys::fsconfig(fd, libc::FSCONFIG_CMD_CREATE, None, None)?;
        sys::fsmount(fd, libc::FSMOUNT_CLOEXEC, attrs)
    };
    configure().map_err(|errno| FsError {
        errno,
        log: read_log(fs.as_fd()),
    })
}

pub(crate) fn set_string(fs: BorrowedFd<'_>, key: &str, value: &str) -> nix::Result<()> {
    sys::fsconfig(
        fs,
        libc::FSCONFIG_SET_STRING,
        Some(&cstr(key)?),
        Some(&cstr(value)?),
    )
}

fn set_flag(fs: BorrowedFd<'_>, key: &str) -> nix::Result<()> {
    sys::fsconfig(fs, libc::FSCONFIG_SET_FLAG, Some(&cstr(key)?), None)
}

/// The messages the kernel logged on a filesystem context ("e tmpfs: Bad value for 'mode'"),
/// joined with "; ".
pub(crate) fn read_log(fs: BorrowedFd<'_>) -> String {
    let mut lines = Vec::new();
    let mut buf = [0u8; 1024];
    // Each read returns one message; ENODATA when the log is empty.
    for _ in 0..16 {
        match nix::unistd::read(fs, &mut buf) {
            Ok(n) if n > 0 => {
                let msg = String::from_utf8_lossy(&buf[..n]);
                let msg = msg.trim_end();
                let msg = msg
                    .strip_prefix("e ")
                    .or_else(|| msg.strip_prefix("w "))
                    .or_else(|| msg.strip_prefix("i "))
                    .unwrap_or(msg);
                lines.push(msg.to_owned());
            }
            _ => break,
        }
    }
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_mount_flags_become_mount_attrs() {
        let a = Attrs::from_flags(
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            MsFlags::empty(),
        );
        assert_eq!(
            a.set,
            libc::MOUNT_ATTR_RDONLY
                | libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
        );
        assert_eq!(a.clr, 0);
        let rw = Attrs::from_flags(MsFlags::empty(), MsFlags::MS_RDONLY);
        assert_eq!((rw.set, rw.clr), (0, libc::MOUNT_ATTR_RDONLY));
    }

    #[test]
    fn access_time_modes_replace_each_other() {
        let strict = Attrs::from_flags(MsFlags::MS_STRICTATIME, MsFlags::empty());
        assert_eq!(strict.set, libc::MOUNT_ATTR_STRICTATIME);
        assert_eq!(strict.clr, libc::MOUNT_ATTR__ATIME);
        let rel = Attrs::from_flags(MsFlags::MS_RELATIME, MsFlags::empty());
        assert_eq!((rel.set, rel.clr), (0, libc::MOUNT_ATTR__ATIME));
        let none = Attrs::from_flags(MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty());
        assert!(none.is_empty());
    }

    #[test]
    fn superblock_flags_use_vfs_names() {
        assert_eq!(
            sb_flags(
                MsFlags::MS_SYNCHRONOUS | MsFlags::MS_LAZYTIME,
                MsFlags::MS_MANDLOCK
            ),
            vec!["sync", "nomand", "lazytime"]
        );
        assert!(sb_flags(MsFlags::MS_RDONLY, MsFlags::empty()).is_empty());
    }
}
