//! `run` of a bundle whose process wants a terminal, with no console socket given: like runc,
//! peapod-oci receives the pty master itself and relays between it and its own stdio (raw
//! mode while it does, when its stdin is a terminal).

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};

/// Whether the bundle's process asks for a terminal.
pub(crate) fn wants_terminal(bundle: &Path) -> bool {
    // Only the one field: the runtime parses the whole config itself.
    #[derive(serde::Deserialize)]
    struct Config {
        process: Option<Process>,
    }
    #[derive(serde::Deserialize)]
    struct Process {
        terminal: Option<bool>,
    }
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Config>(&b).ok())
        .and_then(|c| c.process?.terminal)
        .unwrap_or(false)
}

/// A console socket of our own, listening at a private path until dropped.
#[derive(Debug)]
pub(crate) struct OwnConsole {
    listener: UnixListener,
    pub(crate) path: PathBuf,
}

impl OwnConsole {
    pub(crate) fn listen(root: &Path, id: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        let path = root.join(format!(".{id}.{}.console", std::process::id()));
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        Ok(Self { listener, path })
    }

    /// The pty master the container's init sent (its connection waits in our backlog).
    pub(crate) fn master(&self) -> anyhow::Result<OwnedFd> {
        let (stream, _) = self
            .listener
            .accept()
            .context("cannot accept the container's console")?;
        let mut name = [0u8; 128];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .context("cannot receive the pty master")?;
        for cmsg in msg.cmsgs().context("cannot read the console message")? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg
                && let Some(fd) = fds.first()
            {
                // SAFETY: the fd was just received over SCM_RIGHTS; nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
        bail!("the container sent no pty master")
    }
}

impl Drop for OwnConsole {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Relays stdin to the pty and the pty to stdout until the container closes it.
pub(crate) fn relay(master: &OwnedFd) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let saved = tcgetattr(stdin.as_fd()).ok();
    if let Some(original) = &saved {
        let mut raw = original.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
            .context("cannot put the terminal in raw mode")?;
    }
    let result = pump(stdin.as_fd(), master.as_fd());
    if let Some(original) = &saved {
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, original);
    }
    result
}

fn pump(stdin: BorrowedFd<'_>, master: BorrowedFd<'_>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut buf = [0u8; 8192];
    let mut stdin_open = true;
    loop {
        let mut fds = vec![PollFd::new(master, PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            other => other.context("cannot wait for the terminal")?,
        };
        let from_stdin = stdin_open
            && fds
                .get(1)
                .and_then(PollFd::revents)
                .is_some_and(|r| !r.is_empty());
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            match nix::unistd::read(master, &mut buf) {
                // EIO: every slave fd is closed, the container is gone.
                Ok(0) | Err(nix::Error::EIO) => return Ok(()),
                Ok(n) => write_all(stdout.as_fd(), &buf[..n])?,
                Err(nix::Error::EINTR | nix::Error::EAGAIN) => {}
                Err(e) => return Err(e).context("cannot read the terminal"),
            }
        }
        if from_stdin {
            match nix::unistd::read(stdin, &mut buf) {
                // End of our input: pass it on as the terminal's end-of-file character.
                Ok(0) => {
                    stdin_open = false;
                    write_all(master, &[4])?;
                }
                Ok(n) => write_all(master, &buf[..n])?,
                Err(nix::Error::EINTR | nix::Error::EAGAIN) => {}
                Err(_) => stdin_open = false,
            }
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> anyhow::Result<()> {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e).context("cannot relay the terminal"),
        }
    }
    Ok(())
}
