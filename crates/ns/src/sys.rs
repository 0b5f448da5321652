//! The one raw call this crate needs that nix lacks: `ioctl(NS_GET_NSTYPE)`.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::sched::CloneFlags;

/// `NS_GET_NSTYPE` from `<linux/nsfs.h>`: `_IO(0xb7, 0x3)`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The `CLONE_NEW*` type of the namespace `fd` refers to.
pub(crate) fn namespace_type(fd: BorrowedFd<'_>) -> nix::Result<CloneFlags> {
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd; `fd` is a live,
    // borrowed descriptor for the duration of the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    nix::errno::Errno::result(ret).map(CloneFlags::from_bits_retain)
}
