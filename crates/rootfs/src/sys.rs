//! Raw system calls that nix 0.32 lacks: the new mount API (`open_tree`, `move_mount`,
//! `mount_setattr`, `fsopen`, `fsconfig`, `fsmount`). Every other call goes through nix.
//! These are thin and typed; `mount_api` builds the operations the crate uses on top of them.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

/// A path as a C string; an interior NUL is `EINVAL`, as the kernel would say.
pub(crate) fn cpath(path: &Path) -> nix::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// A string as a C string; an interior NUL is `EINVAL`.
pub(crate) fn cstr(s: &str) -> nix::Result<CString> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

/// Turns a syscall's fd result into an owned fd.
fn fd_result(ret: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = Errno::result(ret)?;
    let fd = RawFd::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open_tree(2)`: an fd for the mount at `path` (with `OPEN_TREE_CLONE`, a detached copy).
pub(crate) fn open_tree(dirfd: BorrowedFd<'_>, path: &CStr, flags: u32) -> nix::Result<OwnedFd> {
    // SAFETY: `path` is a valid NUL-terminated string and `dirfd` a live fd (or AT_FDCWD)
    // for the duration of the call; the kernel does not keep either pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags as libc::c_uint,
        )
    };
    fd_result(ret)
}

/// `move_mount(2)`: attach (or move) the mount `from` onto `to`.
pub(crate) fn move_mount(
    from_dirfd: BorrowedFd<'_>,
    from_path: &CStr,
    to_dirfd: BorrowedFd<'_>,
    to_path: &CStr,
    flags: u32,
) -> nix::Result<()> {
    // SAFETY: both paths are valid NUL-terminated strings and both fds are live for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from_dirfd.as_raw_fd(),
            from_path.as_ptr(),
            to_dirfd.as_raw_fd(),
            to_path.as_ptr(),
            flags as libc::c_uint,
        )
    };
    Errno::result(ret).map(drop)
}

/// `mount_setattr(2)`: change the attributes and propagation of a mount (tree).
pub(crate) fn mount_setattr(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u32,
    attr: &libc::mount_attr,
) -> nix::Result<()> {
    // SAFETY: `attr` points to a fully initialised `mount_attr` whose size we pass, the path
    // is NUL-terminated and the fd is live; the kernel only reads these during the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags as libc::c_uint,
            attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// `fsopen(2)`: a filesystem context for a new superblock of type `fstype`.
pub(crate) fn fsopen(fstype: &CStr, flags: u32) -> nix::Result<OwnedFd> {
    // SAFETY: `fstype` is a valid NUL-terminated string for the duration of the call.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), flags as libc::c_uint) };
    fd_result(ret)
}

/// `fsconfig(2)` with a key and an optional string value (`FSCONFIG_SET_FLAG`,
/// `FSCONFIG_SET_STRING`) or neither (`FSCONFIG_CMD_CREATE`).
pub(crate) fn fsconfig(
    fsfd: BorrowedFd<'_>,
    cmd: libc::c_uint,
    key: Option<&CStr>,
    value: Option<&CStr>,
) -> nix::Result<()> {
    let key = key.map_or(std::ptr::null(), CStr::as_ptr);
    let value = value.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: `key` and `value` are null or valid NUL-terminated strings, `fsfd` is live,
    // and `aux` is 0 for every command we issue.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            cmd,
            key,
            value,
            0 as libc::c_int,
        )
    };
    Errno::result(ret).map(drop)
}

/// `fsmount(2)`: a detached mount of the superblock created in `fsfd`.
pub(crate) fn fsmount(fsfd: BorrowedFd<'_>, flags: u32, attr_flags: u64) -> nix::Result<OwnedFd> {
    let attr_flags = libc::c_uint::try_from(attr_flags).map_err(|_| Errno::EINVAL)?;
    // SAFETY: plain integer arguments and a live fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fsfd.as_raw_fd(),
            flags as libc::c_uint,
            attr_flags,
        )
    };
    fd_result(ret)
}

/// The id of the mount `fd` is on (`statx(2)` with `STATX_MNT_ID`, Linux 5.8; nix has no
/// statx); ENOSYS when the kernel does not report it.
pub(crate) fn mount_id(fd: BorrowedFd<'_>) -> nix::Result<u64> {
    // SAFETY: statx is plain data; all zeroes is a valid value of it.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a valid empty NUL-terminated string, `fd` is live, and `stx` is a
    // valid statx buffer that outlives the call.
    let ret = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    Errno::result(ret)?;
    if stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(Errno::ENOSYS);
    }
    Ok(stx.stx_mnt_id)
}
