//! `process.terminal`: a new pty inside the container, its master sent to the caller's
//! console socket (as runc does), its slave made the process's controlling terminal and stdio.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::fcntl::{OFlag, open};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use nix::sys::stat::Mode;
use oci_spec::runtime::Box as ConsoleSize;

use crate::{Error, Result};

/// Opens a pty from the container's `/dev/ptmx`, sends the master over `socket`, and makes
/// the slave this process's controlling terminal and stdin/stdout/stderr.
pub(crate) fn attach_new_pty(socket: BorrowedFd<'_>, size: Option<&ConsoleSize>) -> Result<()> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(Error::sys("open /dev/ptmx in the container"))?;
    grantpt(&master).map_err(Error::sys("grant the pty"))?;
    unlockpt(&master).map_err(Error::sys("unlock the pty"))?;
    let name = ptsname_r(&master).map_err(Error::sys("name the pty"))?;
    let slave = open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(Error::sys(format!("open {name}")))?;
    if let Some(size) = size {
        let winsize = libc::winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which is valid for the call.
        let ret = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &winsize) };
        nix::errno::Errno::result(ret).map_err(Error::sys("set the console size"))?;
    }
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|source| Error::Console {
        path: "(console socket)".into(),
        source,
    })?;
    drop(master);
    new_session()?;
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal); no memory is passed.
    let ret = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(ret).map_err(Error::sys("make the pty the controlling terminal"))?;
    for target in 0..=2 {
        // SAFETY: dup2 onto stdio numbers; `slave` stays open across the calls.
        let ret = unsafe { libc::dup2(slave.as_raw_fd(), target) };
        nix::errno::Errno::result(ret).map_err(Error::sys("attach stdio to the pty"))?;
    }
    Ok(())
}

/// Makes the calling process the leader of a new session (and process group), as runc makes
/// every process it starts, with a terminal or without: its container's processes then form
/// one session inside the container, which is what CRIU needs to checkpoint it ("a session
/// leader ... is outside of its pid namespace" otherwise).
pub(crate) fn new_session() -> Result<()> {
    nix::unistd::setsid()
        .map(drop)
        .map_err(Error::sys("start a session"))
}
