//! The runtime's own procfs, opened once before any container namespace or mount is
//! entered, and checked to be a procfs (`fstatfs`, `PROC_SUPER_MAGIC`). After the pivot the
//! container's /proc is whatever its mounts made it (a container that joins another's mount
//! namespace even starts with that one's): init and `exec`'s processes read and reopen
//! through this fd instead, never through a /proc path (CVE-2019-16884 class: a bind over
//! /proc with a fake `self/setgroups` would otherwise decide the supplementary groups).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::Mode;
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};

use crate::{Error, Result};

/// An fd of a real procfs (the runtime's `/proc`).
#[derive(Debug)]
pub(crate) struct Procfs(OwnedFd);

impl Procfs {
    /// Opens the runtime's `/proc` and checks it is a procfs.
    pub(crate) fn open() -> Result<Self> {
        let fd = open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(Error::sys("open /proc"))?;
        let fs = fstatfs(&fd).map_err(Error::sys("inspect /proc"))?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC {
            return Err(Error::sys("use /proc: it is not a procfs")(
                nix::Error::EXDEV,
            ));
        }
        Ok(Self(fd))
    }

    /// Opens `path` (relative, e.g. `self/setgroups`) inside this procfs.
    pub(crate) fn open_at(&self, path: &str, flags: OFlag) -> Result<OwnedFd> {
        openat(&self.0, path, flags | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(Error::sys(format!("open /proc/{path}")))
    }

    /// Whether setgroups(2) is allowed in the calling process's user namespace (a user
    /// namespace whose setgroups was denied refuses it with EPERM).
    pub(crate) fn may_setgroups(&self) -> bool {
        let Ok(fd) = self.open_at("self/setgroups", OFlag::O_RDONLY) else {
            // Kernels without the file have no such restriction.
            return true;
        };
        let mut text = [0u8; 16];
        let n = nix::unistd::read(&fd, &mut text).unwrap_or(0);
        !text[..n].starts_with(b"deny")
    }

    /// Reopens one of the calling process's fds through `self/fd/N` with `flags`.
    pub(crate) fn reopen(&self, fd: &impl AsRawFd, flags: OFlag) -> Result<OwnedFd> {
        self.open_at(&format!("self/fd/{}", fd.as_raw_fd()), flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtimes_proc_is_a_procfs_and_reads_this_process() {
        let proc = Procfs::open().unwrap();
        assert!(proc.may_setgroups());
        let file = std::fs::File::open("/dev/null").unwrap();
        let again = proc.reopen(&file, OFlag::O_RDONLY).unwrap();
        let (a, b) = (
            nix::sys::stat::fstat(&file).unwrap(),
            nix::sys::stat::fstat(&again).unwrap(),
        );
        assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
    }
}
