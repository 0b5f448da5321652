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
fn memory_swap_is_converted_to_swap_alone() {
    let m = LinuxMemoryBuilder::default()
        .limit(64 << 20)
        .swap(96 << 20)
        .reservation(16 << 20)
        .build()
        .unwrap();
    assert_eq!(
        pairs(&memory(&m, None, &mut Vec::new()).unwrap()),
        vec![
            ("memory.max", "67108864"),
            ("memory.swap.max", "33554432"),
            ("memory.low", "16777216"),
        ]
    );
}

#[test]
fn memory_unlimited() {
    let m = LinuxMemoryBuilder::default().limit(-1).build().unwrap();
    let w = memory(&m, None, &mut Vec::new()).unwrap();
    assert_eq!(
        pairs(&w),
        vec![("memory.max", "max"), ("memory.swap.max", "max")]
    );
    assert!(w[1].if_exists);
    // A limit alone leaves swap alone (as runc).
    let m = LinuxMemoryBuilder::default()
        .limit(1 << 20)
        .build()
        .unwrap();
    assert_eq!(
        pairs(&memory(&m, None, &mut Vec::new()).unwrap()),
        vec![("memory.max", "1048576")]
    );
}

#[test]
fn memory_refusals() {
    let swap_only = LinuxMemoryBuilder::default().swap(1 << 20).build().unwrap();
    assert!(
        memory(&swap_only, None, &mut Vec::new())
            .unwrap_err()
            .to_string()
            .contains("needs a finite memory limit")
    );
    let less = LinuxMemoryBuilder::default()
        .limit(2 << 20)
        .swap(1 << 20)
        .build()
        .unwrap();
    assert!(memory(&less, None, &mut Vec::new()).is_err());
    let sw = LinuxMemoryBuilder::default()
        .swappiness(10u64)
        .build()
        .unwrap();
    // What v2 has no file for is ignored with a warning, as runc ignores it.
    let mut warnings = Vec::new();
    assert!(memory(&sw, None, &mut warnings).unwrap().is_empty());
    assert_eq!(
        warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["linux.resources.memory.swappiness is ignored: cgroup v2 has no per-cgroup swappiness"]
    );
    let ignored = LinuxMemoryBuilder::default()
        .disable_oom_killer(true)
        .kernel_tcp(1i64 << 20)
        .build()
        .unwrap();
    let mut warnings = Vec::new();
    assert!(memory(&ignored, None, &mut warnings).unwrap().is_empty());
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let check = LinuxMemoryBuilder::default()
        .limit(1 << 20)
        .check_before_update(true)
        .build()
        .unwrap();
    assert!(
        memory(&check, Some(2 << 20), &mut Vec::new())
            .unwrap_err()
            .to_string()
            .contains("checkBeforeUpdate")
    );
    assert!(memory(&check, Some(1 << 10), &mut Vec::new()).is_ok());
}

#[test]
fn shares_map_to_weights() {
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 100);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(shares_to_weight(512), 59);
    assert!(shares_to_weight(2048) > 100);
}

#[test]
fn cpu_max_and_friends() {
    let c = LinuxCpuBuilder::default()
        .shares(1024u64)
        .quota(50_000i64)
        .period(100_000u64)
        .burst(2000u64)
        .idle(1i64)
        .cpus("0")
        .build()
        .unwrap();
    assert_eq!(
        pairs(&cpu(&c).unwrap()),
        vec![
            ("cpu.weight", "100"),
            ("cpu.max", "50000 100000"),
            ("cpu.max.burst", "2000"),
            ("cpu.idle", "1"),
        ]
    );
    let q = LinuxCpuBuilder::default().quota(-1i64).build().unwrap();
    assert_eq!(pairs(&cpu(&q).unwrap()), vec![("cpu.max", "max")]);
    let p = LinuxCpuBuilder::default()
        .period(20_000u64)
        .build()
        .unwrap();
    assert_eq!(pairs(&cpu(&p).unwrap()), vec![("cpu.max", "max 20000")]);
    let rt = LinuxCpuBuilder::default()
        .realtime_runtime(100i64)
        .build()
        .unwrap();
    assert!(cpu(&rt).unwrap_err().to_string().contains("realtime"));
}

#[test]
fn io_files() {
    let b = LinuxBlockIoBuilder::default()
        .weight(1000u16)
        .weight_device(vec![
            LinuxWeightDeviceBuilder::default()
                .major(8)
                .minor(0)
                .weight(10u16)
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
        .throttle_write_bps_device(vec![
            LinuxThrottleDeviceBuilder::default()
                .major(8)
                .minor(0)
                .rate(0u64)
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap();
    let w = io(&b).unwrap();
    assert_eq!(
        pairs(&w),
        vec![
            ("io.bfq.weight", "1000"),
            ("io.bfq.weight", "8:0 10"),
            ("io.max", "8:0 rbps=1048576"),
            ("io.max", "8:0 wbps=max"),
        ]
    );
    assert_eq!(
        w[0].fallback,
        Some(("io.weight".to_owned(), "default 10000".to_owned()))
    );
    assert_eq!(
        w[1].fallback,
        Some(("io.weight".to_owned(), "8:0 1".to_owned()))
    );
    let leaf = LinuxBlockIoBuilder::default()
        .leaf_weight(100u16)
        .build()
        .unwrap();
    assert!(io(&leaf).is_err());
}

#[test]
fn hugetlb_files() {
    let l = vec![
        LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(0)
            .build()
            .unwrap(),
        LinuxHugepageLimitBuilder::default()
            .page_size("1GB")
            .limit(-1)
            .build()
            .unwrap(),
    ];
    assert_eq!(
        pairs(&hugetlb(&l).unwrap()),
        vec![
            ("hugetlb.2MB.max", "0"),
            ("hugetlb.2MB.rsvd.max", "0"),
            ("hugetlb.1GB.max", "max"),
            ("hugetlb.1GB.rsvd.max", "max"),
        ]
    );
}
