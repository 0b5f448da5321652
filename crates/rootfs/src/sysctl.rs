//! `linux.sysctl`: written after the root is switched (so that /proc is the container's),
//! only through fds whose filesystem is checked to be procfs, with keys that cannot leave
//! /proc/sys. Call it before `Entered::finish`, whose read-only paths normally cover /proc/sys.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat, openat2};
use nix::sys::stat::Mode;
use nix::sys::statfs::{FsType, PROC_SUPER_MAGIC, fstatfs};

use crate::error::{Error, Result};

/// The file under /proc/sys for a key: `net.ipv4.ip_forward` -> `net/ipv4/ip_forward`.
///
/// Keys are dot-separated names; a `/`, an empty component (`a..b`, a leading or trailing
/// dot) or a NUL is refused, so no key can name anything outside /proc/sys.
pub fn sysctl_path(key: &str) -> Result<PathBuf> {
    let bad = |why| Error::SysctlKey {
        key: key.to_owned(),
        why,
    };
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.contains('/') {
        return Err(bad("it contains '/'"));
    }
    if key.contains('\0') {
        return Err(bad("it contains a NUL byte"));
    }
    let mut path = PathBuf::new();
    for part in key.split('.') {
        if part.is_empty() {
            return Err(bad("it has an empty component"));
        }
        path.push(part);
    }
    Ok(path)
}

/// Fails unless `fd` is on the filesystem `magic`.
pub(crate) fn check_magic(
    fd: BorrowedFd<'_>,
    magic: FsType,
    path: &Path,
    expected: &'static str,
) -> Result<()> {
    let st = fstatfs(fd).map_err(|e| Error::Statfs {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    if st.filesystem_type() == magic {
        Ok(())
    } else {
        Err(Error::WrongFilesystem {
            path: path.to_path_buf(),
            expected,
        })
    }
}

/// Opens `rel` under the /proc/sys fd for writing: no symlinks, no mount crossings.
fn open_beneath(procsys: BorrowedFd<'_>, rel: &Path) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    let how = OpenHow::new().flags(flags).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_NO_MAGICLINKS
            | ResolveFlag::RESOLVE_NO_XDEV,
    );
    match openat2(procsys, rel, how) {
        // /proc/sys has no symlinks; the procfs check on the file guards the rest.
        Err(Errno::ENOSYS) => openat(procsys, rel, flags, Mode::empty()),
        other => other,
    }
}

/// Writes every sysctl through /proc/sys of the current root (keys validated first, written
/// in key order).
pub fn write_sysctls(sysctl: &HashMap<String, String>) -> Result<()> {
    let mut entries = Vec::with_capacity(sysctl.len());
    for (key, value) in sysctl {
        entries.push((key, value, sysctl_path(key)?));
    }
    if entries.is_empty() {
        return Ok(());
    }
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let procsys_path = Path::new("/proc/sys");
    let procsys = open(
        procsys_path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Sysctl {
        key: entries[0].0.clone(),
        value: entries[0].1.clone(),
        path: procsys_path.to_path_buf(),
        source: e.into(),
    })?;
    check_magic(procsys.as_fd(), PROC_SUPER_MAGIC, procsys_path, "procfs")?;
    for (key, value, rel) in entries {
        let path = procsys_path.join(&rel);
        let fail = |e: Errno| Error::Sysctl {
            key: key.clone(),
            value: value.clone(),
            path: path.clone(),
            source: e.into(),
        };
        let fd = open_beneath(procsys.as_fd(), &rel).map_err(fail)?;
        check_magic(fd.as_fd(), PROC_SUPER_MAGIC, &path, "procfs")?;
        let mut file = std::fs::File::from(fd);
        file.write_all(value.as_bytes())
            .map_err(|e| fail(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_map_under_proc_sys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            Path::new("net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("kernel.shm_rmid_forced").unwrap(),
            Path::new("kernel/shm_rmid_forced")
        );
        assert_eq!(
            sysctl_path("fs.mqueue.msg_max").unwrap(),
            Path::new("fs/mqueue/msg_max")
        );
    }

    #[test]
    fn escaping_keys_are_refused() {
        for key in [
            "",
            "..",
            "net..ipv4",
            ".net.ipv4",
            "net.ipv4.",
            "net/ipv4/ip_forward",
            "../../etc/passwd",
            "kernel.../..",
            "a.b\0c",
        ] {
            let err = sysctl_path(key).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid sysctl key {key:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_keys_fail_before_anything_is_opened() {
        let map = HashMap::from([("net/../../x".to_string(), "1".to_string())]);
        assert!(matches!(write_sysctls(&map), Err(Error::SysctlKey { .. })));
        write_sysctls(&HashMap::new()).unwrap();
    }

    #[test]
    fn the_magic_check_refuses_other_filesystems() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::open(dir.path()).unwrap();
        let err = check_magic(f.as_fd(), PROC_SUPER_MAGIC, dir.path(), "procfs").unwrap_err();
        assert!(err.to_string().ends_with("it is not procfs"), "{err}");
        let proc = std::fs::File::open("/proc/sys").unwrap();
        check_magic(
            proc.as_fd(),
            PROC_SUPER_MAGIC,
            Path::new("/proc/sys"),
            "procfs",
        )
        .unwrap();
    }
}
