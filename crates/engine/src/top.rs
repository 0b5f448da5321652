//! `peapod top CTR [descriptors…]` as podman shows it: ps(1)'s AIX-format descriptors
//! (`user pid ppid pcpu etime tty time args` by default; podman's `psgo` names, headers and
//! value formats), computed from `/proc` for the container's processes. No `ps` binary is
//! run (busybox images have none, and the host's would read the host's user names).
//!
//! The caller gives the container's processes as host pids (from its cgroup). `pid` and
//! `ppid` are the ids inside the container's PID namespace (the last `NSpid` of
//! `/proc/<pid>/status`; a parent outside the container shows as 0), `hpid` the host's.
//! User and group names come from the container's own `/etc/passwd` and `/etc/group`,
//! opened inside its root filesystem (symlinks cannot lead out: `openat2` with
//! `RESOLVE_IN_ROOT`, via `peapod-rootfs`), falling back to the number. Files: proc(5)
//! `/proc/<pid>/stat`, `status`, `cmdline`, `/proc/uptime`.
//!
//! ```no_run
//! use std::path::Path;
//!
//! # fn main() -> Result<(), peapod_engine::top::TopError> {
//! let root = Path::new("/var/lib/peapod/containers/abc/merged");
//! let report = peapod_engine::top::top(&[4242, 4250], &["pid", "user", "args"], Some(root))?;
//! println!("{}", report.header.join("\t"));
//! for row in &report.rows {
//!     println!("{}", row.join("\t"));
//! }
//! # Ok(())
//! # }
//! ```

use std::fs::File;
use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;

/// The descriptors `top` shows when none are given (`ps -ef`'s columns).
pub const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// `(code, name, header)` of every descriptor, as podman's psgo spells them.
const DESCRIPTORS: &[(&str, &str, &str)] = &[
    ("%C", "pcpu", "%CPU"),
    ("%G", "group", "GROUP"),
    ("", "groups", "GROUPS"),
    ("%P", "ppid", "PPID"),
    ("%U", "user", "USER"),
    ("", "uid", "UID"),
    ("%a", "args", "COMMAND"),
    ("%c", "comm", "COMMAND"),
    ("%g", "rgroup", "RGROUP"),
    ("%n", "nice", "NI"),
    ("%p", "pid", "PID"),
    ("%r", "pgid", "PGID"),
    ("%t", "etime", "ELAPSED"),
    ("%u", "ruser", "RUSER"),
    ("%x", "time", "TIME"),
    ("%y", "tty", "TTY"),
    ("%z", "vsz", "VSZ"),
    ("", "rss", "RSS"),
    ("", "state", "STATE"),
    ("", "seccomp", "SECCOMP"),
    ("", "hpid", "HPID"),
    ("", "huid", "HUID"),
];

/// The largest `/etc/passwd` or `/etc/group` read from a container.
const ID_FILE_LIMIT: u64 = 4 << 20;

/// Why `top` could not list a container's processes.
#[derive(Debug, thiserror::Error)]
pub enum TopError {
    /// A descriptor that is none of [`descriptors`].
    #[error("unknown descriptor {given:?}: valid descriptors are {valid}")]
    UnknownDescriptor {
        /// What was asked for.
        given: String,
        /// Every valid descriptor, comma-separated.
        valid: String,
    },
    /// A `/proc` file (other than those of a process that has just exited) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `/proc` file is not as proc(5) documents it.
    #[error("unexpected contents in {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The container's `/etc/passwd` or `/etc/group` could not be opened or read.
    #[error("cannot read {path} of the container's root {root}: {reason}")]
    IdFile {
        /// The file inside the container.
        path: &'static str,
        /// The container's root filesystem.
        root: PathBuf,
        /// The cause.
        reason: String,
    },
}

/// What `top` prints: a header and one row per process, in the order the pids were given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopReport {
    /// The column titles (`USER`, `PID`…).
    pub header: Vec<String>,
    /// One row per process that still exists, one cell per descriptor.
    pub rows: Vec<Vec<String>>,
}

/// Every valid descriptor name, sorted (psgo's `ListDescriptors`).
pub fn descriptors() -> Vec<&'static str> {
    let mut names: Vec<&str> = DESCRIPTORS.iter().map(|d| d.1).collect();
    names.sort_unstable();
    names
}

/// What top reads of one process.
#[derive(Debug, Default)]
struct Proc {
    hpid: i32,
    comm: String,
    state: String,
    host_ppid: i32,
    pgrp: i32,
    tty_nr: u64,
    cpu_ticks: u64,
    nice: i64,
    start_ticks: u64,
    vsize: u64,
    /// Real, effective uid; real, effective gid.
    uids: [u32; 2],
    gids: [u32; 2],
    groups: Vec<u32>,
    ns_pid: i32,
    rss_kib: u64,
    seccomp: String,
    args: Vec<String>,
}

fn read_proc(path: &str) -> Result<Option<Vec<u8>>, TopError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        // The process exited since it was listed: it is simply not shown.
        Err(e)
            if matches!(
                e.raw_os_error().map(Errno::from_raw),
                Some(Errno::ENOENT | Errno::ESRCH)
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(TopError::Read {
            path: path.into(),
            source,
        }),
    }
}

/// Parses `/proc/<pid>/stat` into `p` (proc(5); `comm` may hold spaces and parentheses, so
/// the fields after it are found from the last `)`).
fn parse_stat(text: &str, p: &mut Proc) -> Option<()> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    p.comm = text.get(open + 1..close)?.to_owned();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // f[0] is field 3 (state).
    let field = |n: usize| f.get(n - 3).copied();
    p.state = field(3)?.to_owned();
    p.host_ppid = field(4)?.parse().ok()?;
    p.pgrp = field(5)?.parse().ok()?;
    p.tty_nr = field(7)?.parse().ok()?;
    let utime: u64 = field(14)?.parse().ok()?;
    let stime: u64 = field(15)?.parse().ok()?;
    p.cpu_ticks = utime.checked_add(stime)?;
    p.nice = field(19)?.parse().ok()?;
    p.start_ticks = field(22)?.parse().ok()?;
    p.vsize = field(23)?.parse().ok()?;
    Some(())
}

/// Parses `/proc/<pid>/status` into `p`.
fn parse_status(text: &str, p: &mut Proc) -> Option<()> {
    let ids = |v: &str| -> Option<[u32; 2]> {
        let mut it = v.split_whitespace().map(|n| n.parse::<u32>());
        Some([it.next()?.ok()?, it.next()?.ok()?])
    };
    let (mut uids, mut gids) = (None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            "Uid" => uids = ids(value),
            "Gid" => gids = ids(value),
            "Groups" => {
                p.groups = value
                    .split_whitespace()
                    .filter_map(|g| g.parse().ok())
                    .collect();
            }
            "NSpid" => p.ns_pid = value.split_whitespace().last()?.parse().ok()?,
            "VmRSS" => {
                p.rss_kib = value.trim().trim_end_matches("kB").trim().parse().ok()?;
            }
            "Seccomp" => p.seccomp = value.trim().to_owned(),
            _ => {}
        }
    }
    p.uids = uids?;
    p.gids = gids?;
    Some(())
}

/// Reads one process; `None` if it has exited.
fn process(hpid: i32) -> Result<Option<Proc>, TopError> {
    let mut p = Proc {
        hpid,
        ns_pid: hpid,
        ..Proc::default()
    };
    let bad = |file: &str, reason| TopError::Parse {
        path: format!("/proc/{hpid}/{file}").into(),
        reason,
    };
    let Some(stat) = read_proc(&format!("/proc/{hpid}/stat"))? else {
        return Ok(None);
    };
    parse_stat(&String::from_utf8_lossy(&stat), &mut p)
        .ok_or_else(|| bad("stat", "expected pid (comm) state ppid … vsize"))?;
    let Some(status) = read_proc(&format!("/proc/{hpid}/status"))? else {
        return Ok(None);
    };
    parse_status(&String::from_utf8_lossy(&status), &mut p)
        .ok_or_else(|| bad("status", "expected Uid: and Gid: lines with numbers"))?;
    let Some(cmdline) = read_proc(&format!("/proc/{hpid}/cmdline"))? else {
        return Ok(None);
    };
    p.args = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Ok(Some(p))
}

/// `name` → id lines of a passwd or group file: field 0 is the name, field 2 the id.
fn id_names(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, (*f.first()?).to_owned()))
        })
        .collect()
}

/// Reads `path` inside `root` without following a symlink out of it; empty if missing.
fn read_in_root(root: &Path, path: &'static str) -> Result<String, TopError> {
    let err = |reason: String| TopError::IdFile {
        path,
        root: root.to_path_buf(),
        reason,
    };
    let dir = File::open(root).map_err(|e| err(e.to_string()))?;
    let fd = match peapod_rootfs::open_in_root(dir.as_fd(), Path::new(path), OFlag::O_RDONLY) {
        Ok(fd) => fd,
        Err(peapod_rootfs::Error::Resolve { source, .. }) if source.errno() == Errno::ENOENT => {
            return Ok(String::new());
        }
        Err(e) => return Err(err(e.to_string())),
    };
    let mut bytes = Vec::new();
    File::from(fd)
        .take(ID_FILE_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A duration as Go prints it (`1h2m3.5s`, `4.25s`, `10ms`, `0s`), as podman shows times.
fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    let frac = |value: u128, unit: u128, digits: usize| {
        let s = format!("{}.{:0digits$}", value / unit, value % unit);
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000, 6));
    }
    let secs = ns / 1_000_000_000;
    let (h, m) = (secs / 3600, secs / 60 % 60);
    let s = frac(ns % 60_000_000_000, 1_000_000_000, 9);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// The terminal a `tty_nr` (major and minor packed as the kernel does) names, `?` for none.
/// Documentation/admin-guide/devices.txt: 136–143 pts, 4 tty (64+ ttyS).
fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => "?".to_owned(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".to_owned(),
        _ => format!("{major}:{minor}"),
    }
}

/// Resolves the descriptors asked for (names or `%` codes, each argument possibly a
/// comma-separated list) to indices into [`DESCRIPTORS`].
fn translate<S: AsRef<str>>(asked: &[S]) -> Result<Vec<usize>, TopError> {
    let words: Vec<&str> = if asked.is_empty() {
        DEFAULT_DESCRIPTORS.to_vec()
    } else {
        asked
            .iter()
            .flat_map(|a| a.as_ref().split(','))
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect()
    };
    words
        .iter()
        .map(|w| {
            DESCRIPTORS
                .iter()
                .position(|(code, name, _)| w == name || (!code.is_empty() && w == code))
                .ok_or_else(|| TopError::UnknownDescriptor {
                    given: (*w).to_owned(),
                    valid: descriptors().join(", "),
                })
        })
        .collect()
}

/// The processes `hpids` (host pids, e.g. the container cgroup's), with the columns
/// `descriptors` (empty: [`DEFAULT_DESCRIPTORS`]); user and group names from the
/// container's root filesystem `root` when given. A process that exits meanwhile is left
/// out.
///
/// # Errors
///
/// [`TopError::UnknownDescriptor`] listing the valid ones; [`TopError::IdFile`] if the
/// container's `/etc/passwd` or `/etc/group` exists but cannot be read; [`TopError::Read`]
/// or [`TopError::Parse`] for `/proc` files that cannot be read or understood.
pub fn top<S: AsRef<str>>(
    hpids: &[i32],
    descriptors: &[S],
    root: Option<&Path>,
) -> Result<TopReport, TopError> {
    let columns = translate(descriptors)?;
    let mut procs = Vec::new();
    for &hpid in hpids {
        if let Some(p) = process(hpid)? {
            procs.push(p);
        }
    }
    let (users, groups) = match root {
        Some(r) => (
            id_names(&read_in_root(r, "/etc/passwd")?),
            id_names(&read_in_root(r, "/etc/group")?),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let clock = Clock::read()?;
    let name = |table: &[(u32, String)], id: u32| {
        table
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| id.to_string(), |(_, n)| n.clone())
    };
    let rows = procs
        .iter()
        .map(|p| {
            columns
                .iter()
                .map(|&c| match DESCRIPTORS[c].1 {
                    "pcpu" => {
                        let elapsed = clock.elapsed(p).as_secs_f64();
                        let cpu = clock.ticks(p.cpu_ticks).as_secs_f64();
                        let pcpu = if elapsed > 0.0 {
                            100.0 * cpu / elapsed
                        } else {
                            0.0
                        };
                        format!("{pcpu:.3}")
                    }
                    "group" => name(&groups, p.gids[1]),
                    "groups" => p
                        .groups
                        .iter()
                        .map(|&g| name(&groups, g))
                        .collect::<Vec<_>>()
                        .join(","),
                    "ppid" => procs
                        .iter()
                        .find(|q| q.hpid == p.host_ppid)
                        .map_or(0, |q| q.ns_pid)
                        .to_string(),
                    "user" => name(&users, p.uids[1]),
                    "uid" => p.uids[1].to_string(),
                    "args" if p.args.is_empty() => format!("[{}]", p.comm),
                    "args" => p.args.join(" "),
                    "comm" => p.comm.clone(),
                    "rgroup" => name(&groups, p.gids[0]),
                    "nice" => p.nice.to_string(),
                    "pid" => p.ns_pid.to_string(),
                    "pgid" => p.pgrp.to_string(),
                    "etime" => go_duration(clock.elapsed(p)),
                    "ruser" => name(&users, p.uids[0]),
                    "time" => go_duration(clock.ticks(p.cpu_ticks)),
                    "tty" => tty_name(p.tty_nr),
                    "vsz" => (p.vsize / 1024).to_string(),
                    "rss" => p.rss_kib.to_string(),
                    "state" => p.state.clone(),
                    "seccomp" => match p.seccomp.as_str() {
                        "0" => "disabled",
                        "1" => "strict",
                        "2" => "filter",
                        _ => "?",
                    }
                    .to_owned(),
                    "hpid" => p.hpid.to_string(),
                    _ => p.uids[1].to_string(), // huid
                })
                .collect()
        })
        .collect();
    Ok(TopReport {
        header: columns
            .iter()
            .map(|&c| DESCRIPTORS[c].2.to_owned())
            .collect(),
        rows,
    })
}

/// The clock processes' times are measured against: ticks per second and the uptime.
struct Clock {
    ticks_per_sec: u64,
    uptime: Duration,
}

impl Clock {
    fn read() -> Result<Clock, TopError> {
        let path = "/proc/uptime";
        let bad = || TopError::Parse {
            path: path.into(),
            reason: "expected seconds since boot",
        };
        let text = std::fs::read_to_string(path).map_err(|source| TopError::Read {
            path: path.into(),
            source,
        })?;
        let secs: f64 = text
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let uptime = Duration::try_from_secs_f64(secs).map_err(|_| bad())?;
        let ticks_per_sec = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
            Ok(Some(t)) if t > 0 => t as u64,
            _ => {
                return Err(TopError::Parse {
                    path: "sysconf(_SC_CLK_TCK)".into(),
                    reason: "no positive clock tick rate",
                });
            }
        };
        Ok(Clock {
            ticks_per_sec,
            uptime,
        })
    }

    fn ticks(&self, ticks: u64) -> Duration {
        Duration::from_nanos(ticks.saturating_mul(1_000_000_000 / self.ticks_per_sec))
    }

    /// Time since `p` started.
    fn elapsed(&self, p: &Proc) -> Duration {
        self.uptime.saturating_sub(self.ticks(p.start_ticks))
    }
}

#[cfg(test)]
mod tests;
