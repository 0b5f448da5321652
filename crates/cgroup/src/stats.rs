//! Resource usage of a cgroup, from v1 or v2 files. A controller the host lacks gives zero or
//! `None`; a file that exists but cannot be read or parsed is an error.

use std::path::{Path, PathBuf};

use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::fsutil;

/// v1 memory limits at or above this are "unlimited" (the kernel shows
/// `PAGE_COUNTER_MAX * PAGE_SIZE`, 9223372036854771712 with 4 KiB pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// Resource usage of a cgroup (including its child cgroups).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Bytes of memory charged now (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub memory_usage: u64,
    /// The memory limit, `None` if unlimited.
    pub memory_limit: Option<u64>,
    /// Peak memory usage (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`, Linux >= 5.19).
    pub memory_max_usage: Option<u64>,
    /// Processes killed by the OOM killer (v2 `memory.events` oom_kill, v1
    /// `memory.oom_control` oom_kill).
    pub oom_kills: u64,
    /// Processes and threads now (`pids.current`).
    pub pids_current: u64,
    /// The pids limit, `None` if unlimited.
    pub pids_limit: Option<u64>,
    /// CPU time used, nanoseconds (v1 `cpuacct.usage`, v2 `cpu.stat` usage_usec).
    pub cpu_usage_ns: u64,
    /// Bytes of file-backed memory not recently used, part of `memory_usage` and the first
    /// to be reclaimed (v1 `memory.stat` total_inactive_file, v2 `memory.stat`
    /// inactive_file): docker shows usage less this.
    pub memory_inactive_file: u64,
    /// Bytes read from block devices (v1 `blkio.throttle.io_service_bytes_recursive` Read
    /// lines, v2 `io.stat` rbytes, summed over devices).
    pub block_read_bytes: u64,
    /// Bytes written to block devices (as `block_read_bytes`, Write lines, wbytes).
    pub block_write_bytes: u64,
}

/// `(read, written)` bytes summed over the devices of a v1
/// `blkio.*io_service_bytes*` file (`MAJ:MIN Read N` lines; the kernel's
/// Documentation/admin-guide/cgroup-v1/blkio-controller.rst).
pub(crate) fn parse_v1_blkio(text: &str) -> Option<(u64, u64)> {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(_dev), Some(op), Some(n)) = (f.next(), f.next(), f.next()) else {
            continue; // the last line: "Total N"
        };
        let n: u64 = n.parse().ok()?;
        match op {
            "Read" => read = read.saturating_add(n),
            "Write" => write = write.saturating_add(n),
            _ => {}
        }
    }
    Some((read, write))
}

/// `(read, written)` bytes summed over the devices of a v2 `io.stat` file
/// (`MAJ:MIN rbytes=N wbytes=N rios=N …` lines; Documentation/admin-guide/cgroup-v2.rst).
pub(crate) fn parse_io_stat(text: &str) -> Option<(u64, u64)> {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        for kv in line.split_whitespace().skip(1) {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            match k {
                "rbytes" => read = read.saturating_add(v.parse().ok()?),
                "wbytes" => write = write.saturating_add(v.parse().ok()?),
                _ => {}
            }
        }
    }
    Some((read, write))
}

/// A number, or `None` for "max".
pub(crate) fn parse_max(text: &str) -> Option<Option<u64>> {
    match text.trim() {
        "max" => Some(None),
        t => t.parse().ok().map(Some),
    }
}

/// The value of `key` in a flat-keyed file (`key value` lines: memory.events, cpu.stat…).
pub(crate) fn flat_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

fn parse_err(path: &Path, what: &str) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        reason: format!("expected {what}"),
    }
}

/// Reads a file holding one number or "max"; `Ok(None)` if the file does not exist.
fn read_max(path: &Path) -> Result<Option<Option<u64>>> {
    match fsutil::read_opt(path)? {
        None => Ok(None),
        Some(t) => parse_max(&t)
            .map(Some)
            .ok_or_else(|| parse_err(path, "a number or \"max\"")),
    }
}

/// Reads a file holding one number; `Ok(None)` if it does not exist.
fn read_num(path: &Path) -> Result<Option<u64>> {
    match read_max(path)? {
        None => Ok(None),
        Some(Some(n)) => Ok(Some(n)),
        Some(None) => Err(parse_err(path, "a number")),
    }
}

/// Reads `key` of a flat-keyed file; `Ok(None)` if the file does not exist.
fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>> {
    match fsutil::read_opt(path)? {
        None => Ok(None),
        Some(t) => flat_keyed(&t, key)
            .map(Some)
            .ok_or_else(|| parse_err(path, &format!("a \"{key}\" line"))),
    }
}

impl Cgroup {
    /// `(directory, is_v1)` where `controller`'s files are: its v1 hierarchy if mounted,
    /// else the unified one (files are then simply absent if it is not enabled there).
    fn stats_dir(&self, controller: &str) -> Option<(PathBuf, bool)> {
        if let Some(d) = self.v1_dir(controller) {
            return Some((d.to_path_buf(), true));
        }
        self.unified.as_ref().map(|u| (u.dir.clone(), false))
    }

    /// Reads memory, OOM, pids, CPU and block I/O usage.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] or an I/O error naming a file that exists but cannot be read or
    /// understood.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        match self.stats_dir("memory") {
            Some((d, true)) => {
                s.memory_usage = read_num(&d.join("memory.usage_in_bytes"))?.unwrap_or(0);
                s.memory_inactive_file =
                    read_keyed(&d.join("memory.stat"), "total_inactive_file")?.unwrap_or(0);
                s.memory_limit =
                    read_num(&d.join("memory.limit_in_bytes"))?.filter(|l| *l < V1_UNLIMITED);
                s.memory_max_usage = read_num(&d.join("memory.max_usage_in_bytes"))?;
                s.oom_kills = read_keyed(&d.join("memory.oom_control"), "oom_kill")?.unwrap_or(0);
            }
            Some((d, false)) => {
                s.memory_usage = read_num(&d.join("memory.current"))?.unwrap_or(0);
                s.memory_inactive_file =
                    read_keyed(&d.join("memory.stat"), "inactive_file")?.unwrap_or(0);
                s.memory_limit = read_max(&d.join("memory.max"))?.flatten();
                s.memory_max_usage = read_num(&d.join("memory.peak"))?;
                s.oom_kills = read_keyed(&d.join("memory.events"), "oom_kill")?.unwrap_or(0);
            }
            None => {}
        }
        if let Some((d, _)) = self.stats_dir("pids") {
            s.pids_current = read_num(&d.join("pids.current"))?.unwrap_or(0);
            s.pids_limit = read_max(&d.join("pids.max"))?.flatten();
        }
        match self.stats_dir("cpuacct") {
            Some((d, true)) => s.cpu_usage_ns = read_num(&d.join("cpuacct.usage"))?.unwrap_or(0),
            Some((d, false)) => {
                s.cpu_usage_ns = read_keyed(&d.join("cpu.stat"), "usage_usec")?
                    .unwrap_or(0)
                    .saturating_mul(1000);
            }
            None => {}
        }
        let blkio = match self.stats_dir("blkio") {
            Some((d, true)) => Some((
                d.join("blkio.throttle.io_service_bytes_recursive"),
                parse_v1_blkio as fn(&str) -> Option<(u64, u64)>,
            )),
            Some((d, false)) => Some((d.join("io.stat"), parse_io_stat as _)),
            None => None,
        };
        if let Some((path, parse)) = blkio
            && let Some(text) = fsutil::read_opt(&path)?
        {
            (s.block_read_bytes, s.block_write_bytes) =
                parse(&text).ok_or_else(|| parse_err(&path, "device lines with byte counts"))?;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_max_files() {
        assert_eq!(parse_max("max\n"), Some(None));
        assert_eq!(parse_max("16777216\n"), Some(Some(16_777_216)));
        assert_eq!(parse_max("lots"), None);
    }

    #[test]
    fn parses_flat_keyed_files() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(flat_keyed(events, "oom_kill"), Some(2));
        assert_eq!(flat_keyed(events, "oom"), Some(3));
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        assert_eq!(flat_keyed(oom_control, "oom_kill"), Some(1));
        let cpu_stat = "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n";
        assert_eq!(flat_keyed(cpu_stat, "usage_usec"), Some(1234));
        assert_eq!(flat_keyed(cpu_stat, "nr_periods"), None);
    }

    #[test]
    fn parses_block_io_files() {
        let v1 = "254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\n254:0 Total 12288\n\
                  8:0 Read 1\n8:0 Write 2\nTotal 12291\n";
        assert_eq!(parse_v1_blkio(v1), Some((4097, 8194)));
        assert_eq!(parse_v1_blkio("Total 0\n"), Some((0, 0)));
        assert_eq!(parse_v1_blkio("8:0 Read lots\n"), None);
        let v2 = "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n\
                  8:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n";
        assert_eq!(parse_io_stat(v2), Some((4097, 8194)));
        assert_eq!(parse_io_stat(""), Some((0, 0)));
        assert_eq!(parse_io_stat("8:0 rbytes=x\n"), None);
    }

    /// Writes `files` (name, contents) into `dir/ctr`.
    fn fake(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir.join("ctr")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join("ctr").join(name), text).unwrap();
        }
    }

    #[test]
    fn reads_v1_and_v2_files() {
        use crate::Layout;
        let tmp = tempfile::tempdir().unwrap();
        let (v1, v2) = (tmp.path().join("v1"), tmp.path().join("v2"));
        let mountinfo = format!(
            "32 31 0:29 / {v1}/memory rw - cgroup cgroup rw,memory\n\
             33 31 0:30 / {v1}/blkio rw - cgroup cgroup rw,blkio\n\
             34 31 0:31 / {v1}/cpuacct rw - cgroup cgroup rw,cpuacct\n",
            v1 = v1.display()
        );
        fake(
            &v1.join("memory"),
            &[
                ("memory.usage_in_bytes", "1000\n"),
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.stat", "inactive_file 1\ntotal_inactive_file 300\n"),
            ],
        );
        fake(
            &v1.join("blkio"),
            &[(
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 10\n8:0 Write 20\nTotal 30\n",
            )],
        );
        fake(&v1.join("cpuacct"), &[("cpuacct.usage", "5000\n")]);
        let layout = Layout::from_mountinfo(&mountinfo).unwrap();
        let s = Cgroup::open_in(&layout, "/ctr").unwrap().stats().unwrap();
        assert_eq!(
            (s.memory_usage, s.memory_limit, s.memory_inactive_file),
            (1000, None, 300)
        );
        assert_eq!((s.block_read_bytes, s.block_write_bytes), (10, 20));
        assert_eq!(s.cpu_usage_ns, 5000);

        fake(
            &v2,
            &[
                ("memory.current", "2000\n"),
                ("memory.max", "4096\n"),
                ("memory.stat", "anon 100\ninactive_file 700\n"),
                ("io.stat", "8:0 rbytes=1 wbytes=2 rios=3 wios=4\n"),
                ("cpu.stat", "usage_usec 7\n"),
                ("pids.current", "3\n"),
            ],
        );
        let mountinfo = format!("26 24 0:23 / {} rw - cgroup2 cgroup2 rw\n", v2.display());
        let layout = Layout::from_mountinfo(&mountinfo).unwrap();
        let cg = Cgroup::open_in(&layout, "/ctr").unwrap();
        let s = cg.stats().unwrap();
        assert_eq!(
            (s.memory_usage, s.memory_limit, s.memory_inactive_file),
            (2000, Some(4096), 700)
        );
        assert_eq!((s.block_read_bytes, s.block_write_bytes), (1, 2));
        assert_eq!((s.cpu_usage_ns, s.pids_current), (7000, 3));
        // A malformed file is an error naming it.
        std::fs::write(v2.join("ctr/io.stat"), "8:0 rbytes=lots\n").unwrap();
        let e = cg.stats().unwrap_err().to_string();
        assert!(e.contains("io.stat"), "{e}");
    }

    #[test]
    fn stats_serialize_to_json() {
        let s = Stats {
            memory_usage: 1,
            memory_limit: None,
            oom_kills: 2,
            ..Default::default()
        };
        let j = serde_json::to_string(&s).unwrap();
        assert!(
            j.contains("\"memory_limit\":null") && j.contains("\"oom_kills\":2"),
            "{j}"
        );
    }
}
