//! Unit tests of the stats parsers, docker's formulas and its formatting.

use super::*;

#[test]
fn parses_proc_files() {
    let stat = "cpu  100 2 30 4000 5 6 7 8 0 0\ncpu0 50 1 15 2000 2 3 3 4 0 0\n";
    assert_eq!(parse_proc_stat(stat), Some(100 + 2 + 30 + 4000 + 5 + 6 + 7));
    assert_eq!(parse_proc_stat("cpu0 1 2 3 4 5 6 7\n"), None);
    assert_eq!(parse_proc_stat("cpu 1 2 3\n"), None);

    let net_dev = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     100    0    0    0     0          0         0   123456     100    0    0    0     0       0          0
  eth0:    1000      10    0    0    0     0          0         0      648       5    0    0    0     0       0          0
  eth1:      24       1    0    0    0     0          0         0        2       1    0    0    0     0       0          0
";
    assert_eq!(parse_net_dev(net_dev), Some((1024, 650)));
    assert_eq!(parse_net_dev("h1\nh2\n"), Some((0, 0)));
    assert_eq!(parse_net_dev("h1\nh2\neth0: 1 2 3\n"), None);

    let meminfo = "MemTotal:        8000000 kB\nMemFree:          100 kB\n";
    assert_eq!(parse_meminfo_total(meminfo), Some(8_192_000_000));
    assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
}

#[test]
fn the_real_proc_files_parse() {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    assert!(parse_proc_stat(&stat).unwrap() > 0);
    let net = std::fs::read_to_string("/proc/self/net/dev").unwrap();
    assert!(parse_net_dev(&net).is_some(), "{net}");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    assert!(parse_meminfo_total(&meminfo).unwrap() > 64 << 20);
}

fn sample(cpu_ns: u64, host_ns: u64) -> Sample {
    Sample {
        at: Instant::now(),
        cgroup: peapod_cgroup::Stats {
            memory_usage: 100 << 20,
            memory_inactive_file: 20 << 20,
            memory_limit: Some(400 << 20),
            pids_current: 3,
            cpu_usage_ns: cpu_ns,
            block_read_bytes: 1_234,
            block_write_bytes: 648,
            ..Default::default()
        },
        host_cpu_ns: host_ns,
        online_cpus: 2,
        host_memory: 8 << 30,
        net_rx_bytes: 12_345_678,
        net_tx_bytes: 0,
    }
}

#[test]
fn computes_as_docker_does() {
    // Half of the host's CPU time over two CPUs: one CPU busy, 100 %.
    let r = StatsReport::new("abc", "web", &sample(1_000, 10_000), &sample(6_000, 20_000));
    assert_eq!(r.cpu_percent, 100.0);
    assert_eq!(r.memory_usage, 80 << 20);
    assert_eq!(r.memory_limit, 400 << 20);
    assert_eq!(r.memory_percent, 20.0);
    assert_eq!(r.pids, 3);
    let same = sample(1_000, 10_000);
    assert_eq!(
        StatsReport::new("abc", "web", &same, &same).cpu_percent,
        0.0
    );

    // No limit: the host's memory; inactive file pages above usage are not subtracted.
    let mut cur = sample(0, 0);
    cur.cgroup.memory_limit = None;
    cur.cgroup.memory_inactive_file = 200 << 20;
    let r = StatsReport::new("abc", "web", &cur, &cur);
    assert_eq!((r.memory_usage, r.memory_limit), (100 << 20, 8 << 30));
}

#[test]
fn formats_docker_columns() {
    let r = StatsReport::new(
        "0123456789abcdef",
        "web",
        &sample(0, 0),
        &sample(1_234_567, 10_000_000),
    );
    let row = r.row("web");
    assert_eq!(row.id, "0123456789ab");
    assert_eq!(row.cpu_perc, "24.69%");
    assert_eq!(row.mem_usage, "80MiB / 400MiB");
    assert_eq!(row.mem_perc, "20.00%");
    assert_eq!(row.net_io, "12.3MB / 0B");
    assert_eq!(row.block_io, "1.23kB / 648B");
    assert_eq!(row.pids, "3");
    let json = serde_json::to_value(&row).unwrap();
    for key in [
        "BlockIO",
        "CPUPerc",
        "Container",
        "ID",
        "MemPerc",
        "MemUsage",
        "Name",
        "NetIO",
        "PIDs",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(bytes_size(3_624_960), "3.457MiB");
    assert_eq!(bytes_size(8_335_945_728), "7.763GiB");
    assert_eq!(human_size(999), "999B");
    assert_eq!(human_size(1_000), "1kB");
    assert_eq!(human_size(1_500_000), "1.5MB");
}

#[test]
fn a_missing_cgroup_is_a_clear_error() {
    let e = Sampler::open("/peapod-no-such-cgroup-logs-helper", None).unwrap_err();
    assert!(
        e.to_string().contains("/peapod-no-such-cgroup-logs-helper"),
        "{e}"
    );
}
