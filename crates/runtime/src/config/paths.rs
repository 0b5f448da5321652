//! Paths the runtime takes from a bundle's *contents*, resolved so that a symlink the bundle
//! carries (an unpacked archive can hold any) never leads somewhere it should not.
//!
//! - `root.path`, relative: resolved beneath the bundle (`openat2(RESOLVE_BENEATH)`: a
//!   symlink that stays in the bundle is followed, one that leaves it is refused), and the
//!   rootfs itself must not be a symlink, as runc requires ("invalid rootfs"): `ln -s /
//!   BUNDLE/rootfs` would otherwise run the container on the host's root.
//! - `root.path`, absolute: the caller's own host path, whose parents may legitimately be
//!   symlinks (`/var/run`); only its last component, which an image could carry, must not be.
//! - relative bind sources: resolved beneath the bundle the same way.
//!
//! Each is replaced by the real path it resolved to, with no symlink left in it. Paths the
//! caller names on the command line (`--pid-file`, `--console-socket`) are the caller's;
//! the pid file is written without following a symlink at its temporary name (see
//! `create::write_pid_file`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
use nix::sys::stat::Mode;
use oci_spec::runtime::Mount;

/// `root.path`, resolved as the module says, as a symlink-free absolute path.
pub(super) fn rootfs(bundle: &Path, root_path: &Path) -> Result<PathBuf, String> {
    let invalid = |why: String| format!("invalid rootfs {}: {why}", root_path.display());
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = if root_path.is_absolute() {
        open(root_path, flags, Mode::empty())
    } else {
        beneath(bundle, root_path, flags)
    }
    .map_err(|e| invalid(why(e, "a directory")))?;
    real_path(&fd).map_err(|e| invalid(format!("cannot read where it leads: {e}")))
}

/// Replaces the source of every bind mount whose source is relative (to the bundle) by the
/// real path it resolves to beneath the bundle.
pub(super) fn bind_sources(bundle: &Path, mounts: &mut [Mount]) -> Result<(), String> {
    for mount in mounts {
        let is_bind = mount.typ().as_deref() == Some("bind")
            || mount
                .options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        let Some(source) = mount.source().as_ref().filter(|s| s.is_relative()) else {
            continue;
        };
        if !is_bind {
            continue;
        }
        let invalid = |why: String| {
            format!(
                "invalid bind source {} for {}: {why}",
                source.display(),
                mount.destination().display()
            )
        };
        let fd = beneath(bundle, source, OFlag::O_PATH | OFlag::O_CLOEXEC)
            .map_err(|e| invalid(why(e, "a file or directory")))?;
        let real = real_path(&fd).map_err(|e| invalid(format!("cannot read it: {e}")))?;
        mount.set_source(Some(real));
    }
    Ok(())
}

/// Opens `path` beneath the directory `bundle`, never leaving it.
fn beneath(bundle: &Path, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let dir = open(
        bundle,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    loop {
        match openat2(&dir, path, how) {
            // A concurrent rename raced the `..` check: try again.
            Err(Errno::EAGAIN) => {}
            Err(Errno::ENOSYS) => return beneath_without_openat2(bundle, path, flags),
            other => return other,
        }
    }
}

/// For kernels (or seccomp profiles) without openat2: resolve, then check the result is
/// still in the bundle (a live swap afterwards is not caught: openat2 is the defence).
fn beneath_without_openat2(bundle: &Path, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let joined = bundle.join(path);
    let fd = open(&joined, flags, Mode::empty())?;
    let real = real_path(&fd).map_err(|_| Errno::EIO)?;
    if !real.starts_with(bundle) {
        return Err(Errno::EXDEV);
    }
    Ok(fd)
}

/// The path an fd was opened at, as the kernel sees it (no symlink left).
fn real_path(fd: &OwnedFd) -> nix::Result<PathBuf> {
    nix::fcntl::readlink(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str()).map(PathBuf::from)
}

/// Why a path was refused, in words.
fn why(e: Errno, what: &str) -> String {
    match e {
        Errno::EXDEV => "it leads out of the bundle (a symlink?)".into(),
        Errno::ENOTDIR | Errno::ELOOP => format!("it is a symlink or not {what}"),
        Errno::ENOENT => "it does not exist".into(),
        e => e.desc().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rootfs_symlink_is_refused_wherever_it_leads_and_a_directory_is_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(bundle.join("real/rootfs")).unwrap();
        std::os::unix::fs::symlink("/", bundle.join("host")).unwrap();
        std::os::unix::fs::symlink("real/rootfs", bundle.join("inside")).unwrap();
        std::os::unix::fs::symlink("real", bundle.join("via")).unwrap();
        let err = rootfs(&bundle, Path::new("host")).unwrap_err();
        assert_eq!(
            err,
            "invalid rootfs host: it is a symlink or not a directory"
        );
        assert!(rootfs(&bundle, Path::new("inside")).is_err());
        assert_eq!(
            rootfs(&bundle, &bundle.join("host")).unwrap_err(),
            format!(
                "invalid rootfs {}: it is a symlink or not a directory",
                bundle.join("host").display()
            )
        );
        assert_eq!(
            rootfs(&bundle, Path::new("host/etc")).unwrap_err(),
            "invalid rootfs host/etc: it leads out of the bundle (a symlink?)"
        );
        assert_eq!(
            rootfs(&bundle, Path::new("../..")).unwrap_err(),
            "invalid rootfs ../..: it leads out of the bundle (a symlink?)"
        );
        // A symlinked parent inside the bundle is followed; the result has no symlink left.
        let real = bundle.join("real/rootfs");
        assert_eq!(rootfs(&bundle, Path::new("via/rootfs")).unwrap(), real);
        assert_eq!(rootfs(&bundle, &bundle.join("via/rootfs")).unwrap(), real);
    }

    #[test]
    fn relative_bind_sources_stay_in_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().canonicalize().unwrap();
        std::fs::create_dir(bundle.join("data")).unwrap();
        std::os::unix::fs::symlink("/etc", bundle.join("etc")).unwrap();
        let mount = |source: &str, typ: &str| -> Mount {
            serde_json::from_value(serde_json::json!(
                {"destination": "/mnt", "type": typ, "source": source, "options": ["rbind"]}
            ))
            .unwrap()
        };
        let mut mounts = vec![mount("data", "bind"), mount("/etc", "bind")];
        bind_sources(&bundle, &mut mounts).unwrap();
        assert_eq!(mounts[0].source().as_deref(), Some(&*bundle.join("data")));
        assert_eq!(mounts[1].source().as_deref(), Some(Path::new("/etc")));
        let err = bind_sources(&bundle, &mut [mount("etc", "none")]).unwrap_err();
        assert_eq!(
            err,
            "invalid bind source etc for /mnt: it leads out of the bundle (a symlink?)"
        );
    }
}
