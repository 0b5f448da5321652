//! `tmpcopyup` (a runc and crun extension podman adds to every tmpfs it makes): the new tmpfs
//! starts with a copy of what the rootfs has at its destination, so that mounting it hides
//! nothing the image put there.
//!
//! The copy runs between two directory fds, the destination resolved inside the root and
//! the root of the new tmpfs before it is attached, and every step is fd-relative with
//! `O_NOFOLLOW`: a symlink in the rootfs is copied as a symlink, never followed, so an image
//! cannot make the runtime read the host's files. Kept: file types (directories, regular
//! files, symlinks, fifos and device nodes), contents, modes (setuid and sticky bits too),
//! owners, extended attributes of files and directories, and modification times. Hard links
//! become separate copies (as with runc).

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, fstatat, futimens, mkdirat,
    mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, symlinkat};

/// A failed step: the errno and the path (relative to the destination) it failed on.
pub(crate) type CopyError = (Errno, PathBuf);

/// Copies the contents of directory `from` into directory `to` (the new tmpfs's root),
/// and gives `to` the owner of `from` (its mode too, unless `keep_mode`: a `mode=` option).
pub(crate) fn copy_up(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    keep_mode: bool,
) -> Result<(), CopyError> {
    let at = |e: Errno| (e, PathBuf::from("."));
    let src = open_dir(from, c".").map_err(at)?;
    let dst = open_dir(to, c".").map_err(at)?;
    copy_dir(&src, &dst, Path::new(""))?;
    let st = nix::sys::stat::fstat(&src).map_err(at)?;
    fchown(
        &dst,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
    .map_err(at)?;
    if !keep_mode {
        fchmod(&dst, mode_of(st.st_mode)).map_err(at)?;
    }
    Ok(())
}

fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn mode_of(st_mode: libc::mode_t) -> Mode {
    Mode::from_bits_truncate(st_mode & 0o7777)
}

/// Copies every entry of `src` into `dst`; `rel` names `src` in errors.
fn copy_dir(src: &OwnedFd, dst: &OwnedFd, rel: &Path) -> Result<(), CopyError> {
    let listing = nix::unistd::dup(src).map_err(|e| (e, rel.to_path_buf()))?;
    let mut dir = Dir::from_fd(listing).map_err(|e| (e, rel.to_path_buf()))?;
    for entry in dir.iter() {
        let entry = entry.map_err(|e| (e, rel.to_path_buf()))?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let path = rel.join(OsStr::from_bytes(name.to_bytes()));
        if let Some((s, d, times)) = copy_entry(src, dst, name).map_err(|e| e.with_path(&path))? {
            copy_dir(&s, &d, &path)?;
            // Last: copying into it changed the new directory's times.
            futimens(&d, &times[0], &times[1]).map_err(|e| (e, path))?;
        }
    }
    Ok(())
}

/// A directory to recurse into: source, copy, and the times to give the copy after.
type Subdir = (OwnedFd, OwnedFd, [TimeSpec; 2]);

/// An entry's error before its path is known.
struct Failed(Errno);

impl From<Errno> for Failed {
    fn from(e: Errno) -> Self {
        Self(e)
    }
}

impl Failed {
    fn with_path(self, path: &Path) -> CopyError {
        (self.0, path.to_path_buf())
    }
}

/// Copies one entry; for a directory, returns what to recurse into.
fn copy_entry(src: &OwnedFd, dst: &OwnedFd, name: &CStr) -> Result<Option<Subdir>, Failed> {
    let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let owner = (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    let times = [
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    ];
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(dst, name, Mode::from_bits_truncate(0o700))?;
            let (s, d) = (open_dir(src.as_fd(), name)?, open_dir(dst.as_fd(), name)?);
            fchown(&d, owner.0, owner.1)?;
            fchmod(&d, mode_of(st.st_mode))?;
            copy_xattrs(&s, &d)?;
            Ok(Some((s, d, times)))
        }
        SFlag::S_IFREG => {
            let from = openat(
                src,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let to = openat(
                dst,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let (mut r, mut w) = (File::from(from), File::from(to));
            std::io::copy(&mut r, &mut w)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
            // Owner before mode: chown clears the setuid and setgid bits.
            fchown(&w, owner.0, owner.1)?;
            fchmod(&w, mode_of(st.st_mode))?;
            copy_xattrs(&r.as_fd(), &w.as_fd())?;
            futimens(&w, &times[0], &times[1])?;
            Ok(None)
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(src, name)?;
            symlinkat(target.as_os_str(), dst, name)?;
            // A symlink's own mode cannot change (and means nothing).
            finish_at(dst, name, owner, None, &times)?;
            Ok(None)
        }
        SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => {
            mknodat(dst, name, kind, Mode::from_bits_truncate(0o600), st.st_rdev)?;
            finish_at(dst, name, owner, Some(mode_of(st.st_mode)), &times)?;
            Ok(None)
        }
        // A socket means nothing without its listener.
        _ => Ok(None),
    }
}

/// Owner, then mode (if any), then times of `name` in `dir`, without following it.
fn finish_at(
    dir: &OwnedFd,
    name: &CStr,
    (uid, gid): (Option<Uid>, Option<Gid>),
    mode: Option<Mode>,
    times: &[TimeSpec; 2],
) -> nix::Result<()> {
    fchownat(dir, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    if let Some(mode) = mode {
        // Not a symlink (the caller just made it, in a tmpfs no one else can reach yet);
        // AT_SYMLINK_NOFOLLOW would need fchmodat2 (Linux 6.6).
        fchmodat(dir, name, mode, FchmodatFlags::FollowSymlink)?;
    }
    let nofollow = UtimensatFlags::NoFollowSymlink;
    utimensat(dir, name, &times[0], &times[1], nofollow)
}

/// Copies every extended attribute of `from` to `to` (files and directories). Raw libc:
/// nix has no xattr calls.
fn copy_xattrs(from: &impl AsFd, to: &impl AsFd) -> Result<(), Failed> {
    let (from, to) = (from.as_fd().as_raw_fd(), to.as_fd().as_raw_fd());
    let mut names = vec![0u8; 4096];
    // SAFETY: `names` is a live buffer of the length passed; the call writes at most that.
    let len = unsafe { libc::flistxattr(from, names.as_mut_ptr().cast(), names.len()) };
    let len = match Errno::result(len) {
        Ok(len) => len as usize,
        // No xattr support on the source filesystem: nothing to copy.
        Err(Errno::ENOTSUP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut value = vec![0u8; 65536];
    for name in names[..len].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = CString::new(name) else {
            continue;
        };
        // SAFETY: `name` is a NUL-terminated string and `value` a live buffer of the length
        // passed, both outliving the call.
        let got =
            unsafe { libc::fgetxattr(from, name.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        let got = Errno::result(got)? as usize;
        // SAFETY: as above; the kernel reads `got` bytes of `value`.
        let set = unsafe { libc::fsetxattr(to, name.as_ptr(), value.as_ptr().cast(), got, 0) };
        match Errno::result(set) {
            // trusted.* and security.* need privileges the tmpfs may refuse: as runc, go on.
            Ok(_) | Err(Errno::EPERM) | Err(Errno::ENOTSUP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
