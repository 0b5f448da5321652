//! Real cgroups on the host (root). Each test uses `/peapod-test-cgroup/<test>-<pid>`,
//! asserts it leaves no directory behind in any hierarchy, and cleans up on panic through a
//! guard. They adapt to the host: v1/hybrid files here, v2 files on a pure v2 guest.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;
use peapod_cgroup::oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxPidsBuilder, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
};
use peapod_cgroup::{Cgroup, Error, Layout};

#[test]
#[ignore = "root: cargo xtask test"]
fn limits_are_written_and_read_back() {
    assert_root();
    let layout = Layout::detect().unwrap();
    let path = test_path("limits");
    let cg = Guard(Cgroup::create(&path).unwrap());
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .reservation(32 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(50).build().unwrap())
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000i64)
                .period(100_000u64)
                .cpus("0")
                .mems("0")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    cg.0.apply(&r).unwrap();

    let mem = dir_of(&layout, "memory", &path);
    let cpu = dir_of(&layout, "cpu", &path);
    if is_v1(&layout, "memory") {
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "67108864");
        assert_eq!(read(mem.join("memory.soft_limit_in_bytes")), "33554432");
    } else {
        assert_eq!(read(mem.join("memory.max")), "67108864");
        assert_eq!(read(mem.join("memory.low")), "33554432");
    }
    if is_v1(&layout, "cpu") {
        assert_eq!(read(cpu.join("cpu.shares")), "512");
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
    } else {
        assert_eq!(read(cpu.join("cpu.weight")), "59");
        assert_eq!(read(cpu.join("cpu.max")), "50000 100000");
    }
    assert_eq!(read(dir_of(&layout, "pids", &path).join("pids.max")), "50");
    assert_eq!(
        read(dir_of(&layout, "cpuset", &path).join("cpuset.cpus")),
        "0"
    );
    assert_eq!(
        read(dir_of(&layout, "cpuset", &path).join("cpuset.mems")),
        "0"
    );

    let s = cg.0.stats().unwrap();
    assert_eq!(s.memory_limit, Some(64 << 20));
    assert_eq!(s.pids_limit, Some(50));
    assert_eq!(s.pids_current, 0);

    // Hugepages: v1 hugetlb, or (here, on a hybrid host) the unified hierarchy's.
    let huge = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![
            LinuxHugepageLimitBuilder::default()
                .page_size("2MB")
                .limit(4 << 20)
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap();
    cg.0.apply(&huge).unwrap();
    let (file, value) = if is_v1(&layout, "hugetlb") {
        ("hugetlb.2MB.limit_in_bytes", "4194304")
    } else {
        ("hugetlb.2MB.max", "4194304")
    };
    assert_eq!(read(dir_of(&layout, "hugetlb", &path).join(file)), value);

    // Block IO on v1 (CFQ files, or BFQ ones as on this kernel), throttling the root's disk.
    if is_v1(&layout, "blkio") {
        let dev = std::fs::metadata("/").unwrap().dev();
        let (major, minor) = (libc::major(dev) as i64, libc::minor(dev) as i64);
        let blk = LinuxBlockIoBuilder::default()
            .weight(500u16)
            .throttle_read_bps_device(vec![
                LinuxThrottleDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .rate(1_048_576u64)
                    .build()
                    .unwrap(),
            ])
            .build()
            .unwrap();
        cg.0.apply(
            &LinuxResourcesBuilder::default()
                .block_io(blk)
                .build()
                .unwrap(),
        )
        .unwrap();
        let dir = dir_of(&layout, "blkio", &path);
        let weight = std::fs::read_to_string(dir.join("blkio.weight"))
            .or_else(|_| std::fs::read_to_string(dir.join("blkio.bfq.weight")))
            .unwrap();
        assert!(weight.split_whitespace().any(|w| w == "500"), "{weight}");
        assert_eq!(
            read(dir.join("blkio.throttle.read_bps_device")),
            format!("{major}:{minor} 1048576")
        );
    }

    // Unlimited again.
    cg.0.apply(&pids_limit(-1)).unwrap();
    assert_eq!(cg.0.stats().unwrap().pids_limit, None);

    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn process_joins_every_hierarchy_and_is_killed() {
    assert_root();
    let layout = Layout::detect().unwrap();
    let path = test_path("lifecycle");
    let cg = Guard(Cgroup::create(&path).unwrap());
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    cg.0.add_process(pid).unwrap();

    assert_eq!(cg.0.pids().unwrap(), vec![pid]);
    for dir in cg.0.directories() {
        let procs = read(dir.join("cgroup.procs"));
        assert!(
            procs.split_whitespace().any(|p| p == pid.to_string()),
            "{pid} not in {}",
            dir.display()
        );
    }
    if let Layout::Hybrid { unified, .. } = &layout {
        let procs = read(
            unified
                .mount_point
                .join(path.trim_start_matches('/'))
                .join("cgroup.procs"),
        );
        assert_eq!(
            procs,
            pid.to_string(),
            "the unified hierarchy of a hybrid host is joined too"
        );
    }
    let own = read(format!("/proc/{pid}/cgroup"));
    assert!(own.lines().all(|l| l.ends_with(&path)), "{own}");

    // SIGTERM goes through freeze, signal, thaw (or cgroup.kill for SIGKILL on v2).
    cg.0.kill_all(Signal::SIGTERM).unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(!cg.0.is_frozen().unwrap(), "kill_all thaws what it froze");
    assert!(cg.0.pids().unwrap().is_empty());
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn freeze_and_thaw_a_running_process() {
    assert_root();
    let path = test_path("freeze");
    let cg = Guard(Cgroup::create(&path).unwrap());
    let mut child = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    cg.0.add_process(pid).unwrap();
    let cpu_ticks = || -> u64 {
        let stat = read(format!("/proc/{pid}/stat"));
        let rest = stat.rsplit_once(')').unwrap().1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap() // utime + stime
    };

    assert!(!cg.0.is_frozen().unwrap());
    cg.0.freeze().unwrap();
    assert!(cg.0.is_frozen().unwrap());
    let before = cpu_ticks();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(), before, "a frozen process does not run");

    cg.0.thaw().unwrap();
    assert!(!cg.0.is_frozen().unwrap());
    // On a loaded machine a runnable process may wait for a CPU: wait until it has run,
    // 10 s at most, rather than a fixed time.
    let before = cpu_ticks();
    let start = Instant::now();
    while cpu_ticks() == before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a thawed process runs again"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // SIGKILL into a frozen cgroup: kill_all thaws it so the process can die.
    cg.0.freeze().unwrap();
    cg.0.kill_all(Signal::SIGKILL).unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn pids_limit_refuses_forks() {
    assert_root();
    let layout = Layout::detect().unwrap();
    let path = test_path("pids");
    let cg = Guard(Cgroup::create(&path).unwrap());
    cg.0.apply(&pids_limit(4)).unwrap();
    let mut child = spawn_gated("for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; echo forked; wait");
    cg.0.add_process(child.id() as i32).unwrap();
    release(&mut child);

    // The shell stops at the first refused fork; give it a moment, then look.
    let start = Instant::now();
    let events = dir_of(&layout, "pids", &path).join("pids.events");
    while read(&events) == "max 0" && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(read(&events), "max 0", "the kernel refused a fork");
    let s = cg.0.stats().unwrap();
    assert!(s.pids_current <= 4, "{s:?}");
    assert!(cg.0.pids().unwrap().len() <= 4);

    // The shell (dash) reports the refused fork and exits by itself: wait for that before
    // killing its sleeps, or the kill may come between the refusal and the report.
    wait_timeout(&mut child, Duration::from_secs(10));
    cg.0.kill_all(Signal::SIGKILL).unwrap();
    let (out, err) = output(&mut child);
    assert!(!out.contains("forked"), "all 8 forks succeeded: {out}");
    assert!(
        err.to_lowercase().contains("fork"),
        "the shell reports the failed fork: {err}"
    );
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn oom_kill_is_counted() {
    assert_root();
    let path = test_path("oom");
    let cg = Guard(Cgroup::create(&path).unwrap());
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(16 << 20)
                .swap(16 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    cg.0.apply(&r).unwrap();
    let mut child =
        spawn_gated("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}");
    cg.0.add_process(child.id() as i32).unwrap();
    release(&mut child);
    let status = wait_timeout(&mut child, Duration::from_secs(60));
    let (out, _) = output(&mut child);

    let s = cg.0.stats().unwrap();
    assert!(s.oom_kills >= 1, "{s:?}");
    assert!(
        status.signal() == Some(libc::SIGKILL) || !out.contains("survived 67108864"),
        "the allocation should not have succeeded: {status:?} {out}"
    );
    assert_eq!(s.memory_limit, Some(16 << 20));
    assert!(s.memory_max_usage.is_none_or(|m| m > 8 << 20), "{s:?}");

    cg.0.kill_all(Signal::SIGKILL).unwrap();
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn bad_values_give_clear_errors_and_leave_nothing() {
    assert_root();
    let layout = Layout::detect().unwrap();
    // Refused before any write: a quota with a zero period.
    let path = test_path("badquota");
    let cg = Guard(Cgroup::create(&path).unwrap());
    let r = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .quota(50_000i64)
                .period(0u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = cg.0.apply(&r).unwrap_err();
    assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "linux.resources.cpu.period: invalid value 0: a CFS period is 1000..=1000000 µs"
    );
    cg.0.remove().unwrap();
    assert_gone(&cg.0);

    // Refused by the kernel: a cpu list that does not parse.
    let path = test_path("badcpuset");
    let cg = Guard(Cgroup::create(&path).unwrap());
    let r = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().cpus("0-x").build().unwrap())
        .build()
        .unwrap();
    let e = cg.0.apply(&r).unwrap_err();
    let file = dir_of(&layout, "cpuset", &path).join("cpuset.cpus");
    assert_eq!(
        e.to_string(),
        format!(
            "linux.resources.cpu.cpus: cannot write 0-x to {}: invalid argument",
            file.display()
        )
    );
    assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));
    // A CPU this machine does not have (ERANGE here).
    let r = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().cpus("999").build().unwrap())
        .build()
        .unwrap();
    let e = cg.0.apply(&r).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "linux.resources.cpu.cpus: cannot write 999 to {}: ",
            file.display()
        )),
        "{e}"
    );
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn failed_create_removes_what_it_made() {
    assert_root();
    let layout = Layout::detect().unwrap();
    let parent = dir_of(&layout, "pids", PARENT);
    assert!(
        !parent.exists(),
        "{} is left from an earlier run",
        parent.display()
    );
    // Two levels are made, then the leaf is a control file, not a directory.
    let bad = format!("/{PARENT}/x/cgroup.procs");
    let e = Cgroup::create(&bad).unwrap_err();
    assert!(matches!(e, Error::Create { .. }), "{e:?}");
    assert!(
        e.to_string().ends_with("/x/cgroup.procs: file exists"),
        "{e}"
    );
    for h in layout.v1_hierarchies() {
        assert!(
            !h.mount_point.join(PARENT).exists(),
            "{} left",
            h.mount_point.display()
        );
    }
    if let Some(u) = layout.unified() {
        assert!(!u.mount_point.join(PARENT).exists());
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn removing_a_busy_cgroup_fails_clearly_and_remove_is_idempotent() {
    assert_root();
    let path = test_path("busy");
    let cg = Guard(Cgroup::create(&path).unwrap());
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    cg.0.add_process(pid).unwrap();

    let e = cg.0.remove().unwrap_err();
    match &e {
        Error::Busy { pids, .. } => assert_eq!(pids, &vec![pid]),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert!(e.to_string().contains("processes remain"), "{e}");
    assert!(
        cg.0.directories().iter().all(|d| d.exists()),
        "nothing is removed when busy"
    );

    cg.0.kill_all(Signal::SIGKILL).unwrap();
    // remove waits for the dying process by itself.
    cg.0.remove().unwrap();
    wait_timeout(&mut child, Duration::from_secs(10));
    assert_gone(&cg.0);
    cg.0.remove().unwrap();
    assert!(Cgroup::open(&path).unwrap_err().is_not_found());
}

#[test]
#[ignore = "root: cargo xtask test"]
fn nested_pod_cgroups_and_reopening_in_another_process() {
    assert_root();
    let pod_path = format!("/{PARENT}/pod-{}", std::process::id());
    let ctr_path = format!("{pod_path}/ctr");
    let pod = Guard(Cgroup::create(&pod_path).unwrap());
    pod.0.apply(&pids_limit(20)).unwrap();
    let ctr = Guard(Cgroup::create(&ctr_path).unwrap());
    assert!(
        ctr.0.created_parents().is_empty(),
        "the pod made the parents"
    );
    ctr.0.apply(&pids_limit(10)).unwrap();

    // "Another process": a handle from the path alone.
    let again = Cgroup::open(&ctr_path).unwrap();
    assert_eq!(again.directories(), ctr.0.directories());
    assert!(again.pids().unwrap().is_empty());
    again.remove().unwrap();
    assert_gone(&again);
    assert!(
        pod.0.directories().iter().all(|d| d.exists()),
        "the pod's cgroup stays"
    );

    // The pod's creator handle, rebuilt from what it recorded, removes the parent too.
    let recorded = pod.0.created_parents().to_vec();
    let reopened = Cgroup::open_with_created_parents(&pod_path, &recorded).unwrap();
    reopened.remove().unwrap();
    assert_gone(&pod.0);
    assert!(Cgroup::open_with_created_parents(&pod_path, &[PathBuf::from("/etc")]).is_err());
}

#[test]
#[ignore = "root: cargo xtask test"]
fn relative_path_is_below_our_own_cgroup() {
    assert_root();
    let rel = format!("{PARENT}-rel-{}", std::process::id());
    let cg = Guard(Cgroup::create(&rel).unwrap());
    let own = read("/proc/self/cgroup");
    let layout = Layout::detect().unwrap();
    let mem_line = own
        .lines()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
        .unwrap();
    let own_mem = mem_line.rsplit(':').next().unwrap().trim_start_matches('/');
    let expected = dir_of(&layout, "memory", own_mem).join(&rel);
    assert!(
        cg.0.directories().contains(&expected),
        "{expected:?} not in {:?}",
        cg.0.directories()
    );
    assert!(expected.is_dir());
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn device_rules_are_enforced() {
    assert_root();
    let cg = Guard(Cgroup::create(&test_path("devices")).unwrap());
    check_device_rules(&cg.0);
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}

/// The v2 code paths, on whatever cgroup2 hierarchy this host has: on a hybrid host, its
/// unified mount seen as if it were a pure v2 host (cgroup.freeze, cgroup.kill,
/// subtree_control, the eBPF device filter, v2 hugetlb files).
#[test]
#[ignore = "root: cargo xtask test"]
fn v2_paths_on_the_unified_hierarchy() {
    assert_root();
    let unified = Layout::detect()
        .unwrap()
        .unified()
        .expect("this host has a cgroup2 mount")
        .clone();
    let layout = Layout::V2 {
        unified: unified.clone(),
    };
    let path = test_path("v2");
    let cg = Guard(Cgroup::create_in(&layout, &path).unwrap());
    let dir = unified.mount_point.join(path.trim_start_matches('/'));
    assert_eq!(cg.0.unified_dir(), Some(dir.as_path()));

    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    cg.0.add_process(pid).unwrap();
    assert_eq!(read(dir.join("cgroup.procs")), pid.to_string());
    assert_eq!(cg.0.pids().unwrap(), vec![pid]);
    cg.0.freeze().unwrap();
    assert!(cg.0.is_frozen().unwrap());
    assert_eq!(read(dir.join("cgroup.freeze")), "1");
    cg.0.thaw().unwrap();
    assert!(!cg.0.is_frozen().unwrap());

    // A controller that the host keeps in v1 is named in the error.
    let controllers = read(dir.join("cgroup.controllers"));
    if !controllers.split_whitespace().any(|c| c == "memory") {
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 20)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let e = cg.0.apply(&r).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "linux.resources.memory is not supported: the memory controller is not enabled in {}",
                dir.display()
            )),
            "{e}"
        );
    }
    if controllers.split_whitespace().any(|c| c == "hugetlb") {
        let r = LinuxResourcesBuilder::default()
            .hugepage_limits(vec![
                LinuxHugepageLimitBuilder::default()
                    .page_size("2MB")
                    .limit(4 << 20)
                    .build()
                    .unwrap(),
            ])
            .build()
            .unwrap();
        cg.0.apply(&r).unwrap();
        assert_eq!(read(dir.join("hugetlb.2MB.max")), "4194304");
    }

    check_device_rules(&cg.0);

    cg.0.kill_all(Signal::SIGKILL).unwrap(); // cgroup.kill
    let status = wait_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    cg.0.remove().unwrap();
    assert_gone(&cg.0);
}
