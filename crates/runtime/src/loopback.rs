//! `lo` up in a network namespace the runtime creates, as runc does: a new namespace's
//! loopback is down, and 127.0.0.1/8 and ::1 (which the kernel gives it) answer only once it
//! is up. Two ioctls on a datagram socket (netdevice(7): SIOCGIFFLAGS, SIOCSIFFLAGS): no
//! netlink, no async runtime, on the start path of every such container.

use std::os::fd::AsRawFd;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

use crate::{Error, Result};

// nix has no wrappers for the interface ioctls; its macros make typed ones.
nix::ioctl_readwrite_bad!(get_flags, libc::SIOCGIFFLAGS, libc::ifreq);
nix::ioctl_write_ptr_bad!(set_flags, libc::SIOCSIFFLAGS, libc::ifreq);

/// Sets `IFF_UP` on `lo` in the caller's network namespace.
pub(crate) fn bring_up() -> Result<()> {
    let fail = |what: &str| Error::sys(format!("{what} the loopback interface lo"));
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(fail("open a socket to bring up"))?;
    // SAFETY: ifreq is a plain C struct (a name and a union of integers and addresses) for
    // which all-zero bytes are valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming "lo" (NUL-terminated by the zeroing), live for
    // the call; SIOCGIFFLAGS writes only its flags.
    unsafe { get_flags(sock.as_raw_fd(), &mut req) }.map_err(fail("read the flags of"))?;
    // SAFETY: the union's flags member is the one SIOCGIFFLAGS just filled in.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
    unsafe { set_flags(sock.as_raw_fd(), &req) }.map_err(fail("bring up"))?;
    Ok(())
}
