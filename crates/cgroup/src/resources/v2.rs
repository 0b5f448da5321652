//! OCI resources to cgroup v2 (unified) files (pure functions).

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory};

use super::plan::{FileWrite, R, Warning, dev, ignored, invalid, limit, page_size, unsupported};
use super::v1::check_weight;
use crate::error::Result;

fn max_or(v: Option<i64>) -> String {
    v.map_or_else(|| "max".to_owned(), |n| n.to_string())
}

/// `memory.*`. OCI `swap` is memory+swap; v2's `memory.swap.max` is swap alone, so it gets
/// `swap - limit`. `current_usage` (`memory.current`) is needed for `checkBeforeUpdate`.
/// What v2 has no file for (swappiness, disableOOMKiller, kernelTCP) is ignored with a
/// warning, as runc ignores it.
pub(crate) fn memory(
    m: &LinuxMemory,
    current_usage: Option<u64>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<FileWrite>> {
    let s_limit = format!("{R}.memory.limit");
    let s_swap = format!("{R}.memory.swap");
    let mut out = Vec::new();
    let lim = limit(&s_limit, m.limit())?;
    let swap = limit(&s_swap, m.swap())?;
    if let Some(l) = lim {
        if let (Some(true), Some(max), Some(usage)) = (m.check_before_update(), l, current_usage) {
            if u64::try_from(max).is_ok_and(|max| max <= usage) {
                return Err(invalid(
                    &s_limit,
                    max,
                    format!("at or below the current usage {usage} (checkBeforeUpdate)"),
                ));
            }
        }
        out.push(FileWrite::new(&s_limit, "memory.max", max_or(l)));
    }
    let swap_value = match (lim, swap) {
        (Some(None), None) | (_, Some(None)) => Some(None),
        (_, None) => None,
        (Some(Some(l)), Some(Some(s))) if s >= l => Some(Some(s - l)),
        (Some(Some(l)), Some(Some(s))) => {
            return Err(invalid(
                &s_swap,
                s,
                format!("memory+swap must be >= the memory limit {l}"),
            ));
        }
        (None, Some(Some(s))) | (Some(None), Some(Some(s))) => {
            return Err(invalid(
                &s_swap,
                s,
                "a memory+swap limit needs a finite memory limit",
            ));
        }
    };
    if let Some(v) = swap_value {
        let w = FileWrite::new(&s_swap, "memory.swap.max", max_or(v));
        // Without swap accounting the file is absent, and "unlimited" is then true anyway.
        out.push(if v.is_none() { w.if_exists() } else { w });
    }
    if let Some(r) = limit(&format!("{R}.memory.reservation"), m.reservation())? {
        out.push(FileWrite::new(
            format!("{R}.memory.reservation"),
            "memory.low",
            max_or(r),
        ));
    }
    if super::swappiness(m).is_some() {
        warnings.push(ignored(
            &format!("{R}.memory.swappiness"),
            "cgroup v2 has no per-cgroup swappiness",
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        warnings.push(ignored(
            &format!("{R}.memory.disableOOMKiller"),
            "cgroup v2 cannot disable the OOM killer",
        ));
    }
    if m.kernel_tcp().is_some_and(|v| v != 0) {
        warnings.push(ignored(
            &format!("{R}.memory.kernelTCP"),
            "cgroup v2 has no TCP buffer memory limit",
        ));
    }
    if m.use_hierarchy() == Some(false) {
        return Err(unsupported(
            &format!("{R}.memory.useHierarchy"),
            "cgroup v2 accounting is always hierarchical",
        ));
    }
    Ok(out)
}

/// The runc/crun mapping of cgroup v1 `cpu.shares` (2..=262144, default 1024) to v2
/// `cpu.weight` (1..=10000, default 100), a curve through (2, 1), (1024, 100), (262144, 10000).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    let w = 10f64.powf(exponent).ceil();
    (w as u64).clamp(1, 10000)
}

/// `cpu.*` and `cpu.max`.
pub(crate) fn cpu(c: &LinuxCpu) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    if let Some(shares) = super::cpu_shares(c)? {
        out.push(FileWrite::new(
            format!("{R}.cpu.shares"),
            "cpu.weight",
            shares_to_weight(shares).to_string(),
        ));
    }
    let (quota, period) = super::cpu_quota_period(c)?;
    if quota.is_some() || period.is_some() {
        // As runc: a period alone means "no quota" with that period.
        let mut v = max_or(quota.flatten());
        if let Some(p) = period {
            v = format!("{v} {p}");
        }
        out.push(FileWrite::new(format!("{R}.cpu.quota"), "cpu.max", v));
    }
    if let Some(b) = c.burst() {
        out.push(FileWrite::new(
            format!("{R}.cpu.burst"),
            "cpu.max.burst",
            b.to_string(),
        ));
    }
    if let Some(i) = c.idle() {
        out.push(FileWrite::new(
            format!("{R}.cpu.idle"),
            "cpu.idle",
            i.to_string(),
        ));
    }
    if super::realtime(c) != (None, None) {
        return Err(unsupported(
            &format!("{R}.cpu.realtimeRuntime/realtimePeriod"),
            "cgroup v2 has no realtime CPU bandwidth control",
        ));
    }
    Ok(out)
}

/// Maps a blkio weight (10..=1000) to an `io.weight` (1..=10000), as runc does.
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// `io.*`. Weights go to `io.bfq.weight` (same scale as blkio) where BFQ is in use, else
/// to `io.weight`.
pub(crate) fn io(b: &LinuxBlockIo) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    if let Some(w) = super::nonzero(b.weight()) {
        let s = format!("{R}.blockIO.weight");
        check_weight(&s, w)?;
        out.push(
            FileWrite::new(&s, "io.bfq.weight", w.to_string())
                .or_else("io.weight", format!("default {}", blkio_to_io_weight(w))),
        );
    }
    if super::nonzero(b.leaf_weight()).is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| super::nonzero(d.leaf_weight()).is_some())
    {
        return Err(unsupported(
            &format!("{R}.blockIO.leafWeight"),
            "cgroup v2 has no leaf weights",
        ));
    }
    for d in b.weight_device().iter().flatten() {
        let s = format!("{R}.blockIO.weightDevice");
        let dev = dev(&s, d.major(), d.minor())?;
        if let Some(w) = super::nonzero(d.weight()) {
            check_weight(&s, w)?;
            out.push(
                FileWrite::new(&s, "io.bfq.weight", format!("{dev} {w}"))
                    .or_else("io.weight", format!("{dev} {}", blkio_to_io_weight(w))),
            );
        }
    }
    for (list, name, key) in [
        (
            b.throttle_read_bps_device(),
            "throttleReadBpsDevice",
            "rbps",
        ),
        (
            b.throttle_write_bps_device(),
            "throttleWriteBpsDevice",
            "wbps",
        ),
        (
            b.throttle_read_iops_device(),
            "throttleReadIOPSDevice",
            "riops",
        ),
        (
            b.throttle_write_iops_device(),
            "throttleWriteIOPSDevice",
            "wiops",
        ),
    ] {
        let s = format!("{R}.blockIO.{name}");
        for d in list.iter().flatten() {
            let dev = dev(&s, d.major(), d.minor())?;
            // v1 reads a rate of 0 as "no limit"; so do we.
            let rate = if d.rate() == 0 {
                "max".to_owned()
            } else {
                d.rate().to_string()
            };
            out.push(FileWrite::new(&s, "io.max", format!("{dev} {key}={rate}")));
        }
    }
    Ok(out)
}

/// `hugetlb.<size>.max` (and the reservation limit where the kernel has it).
pub(crate) fn hugetlb(limits: &[LinuxHugepageLimit]) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    for l in limits {
        let size = page_size(l.page_size())?;
        let s = format!("{R}.hugepageLimits[{size}]");
        let v = match l.limit() {
            -1 => "max".to_owned(),
            n if n >= 0 => n.to_string(),
            n => return Err(invalid(&s, n, "must be >= 0, or -1 for unlimited")),
        };
        out.push(FileWrite::new(&s, format!("hugetlb.{size}.max"), &v));
        out.push(FileWrite::new(&s, format!("hugetlb.{size}.rsvd.max"), &v).if_exists());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
