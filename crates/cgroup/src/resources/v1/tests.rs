use super::*;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
};

fn pairs(w: &[FileWrite]) -> Vec<(&str, &str)> {
    w.iter()
        .map(|w| (w.file.as_str(), w.value.as_str()))
        .collect()
}

#[test]
fn memory_limit_and_swap_order_follows_the_current_limit() {
    let m = LinuxMemoryBuilder::default()
        .limit(64 << 20)
        .swap(128 << 20)
        .reservation(32 << 20)
        .build()
        .unwrap();
    // Raising from unlimited (current limit is huge): limit first, then memsw.
    let w = memory(&m, i64::MAX).unwrap();
    assert_eq!(
        pairs(&w),
        vec![
            ("memory.limit_in_bytes", "67108864"),
            ("memory.memsw.limit_in_bytes", "134217728"),
            ("memory.soft_limit_in_bytes", "33554432"),
        ]
    );
    // Raising from a small limit: memsw first.
    let w = memory(&m, 16 << 20).unwrap();
    assert_eq!(w[0].file, "memory.memsw.limit_in_bytes");
    assert_eq!(w[1].file, "memory.limit_in_bytes");
}

#[test]
fn memory_unlimited_means_swap_unlimited_too() {
    let m = LinuxMemoryBuilder::default().limit(-1).build().unwrap();
    let w = memory(&m, 1 << 20).unwrap();
    assert_eq!(
        pairs(&w),
        vec![
            ("memory.memsw.limit_in_bytes", "-1"),
            ("memory.limit_in_bytes", "-1")
        ]
    );
    assert!(
        w[0].if_exists,
        "no swap accounting: nothing to write for unlimited"
    );
}

#[test]
fn memory_bad_values() {
    let m = LinuxMemoryBuilder::default()
        .limit(64)
        .swap(32)
        .build()
        .unwrap();
    let e = memory(&m, 0).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("linux.resources.memory.swap: invalid value 32"),
        "{e}"
    );
    let m = LinuxMemoryBuilder::default()
        .swappiness(101u64)
        .build()
        .unwrap();
    assert!(memory(&m, 0).is_err());
}

#[test]
#[allow(deprecated)]
fn kernel_tcp_is_written_and_kernel_is_not() {
    // kernel is warned about by the applier (Linux no longer enforces it), as runc does;
    // kernelTCP goes to its file, as crun and runc write it.
    let m = LinuxMemoryBuilder::default()
        .kernel(1 << 20)
        .kernel_tcp(1 << 20)
        .build()
        .unwrap();
    assert_eq!(
        pairs(&memory(&m, 0).unwrap()),
        vec![("memory.kmem.tcp.limit_in_bytes", "1048576")]
    );
}

#[test]
fn memory_other_knobs() {
    let m = LinuxMemoryBuilder::default()
        .swappiness(10u64)
        .disable_oom_killer(true)
        .use_hierarchy(true)
        .build()
        .unwrap();
    assert_eq!(
        pairs(&memory(&m, 0).unwrap()),
        vec![
            ("memory.swappiness", "10"),
            ("memory.oom_control", "1"),
            ("memory.use_hierarchy", "1"),
        ]
    );
}

#[test]
fn cpu_files() {
    let c = LinuxCpuBuilder::default()
        .shares(512u64)
        .quota(50_000i64)
        .period(100_000u64)
        .burst(1000u64)
        .idle(0i64)
        .realtime_period(1_000_000u64)
        .realtime_runtime(950_000i64)
        .build()
        .unwrap();
    let w = cpu(&c).unwrap();
    assert_eq!(
        pairs(&w),
        vec![
            ("cpu.shares", "512"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "50000"),
            ("cpu.cfs_burst_us", "1000"),
            ("cpu.idle", "0"),
            ("cpu.rt_period_us", "1000000"),
            ("cpu.rt_runtime_us", "950000"),
        ]
    );
    // 0 is "not set", as runc reads it (docker sends both realtime values as 0).
    let zero = LinuxCpuBuilder::default()
        .realtime_period(0u64)
        .realtime_runtime(0i64)
        .build()
        .unwrap();
    assert!(cpu(&zero).unwrap().is_empty());
    assert!(
        w[1].retry_after_group,
        "period is retried after the quota on EINVAL"
    );
}

#[test]
fn cpu_bad_values_name_the_setting() {
    let c = LinuxCpuBuilder::default()
        .quota(50_000i64)
        .period(0u64)
        .build()
        .unwrap();
    let e = cpu(&c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.resources.cpu.period: invalid value 0: a CFS period is 1000..=1000000 µs"
    );
    let c = LinuxCpuBuilder::default().shares(1u64).build().unwrap();
    assert!(cpu(&c).unwrap_err().to_string().contains("cpu.shares"));
    let c = LinuxCpuBuilder::default().quota(10i64).build().unwrap();
    assert!(cpu(&c).unwrap_err().to_string().contains("cpu.quota"));
    // Zero means unset, as runc reads it.
    let c = LinuxCpuBuilder::default()
        .shares(0u64)
        .quota(0i64)
        .period(0u64)
        .build()
        .unwrap();
    assert!(cpu(&c).unwrap().is_empty());
    let c = LinuxCpuBuilder::default().quota(-1i64).build().unwrap();
    assert_eq!(pairs(&cpu(&c).unwrap()), vec![("cpu.cfs_quota_us", "-1")]);
}

#[test]
fn blkio_files() {
    let b = LinuxBlockIoBuilder::default()
        .weight(500u16)
        .weight_device(vec![
            LinuxWeightDeviceBuilder::default()
                .major(8)
                .minor(0)
                .weight(300u16)
                .build()
                .unwrap(),
        ])
        .throttle_read_bps_device(vec![
            LinuxThrottleDeviceBuilder::default()
                .major(8)
                .minor(0)
                .rate(1_048_576u64)
                .build()
                .unwrap(),
        ])
        .throttle_write_iops_device(vec![
            LinuxThrottleDeviceBuilder::default()
                .major(8)
                .minor(16)
                .rate(100u64)
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap();
    let w = blkio(&b).unwrap();
    assert_eq!(
        pairs(&w),
        vec![
            ("blkio.weight", "500"),
            ("blkio.weight_device", "8:0 300"),
            ("blkio.throttle.read_bps_device", "8:0 1048576"),
            ("blkio.throttle.write_iops_device", "8:16 100"),
        ]
    );
    assert_eq!(
        w[0].fallback,
        Some(("blkio.bfq.weight".to_owned(), "500".to_owned()))
    );
    assert_eq!(
        w[1].fallback,
        Some(("blkio.bfq.weight_device".to_owned(), "8:0 300".to_owned()))
    );
    let bad = LinuxBlockIoBuilder::default().weight(5u16).build().unwrap();
    assert!(
        blkio(&bad)
            .unwrap_err()
            .to_string()
            .contains("blockIO.weight")
    );
}

#[test]
fn hugetlb_files() {
    let l = vec![
        LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4 << 20)
            .build()
            .unwrap(),
    ];
    let w = hugetlb(&l).unwrap();
    assert_eq!(
        pairs(&w),
        vec![
            ("hugetlb.2MB.limit_in_bytes", "4194304"),
            ("hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
        ]
    );
    assert!(!w[0].if_exists && w[1].if_exists);
    let bad = vec![
        LinuxHugepageLimitBuilder::default()
            .page_size("2MB/../../x")
            .limit(1)
            .build()
            .unwrap(),
    ];
    assert!(hugetlb(&bad).is_err());
}
