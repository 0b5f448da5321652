//! `peapod stats` figures of a real cgroup (root): a process in a fresh cgroup under
//! `/peapod-test` burning CPU and holding memory shows plausible CPU %, memory and pids, on
//! the hybrid host and in the cgroup-v2 guest alike; the cgroup is removed after.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use peapod_cgroup::Cgroup;
use peapod_cgroup::oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder};
use peapod_engine::stats::{Sample, Sampler, StatsReport};

/// Kills and removes the cgroup if the test fails half way.
struct Guard(Cgroup);

impl Drop for Guard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.kill_all(Signal::SIGKILL);
            let _ = self.0.remove();
        }
    }
}

/// Samples until `ok` holds, 10 s at most.
fn sample_until(sampler: &Sampler, what: &str, ok: impl Fn(&Sample) -> bool) -> Sample {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = sampler.sample().unwrap();
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "no {what} in 10 s: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Received and sent bytes of our network namespace, `lo` left out.
fn host_net() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/net/dev").unwrap();
    let mut sum = (0, 0);
    for line in text.lines().skip(2) {
        let (iface, counters) = line.split_once(':').unwrap();
        if iface.trim() != "lo" {
            let n: Vec<u64> = counters
                .split_whitespace()
                .map(|n| n.parse().unwrap())
                .collect();
            sum = (sum.0 + n[0], sum.1 + n[8]);
        }
    }
    sum
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_busy_process_shows_plausible_figures() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "run as root (cargo xtask test)"
    );
    let path = format!("/peapod-test/stats-logs-{}", std::process::id());
    let cg = Guard(Cgroup::create(&path).unwrap());
    let limit: i64 = 256 << 20;
    let resources = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().limit(limit).build().unwrap())
        .build()
        .unwrap();
    cg.0.apply(&resources).unwrap();

    // The shell joins the cgroup before dd allocates, so that dd's memory is charged to it:
    // dd reads /dev/zero into a 32 MiB buffer (touching every page) as fast as it can.
    let mut child = Command::new("sh")
        .args(["-c", "read go; exec dd if=/dev/zero of=/dev/null bs=32M"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    cg.0.add_process(pid).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();

    let sampler = Sampler::open(&path, Some(pid)).unwrap();
    let first = sample_until(&sampler, "dd's 32 MiB buffer", |s| {
        s.cgroup.pids_current == 1 && s.cgroup.memory_usage >= 32 << 20
    });
    std::thread::sleep(Duration::from_millis(500));
    let before = host_net();
    let second = sampler.sample().unwrap();
    let r = StatsReport::new("stats-logs", "busy", &first, &second);
    println!("{r:?}\n{:?}", r.row("busy"));

    let cpus = f64::from(second.online_cpus);
    assert!(
        r.cpu_percent > 10.0 && r.cpu_percent <= cpus * 100.0 + 5.0,
        "CPU {}% for a busy dd on {cpus} CPUs",
        r.cpu_percent
    );
    assert!(
        r.memory_usage >= 32 << 20 && r.memory_usage <= limit as u64,
        "memory {} bytes",
        r.memory_usage
    );
    assert_eq!(r.memory_limit, limit as u64);
    let expected = r.memory_usage as f64 / limit as f64 * 100.0;
    assert!((r.memory_percent - expected).abs() < 1e-9);
    assert_eq!(r.pids, 1);
    // dd is in the host's network namespace: its counters are the host's, read between
    // two readings of ours.
    let (rx, tx) = (r.net_rx_bytes, r.net_tx_bytes);
    let after = sampler.sample().unwrap();
    let ours = host_net();
    assert!(rx <= after.net_rx_bytes && tx <= after.net_tx_bytes);
    assert!(after.net_rx_bytes <= ours.0 && after.net_tx_bytes <= ours.1);
    assert!(before.0 <= rx && before.1 <= tx, "{before:?} > {rx}, {tx}");
    assert_eq!(r.row("busy").pids, "1");

    cg.0.kill_all(Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    cg.0.remove().unwrap();
    for dir in cg.0.directories() {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
    // The process is gone: its network figures cannot be read, and the error says why.
    let e = sampler.sample().unwrap_err();
    assert!(
        e.to_string().contains("stats-logs") || e.to_string().contains(&format!("/proc/{pid}")),
        "{e}"
    );
}
