//! Device nodes and the /dev symlinks.
//!
//! Every parent directory is resolved inside the root (a rootfs whose `dev` is a symlink to
//! the host's /dev cannot make us create nodes on the host: CVE-2026-47766), whatever is in
//! the way of a node is removed first (a rootfs's own `dev/null` symlink is never kept), and
//! in a new user namespace, where mknod is impossible, the host's node is bound over an empty
//! file instead, after checking that it is the device the config names.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat};
use nix::sys::stat::{Mode, SFlag, fstat, major, makedev, minor, mknodat, umask};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, symlinkat, unlinkat};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::{Error, Result};
use crate::mount_api;
use crate::mounts::Ctx;
use crate::safe_open::{FileKind, create};

/// The devices every container gets (char, mode 0666, owned by root), as runc creates them.
const DEFAULTS: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The /dev symlinks: (name in /dev, target).
const SYMLINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// The default devices (/dev/null, zero, full, random, urandom, tty) as OCI entries, for
/// callers that also need them (the runtime's device cgroup allow-list).
pub fn default_devices() -> Vec<LinuxDevice> {
    DEFAULTS
        .iter()
        .map(|(path, maj, min)| {
            let mut d = LinuxDevice::default();
            d.set_path(PathBuf::from(path))
                .set_typ(LinuxDeviceType::C)
                .set_major(*maj)
                .set_minor(*min)
                .set_file_mode(Some(0o666))
                .set_uid(Some(0))
                .set_gid(Some(0));
            d
        })
        .collect()
}

/// The defaults not overridden by a `linux.devices` entry of the same path, then those.
pub(crate) fn merged(devices: &[LinuxDevice]) -> Vec<LinuxDevice> {
    let mut all: Vec<LinuxDevice> = default_devices()
        .into_iter()
        .filter(|d| !devices.iter().any(|o| o.path() == d.path()))
        .collect();
    all.extend(devices.iter().cloned());
    all
}

/// Checks one entry without touching anything.
pub(crate) fn validate(d: &LinuxDevice) -> Result<()> {
    let invalid = |why: String| Error::InvalidDevice {
        path: d.path().clone(),
        why,
    };
    if d.typ() == LinuxDeviceType::A {
        return Err(invalid(
            "type \"a\" (all) is a cgroup rule, not a device node: use c, b, u or p".into(),
        ));
    }
    let path = d.path();
    if !path.is_absolute() {
        return Err(invalid("the path must be absolute".into()));
    }
    if path.components().any(|c| c == Component::ParentDir) || path.file_name().is_none() {
        return Err(invalid("the path must name a file without \"..\"".into()));
    }
    if d.typ() != LinuxDeviceType::P {
        for (what, n) in [("major", d.major()), ("minor", d.minor())] {
            if !(0..=0xffff_ffff).contains(&n) {
                return Err(invalid(format!("{what} number {n} is out of range")));
            }
        }
    }
    Ok(())
}

fn file_type(t: LinuxDeviceType) -> SFlag {
    match t {
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        // C and U; A is refused by `validate`.
        _ => SFlag::S_IFCHR,
    }
}

fn rdev(d: &LinuxDevice) -> libc::dev_t {
    if d.typ() == LinuxDeviceType::P {
        0
    } else {
        makedev(d.major().max(0) as u64, d.minor().max(0) as u64)
    }
}

/// Creates every device (validated beforehand).
pub(crate) fn create_all(ctx: &Ctx<'_>, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    // The modes must be exactly what the config says: no umask (init is single-threaded).
    let old_umask = umask(Mode::empty());
    // Devices mostly share a directory (/dev): resolve it once.
    let mut dir: Option<(&Path, OwnedFd)> = None;
    let result = devices.iter().try_for_each(|d| {
        create_one(ctx, d, in_userns, &mut dir).map_err(|e| Error::Device {
            path: d.path().clone(),
            rootfs: ctx.rootfs.to_path_buf(),
            source: e.into(),
        })
    });
    umask(old_umask);
    result
}

fn create_one<'d>(
    ctx: &Ctx<'_>,
    d: &'d LinuxDevice,
    in_userns: bool,
    cached_dir: &mut Option<(&'d Path, OwnedFd)>,
) -> nix::Result<()> {
    let path = d.path();
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Errno::EINVAL);
    };
    let dir = match cached_dir.take() {
        Some((cached, fd)) if cached == parent => fd,
        _ => create(
            ctx.root,
            parent,
            FileKind::Directory,
            Mode::from_bits_truncate(0o755),
        )?,
    };
    let dir = &cached_dir.insert((parent, dir)).1;
    // Whatever the rootfs left there (a symlink, a file) goes; a directory stays and fails.
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let perm = Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666) & 0o7777);
    if in_userns {
        return bind_host_node(d, dir, name);
    }
    match mknodat(dir, name, file_type(d.typ()), perm, rdev(d)) {
        // Where mknod is not permitted (no CAP_MKNOD, a device cgroup of the caller's that
        // denies it, a filesystem that refuses nodes), runc binds the host's node instead.
        Err(Errno::EPERM) => bind_host_node(d, dir, name),
        Err(e) => Err(e),
        Ok(()) => fchownat(
            dir,
            name,
            Some(Uid::from_raw(d.uid().unwrap_or(0))),
            Some(Gid::from_raw(d.gid().unwrap_or(0))),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ),
    }
}

/// The host's node at the device's path, bind-mounted over an empty file at `dir/name`.
fn bind_host_node(d: &LinuxDevice, dir: &OwnedFd, name: &std::ffi::OsStr) -> nix::Result<()> {
    let host = host_node(d)?;
    let file = openat(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    drop(file);
    let target = openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mnt = mount_api::clone_fd(host.as_fd(), false)?;
    mount_api::attach(mnt.as_fd(), target.as_fd())
}

/// The host's node at the same path, checked to be the device the entry names.
fn host_node(d: &LinuxDevice) -> nix::Result<OwnedFd> {
    let fd = open(
        d.path().as_path(),
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = fstat(&fd)?;
    let kind = st.st_mode & SFlag::S_IFMT.bits();
    let want = file_type(d.typ()).bits();
    let same_dev = d.typ() == LinuxDeviceType::P
        || (major(st.st_rdev) == d.major() as u64 && minor(st.st_rdev) == d.minor() as u64);
    if kind != want || !same_dev {
        return Err(Errno::ENODEV);
    }
    Ok(fd)
}

/// /dev/fd, stdin, stdout, stderr and ptmx -> pts/ptmx, inside the root's /dev.
pub(crate) fn create_symlinks(ctx: &Ctx<'_>) -> Result<()> {
    let fail = |name: &str, e: Errno| Error::Symlink {
        path: Path::new("/dev").join(name),
        rootfs: ctx.rootfs.to_path_buf(),
        source: e.into(),
    };
    let dev = create(
        ctx.root,
        Path::new("/dev"),
        FileKind::Directory,
        Mode::from_bits_truncate(0o755),
    )
    .map_err(|e| fail("", e))?;
    for (name, target) in SYMLINKS {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(fail(name, e)),
        }
    }
    // ptmx must be the devpts instance's, whatever the config or the rootfs put there.
    match unlinkat(&dev, "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(fail("ptmx", e)),
    }
    symlinkat("pts/ptmx", &dev, "ptmx").map_err(|e| fail("ptmx", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_six_runc_devices() {
        let d = default_devices();
        let got: Vec<(String, i64, i64)> = d
            .iter()
            .map(|d| (d.path().display().to_string(), d.major(), d.minor()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/dev/null".into(), 1, 3),
                ("/dev/zero".into(), 1, 5),
                ("/dev/full".into(), 1, 7),
                ("/dev/random".into(), 1, 8),
                ("/dev/urandom".into(), 1, 9),
                ("/dev/tty".into(), 5, 0),
            ]
        );
        for dev in &d {
            assert_eq!(dev.typ(), LinuxDeviceType::C);
            assert_eq!(dev.file_mode(), Some(0o666));
            assert_eq!((dev.uid(), dev.gid()), (Some(0), Some(0)));
            validate(dev).unwrap();
        }
    }

    #[test]
    fn config_entries_override_defaults_by_path() {
        let mut null = LinuxDevice::default();
        null.set_path("/dev/null".into())
            .set_typ(LinuxDeviceType::C)
            .set_major(1)
            .set_minor(3)
            .set_file_mode(Some(0o600));
        let mut fuse = LinuxDevice::default();
        fuse.set_path("/dev/fuse".into())
            .set_typ(LinuxDeviceType::C)
            .set_major(10)
            .set_minor(229);
        let all = merged(&[null, fuse]);
        assert_eq!(all.len(), 7);
        let nulls: Vec<_> = all
            .iter()
            .filter(|d| d.path() == Path::new("/dev/null"))
            .collect();
        assert_eq!(nulls.len(), 1);
        assert_eq!(nulls[0].file_mode(), Some(0o600));
        assert_eq!(all[6].path(), Path::new("/dev/fuse"));
    }

    #[test]
    fn bad_entries_are_refused() {
        let mut d = LinuxDevice::default();
        d.set_path("/dev/all".into()).set_typ(LinuxDeviceType::A);
        let err = validate(&d).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("device /dev/all: type \"a\" (all) is a cgroup rule"),
            "{err}"
        );
        d.set_typ(LinuxDeviceType::C).set_path("dev/x".into());
        assert!(validate(&d).unwrap_err().to_string().contains("absolute"));
        d.set_path("/dev/../etc/x".into());
        assert!(validate(&d).unwrap_err().to_string().contains(".."));
        d.set_path("/dev/x".into()).set_major(-1);
        assert!(
            validate(&d)
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        d.set_typ(LinuxDeviceType::P);
        validate(&d).unwrap();
        assert_eq!(file_type(LinuxDeviceType::U), SFlag::S_IFCHR);
        assert_eq!(rdev(&d), 0);
    }
}
