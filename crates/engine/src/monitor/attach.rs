//! The attach protocol between a monitor and its clients (foreground `run`, `start -a`,
//! `attach`): a `SOCK_SEQPACKET` unix socket, one message per packet, its first byte the
//! kind. Monitor → client: [`STDOUT`]/[`STDERR`] + bytes, [`EXIT`] + the exit code (4
//! bytes, big-endian) as the last message. Client → monitor: [`STDIN`] + bytes (a bare
//! [`STDIN`] closes the container's stdin), [`RESIZE`] + rows + columns (2 bytes each).
//!
//! [`attach`] is the client: it copies the caller's stdin to the container and the
//! container's output to the caller's stdout/stderr, puts a terminal in raw mode for `-t`
//! (restored on every way out), forwards window size changes (SIGWINCH), and detaches on
//! the detach keys (ctrl-p ctrl-q by default, as docker's). [`attach_proxying`] also hands
//! the signals an operator sends a foreground client to the caller (docker's sig-proxy).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
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
    /// With `tty`, make the program redraw its screen on attaching: the size is set one
    /// row and column larger first, then to the real one, so that it sees a SIGWINCH
    /// even when the size did not change (docker's `attach` does the same). For attaching
    /// to a container that already runs.
    pub redraw: bool,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            stdin: false,
            tty: false,
            detach_keys: vec![0x10, 0x11],
            redraw: false,
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

/// Sends our terminal's size (grown by `grow` rows and columns).
fn send_resize(sock: &OwnedFd, grow: u16) {
    if let Some((rows, cols)) = window_size(std::io::stdin().as_fd()) {
        let mut msg = vec![RESIZE];
        msg.extend(rows.saturating_add(grow).to_be_bytes());
        msg.extend(cols.saturating_add(grow).to_be_bytes());
        let _ = send(sock.as_raw_fd(), &msg, MsgFlags::MSG_NOSIGNAL);
    }
}

/// Puts the caller's terminal (stdin) in raw mode, and restores its mode when dropped.
#[derive(Debug)]
pub(crate) struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    /// Raw mode if `enable` and stdin is a terminal; otherwise nothing to restore.
    pub(crate) fn enter(enable: bool) -> Self {
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

/// Signals taken from normal delivery into a `signalfd` for as long as it lives; those
/// that arrived meanwhile are drained (not delivered) when it is dropped.
#[derive(Debug)]
pub(crate) struct Signals {
    mask: SigSet,
    fd: Option<SignalFd>,
}

impl Signals {
    /// Blocks `signals` on this thread and opens a non-blocking `signalfd` for them.
    pub(crate) fn take(signals: &[Signal]) -> Self {
        let mut mask = SigSet::empty();
        for &s in signals {
            mask.add(s);
        }
        if signals.is_empty() || mask.thread_block().is_err() {
            return Self { mask, fd: None };
        }
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
        Self { mask, fd }
    }

    /// The fd to poll, if there is one.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(AsFd::as_fd)
    }

    /// The signals that arrived since the last call.
    pub(crate) fn pending(&self) -> Vec<Signal> {
        let mut got = Vec::new();
        if let Some(fd) = &self.fd {
            while let Ok(Some(info)) = fd.read_signal() {
                if let Ok(s) = Signal::try_from(info.ssi_signo.cast_signed()) {
                    got.push(s);
                }
            }
        }
        got
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        if self.fd.is_some() {
            let _ = self.pending();
            self.fd = None;
            let _ = self.mask.thread_unblock();
        }
    }
}

/// The signals a foreground client without a terminal forwards to its container
/// ([`attach_proxying`]), as docker's `--sig-proxy` does: ctrl-c (SIGINT), SIGTERM, and the
/// other signals an operator sends a foreground program (SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2).
pub const PROXIED_SIGNALS: [Signal; 6] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Copies between the caller's stdio and a monitor until the container exits, the
/// operator detaches, or the monitor goes away.
///
/// # Errors
/// [`Error::Sys`] when polling fails.
pub fn attach(sock: &OwnedFd, opts: &AttachOptions) -> Result<AttachEnd> {
    attach_inner(sock, opts, None)
}

/// [`attach`], and every signal of [`PROXIED_SIGNALS`] this process receives meanwhile is
/// handed to `forward` (which sends it to the container: `Containers::kill`) instead of
/// ending this process. For a container without a terminal (docker's sig-proxy); with a
/// terminal in raw mode ctrl-c is a byte the container's terminal turns into SIGINT.
///
/// # Errors
/// [`Error::Sys`] when polling fails.
pub fn attach_proxying(
    sock: &OwnedFd,
    opts: &AttachOptions,
    forward: &mut dyn FnMut(Signal),
) -> Result<AttachEnd> {
    attach_inner(sock, opts, Some(forward))
}

fn attach_inner(
    sock: &OwnedFd,
    opts: &AttachOptions,
    forward: Option<&mut dyn FnMut(Signal)>,
) -> Result<AttachEnd> {
    let stdin_is_tty = nix::unistd::isatty(std::io::stdin().as_fd()).unwrap_or(false);
    let _raw = RawMode::enter(opts.tty && opts.stdin && stdin_is_tty);
    let mut wanted = Vec::new();
    if opts.tty {
        wanted.push(Signal::SIGWINCH);
    }
    if forward.is_some() {
        wanted.extend(PROXIED_SIGNALS);
    }
    let signals = Signals::take(&wanted);
    if opts.tty {
        if opts.redraw {
            send_resize(sock, 1);
        }
        send_resize(sock, 0);
    }
    pump(sock, opts, &signals, forward)
}

/// Detach-key matching over the typed bytes: bytes that may begin the sequence are held
/// back until it is clear whether they do (then sent late, or never: docker's behaviour).
#[derive(Debug)]
struct DetachKeys<'a> {
    keys: &'a [u8],
    held: usize,
}

impl DetachKeys<'_> {
    /// Appends to `out` what of `input` goes to the container; true once the whole
    /// sequence was typed (what followed it in `input` is dropped).
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return false;
        }
        for &b in input {
            if self.keys.get(self.held) == Some(&b) {
                self.held += 1;
                if self.held == self.keys.len() {
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if self.keys.first() == Some(&b) {
                self.held = 1;
            } else {
                out.push(b);
            }
        }
        false
    }
}

fn pump(
    sock: &OwnedFd,
    opts: &AttachOptions,
    signals: &Signals,
    mut forward: Option<&mut dyn FnMut(Signal)>,
) -> Result<AttachEnd> {
    let stdin = std::io::stdin();
    let mut stdin_open = opts.stdin;
    let mut keys = DetachKeys {
        keys: &opts.detach_keys,
        held: 0,
    };
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let signal_index = fds.len();
        if let Some(fd) = signals.fd() {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
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
        let (sock_ready, stdin_ready, signal_ready) = (
            ready(0),
            stdin_open && ready(1),
            signals.fd().is_some() && ready(signal_index),
        );
        drop(fds);
        if signal_ready {
            for signal in signals.pending() {
                match (signal, forward.as_deref_mut()) {
                    (Signal::SIGWINCH, _) => send_resize(sock, 0),
                    (s, Some(f)) => f(s),
                    (_, None) => {}
                }
            }
        }
        if stdin_ready {
            let n = nix::unistd::read(stdin.as_fd(), &mut buf[1..]).unwrap_or(0);
            if n == 0 {
                stdin_open = false;
                let _ = send(sock.as_raw_fd(), &[STDIN], MsgFlags::MSG_NOSIGNAL);
            } else {
                let typed = &buf[1..=n];
                let mut send_now = vec![STDIN];
                let detached = if opts.tty {
                    keys.feed(typed, &mut send_now)
                } else {
                    send_now.extend_from_slice(typed);
                    false
                };
                if send_now.len() > 1
                    && send(sock.as_raw_fd(), &send_now, MsgFlags::MSG_NOSIGNAL).is_err()
                {
                    stdin_open = false;
                }
                if detached {
                    return Ok(AttachEnd::Detached);
                }
            }
        }
        if sock_ready {
            let n = match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                // The monitor closed with a packet of ours unread (a window size sent as the
                // program ended): the kernel reports ECONNRESET once, before the packets
                // still queued for us (the exit code); the next recv gives them.
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET) => continue,
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

#[cfg(test)]
mod tests {
    use super::DetachKeys;

    fn feed(keys: &[u8], chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut d = DetachKeys { keys, held: 0 };
        let mut out = Vec::new();
        for c in chunks {
            if d.feed(c, &mut out) {
                return (out, true);
            }
        }
        (out, false)
    }

    #[test]
    fn detach_keys_are_held_back_and_never_sent() {
        assert_eq!(feed(&[0x10, 0x11], &[b"ls\r"]), (b"ls\r".to_vec(), false));
        assert_eq!(
            feed(&[0x10, 0x11], &[b"ab\x10", b"\x11zz"]),
            (b"ab".to_vec(), true)
        );
        // A ctrl-p not followed by ctrl-q goes to the container, late and in order.
        assert_eq!(
            feed(&[0x10, 0x11], &[b"\x10", b"x"]),
            (b"\x10x".to_vec(), false)
        );
        assert_eq!(
            feed(&[0x10, 0x11], &[b"\x10\x10\x11"]),
            (b"\x10".to_vec(), true)
        );
        assert_eq!(feed(&[], &[b"\x10\x11"]), (b"\x10\x11".to_vec(), false));
        assert_eq!(feed(&[0x1d], &[b"a\x1db"]), (b"a".to_vec(), true));
    }
}
