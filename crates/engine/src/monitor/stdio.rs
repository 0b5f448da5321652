//! The container's stdio as the monitor holds it: pipes (stdin only with `-i`), or a pty
//! whose master the runtime sends over a console socket (runc's protocol: one `SCM_RIGHTS`
//! message on a unix stream socket).

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind,
    listen, recvmsg, socket,
};

use crate::error::{Error, Result};

/// The monitor's ends.
#[derive(Debug, Default)]
pub(crate) struct MonitorEnds {
    /// Where stdin bytes go (the pipe's write end, or the pty master).
    pub(crate) stdin: Option<OwnedFd>,
    /// Output: stdout pipe, or the pty master.
    pub(crate) stdout: Option<OwnedFd>,
    /// Output: stderr pipe (none with a pty).
    pub(crate) stderr: Option<OwnedFd>,
    /// The pty master, for window sizes.
    pub(crate) master: Option<OwnedFd>,
}

/// The container's ends (what becomes its fds 0, 1 and 2), when it has no pty.
#[derive(Debug)]
pub(crate) struct ContainerEnds {
    pub(crate) stdin: OwnedFd,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

/// Pipes for a container without a terminal. Without `-i` its stdin is /dev/null.
pub(crate) fn pipes(stdin: bool) -> Result<(MonitorEnds, ContainerEnds)> {
    let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(Error::sys("create a pipe"));
    let (in_r, in_w) = if stdin {
        let (r, w) = pipe()?;
        (r, Some(w))
    } else {
        let null =
            std::fs::File::open("/dev/null").map_err(Error::io("open", Path::new("/dev/null")))?;
        (OwnedFd::from(null), None)
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    Ok((
        MonitorEnds {
            stdin: in_w,
            stdout: Some(out_r),
            stderr: Some(err_r),
            master: None,
        },
        ContainerEnds {
            stdin: in_r,
            stdout: out_w,
            stderr: err_w,
        },
    ))
}

/// A unix socket's path short enough for `sockaddr_un` (108 bytes): the path itself, or,
/// when it is too long, `/proc/<our pid>/fd/<dir fd>/<name>` through an open directory fd
/// (which the kernel resolves for this process and, as root, for any other).
#[derive(Debug)]
pub(crate) struct SocketPath {
    _dir: Option<OwnedFd>,
    pub(crate) path: PathBuf,
}

impl SocketPath {
    pub(crate) fn new(dir: &Path, name: &str) -> Result<Self> {
        let full = dir.join(name);
        if full.as_os_str().len() < 100 {
            return Ok(Self {
                _dir: None,
                path: full,
            });
        }
        let fd = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(Error::sys(format!("open {}", dir.display())))?;
        let path = PathBuf::from(format!(
            "/proc/{}/fd/{}/{name}",
            std::process::id(),
            fd.as_raw_fd()
        ));
        Ok(Self {
            _dir: Some(fd),
            path,
        })
    }
}

/// A listening console socket in the run directory.
#[derive(Debug)]
pub(crate) struct ConsoleSocket {
    pub(crate) path: PathBuf,
    fd: OwnedFd,
    file: PathBuf,
    _short: SocketPath,
}

impl ConsoleSocket {
    pub(crate) fn listen(run_dir: &Path) -> Result<Self> {
        Self::listen_named(run_dir, "console.sock")
    }

    pub(crate) fn listen_named(run_dir: &Path, name: &str) -> Result<Self> {
        let file = run_dir.join(name);
        let _ = std::fs::remove_file(&file);
        let short = SocketPath::new(run_dir, name)?;
        let path = short.path.clone();
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(Error::sys("create the console socket"))?;
        let addr =
            UnixAddr::new(&path).map_err(Error::sys(format!("address {}", path.display())))?;
        bind(fd.as_raw_fd(), &addr).map_err(Error::sys(format!("bind {}", path.display())))?;
        listen(
            &fd,
            nix::sys::socket::Backlog::new(1).map_err(Error::sys("listen"))?,
        )
        .map_err(Error::sys(format!("listen on {}", path.display())))?;
        Ok(Self {
            path,
            fd,
            file,
            _short: short,
        })
    }

    /// The pty master the runtime sent (waits 10 s at most).
    pub(crate) fn receive(self) -> Result<OwnedFd> {
        let what = "receive the container's terminal from the runtime";
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&self.fd),
            PollFlags::POLLIN,
        )];
        let n = poll(&mut fds, PollTimeout::from(10_000u16)).map_err(Error::sys(what))?;
        if n == 0 {
            return Err(Error::Sys {
                what: what.into(),
                source: nix::Error::ETIMEDOUT,
            });
        }
        let conn = accept4(&self.fd, SockFlag::SOCK_CLOEXEC).map_err(Error::sys(what))?;
        let mut name = [0u8; 256];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(Error::sys(what))?;
        let mut master = None;
        for cmsg in msg.cmsgs().map_err(Error::sys(what))? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                for fd in fds {
                    // SAFETY: SCM_RIGHTS just installed this fd in our table; we own it now.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    master.get_or_insert(owned);
                }
            }
        }
        let _ = std::fs::remove_file(&self.file);
        master.ok_or_else(|| Error::Sys {
            what: what.into(),
            source: nix::Error::EBADMSG,
        })
    }
}

/// Sets a pty's window size.
pub(crate) fn resize(master: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from memory we own; nix has no wrapper.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// The read-only mappings of this program's image and its shared libraries with no
/// written page (`Anonymous: 0 kB` in smaps): code and constants. Read once,
/// at the monitor's start (before anything else is mapped), so that [`trim`] touches as
/// little code as it can.
pub(crate) fn code_ranges() -> Vec<(usize, usize)> {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return Vec::new();
    };
    // Only the program's own image and its shared libraries: they stay mapped for the
    // process's whole life. A file the runtime mapped for a while (and unmapped since)
    // could have its addresses reused by heap memory, which MADV_DONTNEED would zero.
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    let exe = exe.to_string_lossy();
    let mut ranges = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let perms = fields.get(1).copied().unwrap_or_default();
            let path = fields.get(5).copied().unwrap_or_default();
            let image = path == exe || path.contains(".so");
            let eligible =
                perms.starts_with('r') && !perms.contains('w') && path.starts_with('/') && image;
            current = eligible.then_some((start, end - start));
            continue;
        }
        // `Anonymous` counts every page of the mapping that was ever written (copied on
        // write), whoever wrote it: `Private_Dirty` alone would miss relocated pages still
        // shared with the parent this process was forked from.
        if let Some(anonymous) = line.strip_prefix("Anonymous:")
            && let Some(range) = current.take()
            && anonymous.trim() == "0 kB"
        {
            ranges.push(range);
        }
    }
    ranges
}

/// Drops this process's page-table entries for `ranges` (from [`code_ranges`]): the
/// monitor's idle footprint. The code for creating a container (most of the binary) is
/// not needed again, and what the serve loop runs faults back in from the page cache.
/// `MADV_DONTNEED` on a private mapping discards written pages, which is why only
/// mappings with none are in `ranges`: relocated data (RELRO) is never touched.
pub(crate) fn trim(ranges: &[(usize, usize)]) {
    for &(start, len) in ranges {
        // SAFETY: a read-only, file-backed mapping of ours with no privately written
        // page: dropping its resident pages loses nothing; they refault from the file.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    fn rss_file_kb() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("RssFile:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn trimming_drops_resident_code_pages() {
        let ranges = super::code_ranges();
        let before = rss_file_kb();
        super::trim(&ranges);
        let after = rss_file_kb();
        assert!(
            after < before,
            "RssFile {before} kB before, {after} kB after"
        );
    }
}
