//! What `peapod stats` shows, with docker's columns: CPU %, MEM USAGE / LIMIT, MEM %,
//! NET I/O, BLOCK I/O, PIDS.
//!
//! A [`Sampler`] reads a container's cgroup (v1, hybrid or v2, through `peapod-cgroup`),
//! the host's CPU time (`/proc/stat`) and the container's network counters
//! (`/proc/<pid>/net/dev`, which shows the interfaces of that process's network
//! namespace; `lo` is left out). Two [`Sample`]s make a [`StatsReport`], computed as docker
//! computes it (`docker/cli` `cli/command/container/stats_helpers.go`):
//!
//! - CPU % = Δ container CPU time / Δ host CPU time × online CPUs × 100 (100 % is one
//!   whole CPU busy);
//! - memory usage = cgroup usage less inactive file pages (docker ≥ 20.10); the limit is the
//!   cgroup's, or the host's memory when there is none; MEM % = usage / limit × 100;
//! - network and block I/O are totals since the container started.
//!
//! [`StatsReport::row`] formats a report as docker's `stats --format json` shows it.
//!
//! ```no_run
//! use peapod_engine::stats::{Sampler, StatsReport};
//!
//! # fn main() -> Result<(), peapod_engine::stats::StatsError> {
//! let sampler = Sampler::open("/peapod/abc", Some(4242))?;
//! let first = sampler.sample()?;
//! std::thread::sleep(std::time::Duration::from_secs(1));
//! let report = StatsReport::new("abc", "web", &first, &sampler.sample()?);
//! println!("{:?}", report.row("web"));
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::time::Instant;

use peapod_cgroup::Cgroup;

/// Why a container's figures could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The container's cgroup could not be opened or read.
    #[error("cannot read the stats of cgroup {path}: {source}")]
    Cgroup {
        /// The cgroup (OCI `cgroupsPath`).
        path: String,
        /// The cause (boxed: it is large).
        #[source]
        source: Box<peapod_cgroup::Error>,
    },
    /// A `/proc` file could not be read (for `/proc/<pid>/net/dev`: the process is gone).
    #[error("cannot read {path}: {source}")]
    Proc {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `/proc` file or a system value is not what the kernel documents.
    #[error("unexpected contents in {what}: {reason}")]
    Parse {
        /// The file or value.
        what: String,
        /// What is wrong.
        reason: String,
    },
}

/// One reading of a container's counters.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// The cgroup's figures.
    pub cgroup: peapod_cgroup::Stats,
    /// CPU time of the whole host, nanoseconds: user + nice + system + idle + iowait + irq
    /// + softirq of `/proc/stat`'s `cpu` line (docker's `getSystemCPUUsage`).
    pub host_cpu_ns: u64,
    /// CPUs online now (`sysconf(_SC_NPROCESSORS_ONLN)`).
    pub online_cpus: u32,
    /// The host's memory, bytes (`MemTotal` in `/proc/meminfo`).
    pub host_memory: u64,
    /// Bytes received on the container's interfaces (`lo` excluded); 0 without a pid.
    pub net_rx_bytes: u64,
    /// Bytes sent on the container's interfaces (`lo` excluded); 0 without a pid.
    pub net_tx_bytes: u64,
}

/// Reads samples of one container.
#[derive(Debug)]
pub struct Sampler {
    cgroup: Cgroup,
    pid: Option<i32>,
    clock_ticks: u64,
}

/// A container's figures, in numbers (docker's columns, unformatted).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatsReport {
    /// The container's id.
    pub id: String,
    /// The container's name.
    pub name: String,
    /// CPU use between the two samples, percent of one CPU (up to online CPUs × 100).
    pub cpu_percent: f64,
    /// Memory used, bytes, less inactive file pages.
    pub memory_usage: u64,
    /// The memory limit, bytes (the host's memory if the cgroup has none).
    pub memory_limit: u64,
    /// `memory_usage / memory_limit`, percent.
    pub memory_percent: f64,
    /// Bytes received.
    pub net_rx_bytes: u64,
    /// Bytes sent.
    pub net_tx_bytes: u64,
    /// Bytes read from block devices.
    pub block_read_bytes: u64,
    /// Bytes written to block devices.
    pub block_write_bytes: u64,
    /// Processes and threads.
    pub pids: u64,
}

/// A report as docker's `stats --format json` prints it: strings, docker's names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatsRow {
    /// `1.2MB / 648B` (decimal units, 3 significant digits).
    #[serde(rename = "BlockIO")]
    pub block_io: String,
    /// `12.34%`.
    #[serde(rename = "CPUPerc")]
    pub cpu_perc: String,
    /// The name or id the user gave.
    pub container: String,
    /// The id, 12 characters.
    #[serde(rename = "ID")]
    pub id: String,
    /// `0.05%`.
    pub mem_perc: String,
    /// `3.457MiB / 7.763GiB` (binary units, 4 significant digits).
    pub mem_usage: String,
    /// The name.
    pub name: String,
    /// `1.2kB / 648B`.
    #[serde(rename = "NetIO")]
    pub net_io: String,
    /// `1`.
    #[serde(rename = "PIDs")]
    pub pids: String,
}

fn proc_err(path: &str) -> impl FnOnce(std::io::Error) -> StatsError {
    let path = PathBuf::from(path);
    move |source| StatsError::Proc { path, source }
}

fn parse_err(what: &str, reason: &str) -> StatsError {
    StatsError::Parse {
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}

fn sysconf(var: nix::unistd::SysconfVar, what: &str) -> Result<u64, StatsError> {
    match nix::unistd::sysconf(var) {
        Ok(Some(v)) if v > 0 => Ok(v as u64),
        _ => Err(parse_err(what, "sysconf gave no positive value")),
    }
}

/// The host's CPU time in clock ticks, from `/proc/stat`'s first line (proc(5)).
pub(crate) fn parse_proc_stat(text: &str) -> Option<u64> {
    let line = text.lines().next()?;
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let mut total = 0u64;
    for _ in 0..7 {
        total = total.checked_add(fields.next()?.parse().ok()?)?;
    }
    Some(total)
}

/// Received and sent bytes over every interface but `lo`, from a `/proc/<pid>/net/dev`.
pub(crate) fn parse_net_dev(text: &str) -> Option<(u64, u64)> {
    let (mut rx, mut tx) = (0u64, 0u64);
    // Two header lines, then `iface: rx_bytes packets errs drop fifo frame compressed
    // multicast tx_bytes …`.
    for line in text.lines().skip(2) {
        let (iface, counters) = line.split_once(':')?;
        if iface.trim() == "lo" {
            continue;
        }
        let nums: Vec<&str> = counters.split_whitespace().collect();
        rx = rx.saturating_add(nums.first()?.parse().ok()?);
        tx = tx.saturating_add(nums.get(8)?.parse().ok()?);
    }
    Some((rx, tx))
}

/// `MemTotal` of a `/proc/meminfo`, bytes.
pub(crate) fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line["MemTotal:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

impl Sampler {
    /// Opens the container's cgroup (its OCI `cgroupsPath`, e.g. `/peapod/<id>`); `pid` is
    /// its init process, whose network namespace is counted (`None`: no network figures).
    ///
    /// # Errors
    ///
    /// [`StatsError::Cgroup`] if the cgroup does not exist; [`StatsError::Parse`] if the
    /// clock tick rate is unknown.
    pub fn open(cgroups_path: &str, pid: Option<i32>) -> Result<Sampler, StatsError> {
        let cgroup = Cgroup::open(cgroups_path).map_err(|source| StatsError::Cgroup {
            path: cgroups_path.to_owned(),
            source: Box::new(source),
        })?;
        let clock_ticks = sysconf(nix::unistd::SysconfVar::CLK_TCK, "sysconf(_SC_CLK_TCK)")?;
        Ok(Sampler {
            cgroup,
            pid,
            clock_ticks,
        })
    }

    /// Reads the counters now.
    ///
    /// # Errors
    ///
    /// [`StatsError::Cgroup`] if the cgroup's files cannot be read; [`StatsError::Proc`] if
    /// `/proc/stat`, `/proc/meminfo` or the process's `net/dev` cannot be read (the process
    /// has exited); [`StatsError::Parse`] if one is malformed.
    pub fn sample(&self) -> Result<Sample, StatsError> {
        let cgroup = self.cgroup.stats().map_err(|source| StatsError::Cgroup {
            path: self.cgroup.path().to_owned(),
            source: Box::new(source),
        })?;
        let stat = std::fs::read_to_string("/proc/stat").map_err(proc_err("/proc/stat"))?;
        let ticks = parse_proc_stat(&stat).ok_or_else(|| parse_err("/proc/stat", "no cpu line"))?;
        let meminfo =
            std::fs::read_to_string("/proc/meminfo").map_err(proc_err("/proc/meminfo"))?;
        let host_memory = parse_meminfo_total(&meminfo)
            .ok_or_else(|| parse_err("/proc/meminfo", "no MemTotal line in kB"))?;
        let (net_rx_bytes, net_tx_bytes) = match self.pid {
            None => (0, 0),
            Some(pid) => {
                let path = format!("/proc/{pid}/net/dev");
                let text = std::fs::read_to_string(&path).map_err(proc_err(&path))?;
                parse_net_dev(&text).ok_or_else(|| parse_err(&path, "malformed interface line"))?
            }
        };
        let online = sysconf(
            nix::unistd::SysconfVar::_NPROCESSORS_ONLN,
            "sysconf(_SC_NPROCESSORS_ONLN)",
        )?;
        Ok(Sample {
            at: Instant::now(),
            cgroup,
            host_cpu_ns: ticks.saturating_mul(1_000_000_000 / self.clock_ticks),
            online_cpus: u32::try_from(online).unwrap_or(u32::MAX),
            host_memory,
            net_rx_bytes,
            net_tx_bytes,
        })
    }
}

impl StatsReport {
    /// The report of container `id` named `name` between `prev` and `cur` (taken in that
    /// order, typically a second apart; with `prev` = `cur` the CPU % is 0).
    pub fn new(id: &str, name: &str, prev: &Sample, cur: &Sample) -> StatsReport {
        let cpu_delta = cur
            .cgroup
            .cpu_usage_ns
            .saturating_sub(prev.cgroup.cpu_usage_ns);
        let host_delta = cur.host_cpu_ns.saturating_sub(prev.host_cpu_ns);
        let cpu_percent = if cpu_delta > 0 && host_delta > 0 {
            cpu_delta as f64 / host_delta as f64 * f64::from(cur.online_cpus) * 100.0
        } else {
            0.0
        };
        let c = &cur.cgroup;
        let memory_usage = if c.memory_inactive_file < c.memory_usage {
            c.memory_usage - c.memory_inactive_file
        } else {
            c.memory_usage
        };
        let memory_limit = c.memory_limit.unwrap_or(cur.host_memory);
        let memory_percent = if memory_limit > 0 {
            memory_usage as f64 / memory_limit as f64 * 100.0
        } else {
            0.0
        };
        StatsReport {
            id: id.to_owned(),
            name: name.to_owned(),
            cpu_percent,
            memory_usage,
            memory_limit,
            memory_percent,
            net_rx_bytes: cur.net_rx_bytes,
            net_tx_bytes: cur.net_tx_bytes,
            block_read_bytes: c.block_read_bytes,
            block_write_bytes: c.block_write_bytes,
            pids: c.pids_current,
        }
    }

    /// This report as docker's `stats` columns; `container` is what the user named it by.
    pub fn row(&self, container: &str) -> StatsRow {
        StatsRow {
            block_io: format!(
                "{} / {}",
                human_size(self.block_read_bytes),
                human_size(self.block_write_bytes)
            ),
            cpu_perc: format!("{:.2}%", self.cpu_percent),
            container: container.to_owned(),
            id: self.id.chars().take(12).collect(),
            mem_perc: format!("{:.2}%", self.memory_percent),
            mem_usage: format!(
                "{} / {}",
                bytes_size(self.memory_usage),
                bytes_size(self.memory_limit)
            ),
            name: self.name.clone(),
            net_io: format!(
                "{} / {}",
                human_size(self.net_rx_bytes),
                human_size(self.net_tx_bytes)
            ),
            pids: self.pids.to_string(),
        }
    }
}

/// `value` with `digits` significant digits and no trailing zeros (Go's `%.Ng` for values
/// below 10^digits, which is all the sizes below give it).
fn significant(value: f64, digits: i32) -> String {
    let whole = if value >= 1.0 {
        value.log10().floor() as i32 + 1
    } else {
        1
    };
    let decimals = (digits - whole).max(0) as usize;
    let s = format!("{value:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn scaled(bytes: u64, base: f64, units: &[&str], digits: i32) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    format!("{}{}", significant(value, digits), units[unit])
}

/// Decimal units, 3 significant digits: go-units' `HumanSizeWithPrecision(n, 3)`.
fn human_size(bytes: u64) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB"], 3)
}

/// Binary units, 4 significant digits: go-units' `BytesSize`.
fn bytes_size(bytes: u64) -> String {
    scaled(
        bytes,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"],
        4,
    )
}

#[cfg(test)]
mod tests;
