//! The attach protocol between a monitor and its clients (foreground `run`, `start -a`,
//! `attach`): a `SOCK_SEQPACKET` unix socket, one message per packet, its first byte the
//! kind. Monitor → client: [`STDOUT`]/[`STDERR`] + bytes, [`EXIT`] + the exit code (4
//! bytes, big-endian) as the last message. Client → monitor: [`STDIN`] + bytes (a bare
//! [`STDIN`] closes the container's stdin), [`RESIZE`] + rows + columns (2 bytes each).
//!
//! [`attach`] is the client: it copies the caller's stdin to the container and the
//! container's output to the caller's stdout/stderr, puts a terminal in raw mode for `-t`
//! (restored on every way out), forwards window size changes (SIGWINCH), and detaches on
//! the detach keys (ctrl-p ctrl-q by default, as docker's).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, recv, send, socket,
};

use crate::error::{Error, Result};

/// Client → monitor: stdin bytes (none: end of stdin).
pub const STDIN: u8 = 0;
/// Monitor → client: stdout bytes.
pub const STDOUT: u8 = 1;
/// Monitor → client: stderr bytes.
pub const STDERR: u8 = 2;
/// Monitor → client: the exit code, last.
pub const EXIT: u8 = 3;
/// Client → monitor: a window size.
pub const RESIZE: u8 = 4;

/// The largest packet either side sends.
pub(crate) const MAX_PACKET: usize = 64 * 1024;

/// How an [`attach`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachEnd {
    /// The container exited with this code.
    Exited(i32),
    /// The operator typed the detach keys.
    Detached,
    /// The monitor went away without an exit code.
    Lost,
}

/// What to copy.
#[derive(Clone, Debug)]
pub struct AttachOptions {
    /// Copy our stdin to the container (`-i`).
    pub stdin: bool,
    /// The container has a terminal (`-t`): raw mode, window sizes, detach keys.
    pub tty: bool,
    /// The detach sequence (ctrl-p ctrl-q).
    pub detach_keys: Vec<u8>,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            stdin: false,
            tty: false,
            detach_keys: vec![0x10, 0x11],
        }
    }
}

/// Connects to a monitor's attach socket.
///
/// # Errors
/// [`Error::Sys`] when the socket cannot be reached.
pub fn connect_socket(path: &Path) -> Result<OwnedFd> {
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(Error::sys("create an attach socket"))?;
    let (dir, name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        (Some(d), Some(n)) => (d, n),
        _ => (Path::new("/"), "attach"),
    };
    let short = super::stdio::SocketPath::new(dir, name)?;
    let addr =
        UnixAddr::new(&short.path).map_err(Error::sys(format!("address {}", path.display())))?;
    connect(sock.as_raw_fd(), &addr)
        .map_err(Error::sys(format!("connect to {}", path.display())))?;
    Ok(sock)
}

/// The terminal's size as (rows, columns), if `fd` is a terminal.
pub(crate) fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own; nix has no wrapper.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (ret == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

fn send_resize(sock: &OwnedFd) {
    if let Some((rows, cols)) = window_size(std::io::stdin().as_fd()) {
        let mut msg = vec![RESIZE];
        msg.extend(rows.to_be_bytes());
        msg.extend(cols.to_be_bytes());
        let _ = send(sock.as_raw_fd(), &msg, MsgFlags::MSG_NOSIGNAL);
    }
}

/// Restores a terminal's mode when dropped.
struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    fn enter(enable: bool) -> Self {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        if !enable {
            return Self { saved: None };
        }
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return Self { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        Self { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

/// Copies between the caller's stdio and a monitor until the container exits, the
/// operator detaches, or the monitor goes away.
///
/// # Errors
/// [`Error::Sys`] when polling fails.
pub fn attach(sock: &OwnedFd, opts: &AttachOptions) -> Result<AttachEnd> {
    let stdin_is_tty = nix::unistd::isatty(std::io::stdin().as_fd()).unwrap_or(false);
    let _raw = RawMode::enter(opts.tty && opts.stdin && stdin_is_tty);
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    let winch = if opts.tty {
        let _ = mask.thread_block();
        send_resize(sock);
        SignalFd::with_flags(&mask, nix::sys::signalfd::SfdFlags::SFD_CLOEXEC).ok()
    } else {
        None
    };
    let end = pump(sock, opts, winch.as_ref());
    if opts.tty {
        let _ = mask.thread_unblock();
    }
    end
}

fn pump(sock: &OwnedFd, opts: &AttachOptions, winch: Option<&SignalFd>) -> Result<AttachEnd> {
    let stdin = std::io::stdin();
    let mut stdin_open = opts.stdin;
    let mut matched = 0usize;
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let winch_index = fds.len();
        if let Some(w) = winch {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("wait for the container's output")(e)),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(PollFd::revents)
                .is_some_and(|r| !r.is_empty())
        };
        let (sock_ready, stdin_ready, winch_ready) = (
            ready(0),
            stdin_open && ready(1),
            winch.is_some() && ready(winch_index),
        );
        if winch_ready {
            if let Some(w) = winch {
                let _ = w.read_signal();
            }
            send_resize(sock);
        }
        if stdin_ready {
            let n = nix::unistd::read(stdin.as_fd(), &mut buf[1..]).unwrap_or(0);
            if n == 0 {
                stdin_open = false;
                let _ = send(sock.as_raw_fd(), &[STDIN], MsgFlags::MSG_NOSIGNAL);
            } else {
                if opts.tty && !opts.detach_keys.is_empty() {
                    for &b in &buf[1..=n] {
                        if opts.detach_keys.get(matched) == Some(&b) {
                            matched += 1;
                            if matched == opts.detach_keys.len() {
                                return Ok(AttachEnd::Detached);
                            }
                        } else {
                            matched = usize::from(opts.detach_keys.first() == Some(&b));
                        }
                    }
                }
                buf[0] = STDIN;
                if send(sock.as_raw_fd(), &buf[..=n], MsgFlags::MSG_NOSIGNAL).is_err() {
                    stdin_open = false;
                }
            }
        }
        if sock_ready {
            let n = match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return Ok(AttachEnd::Lost),
            };
            if n == 0 {
                return Ok(AttachEnd::Lost);
            }
            match buf[0] {
                STDOUT => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[1..n]).and_then(|()| out.flush());
                }
                STDERR => {
                    let _ = std::io::stderr().write_all(&buf[1..n]);
                }
                EXIT if n >= 5 => {
                    let code = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
                    return Ok(AttachEnd::Exited(code));
                }
                _ => {}
            }
        }
    }
}
