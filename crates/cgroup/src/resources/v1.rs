//! OCI resources to cgroup v1 files (pure functions).

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxNetwork};

use super::plan::{FileWrite, R, dev, invalid, limit, page_size};
use crate::error::Result;

/// `memory.*`. `current_limit` is `memory.limit_in_bytes` now; it decides whether the memory
/// or the memory+swap limit is written first (the kernel keeps memsw >= limit at all times).
/// `kernelTCP` goes to `memory.kmem.tcp.limit_in_bytes` (as crun and runc write it); the
/// caller drops it, with a warning, where this kernel has no such file.
pub(crate) fn memory(m: &LinuxMemory, current_limit: i64) -> Result<Vec<FileWrite>> {
    let s_limit = format!("{R}.memory.limit");
    let s_swap = format!("{R}.memory.swap");
    let mut out = Vec::new();
    let lim = limit(&s_limit, m.limit())?;
    let mut swap = limit(&s_swap, m.swap())?;
    // "memory unlimited, swap unset" means both unlimited, as with runc.
    if lim == Some(None) && swap.is_none() {
        swap = Some(None);
    }
    if let (Some(Some(l)), Some(Some(s))) = (lim, swap) {
        if s < l {
            return Err(invalid(
                &s_swap,
                s,
                format!("memory+swap must be >= the memory limit {l}"),
            ));
        }
    }
    let val = |v: Option<i64>| v.unwrap_or(-1).to_string();
    let w_limit = lim.map(|l| FileWrite::new(&s_limit, "memory.limit_in_bytes", val(l)));
    let w_swap = swap.map(|s| {
        let w = FileWrite::new(&s_swap, "memory.memsw.limit_in_bytes", val(s));
        // Without swap accounting the file is absent, and "unlimited" is then true anyway.
        if s.is_none() { w.if_exists() } else { w }
    });
    match (w_limit, w_swap) {
        (Some(l), Some(s)) => {
            let new_swap = swap.flatten();
            if new_swap.is_none_or(|sw| current_limit < sw) {
                out.extend([s, l]);
            } else {
                out.extend([l, s]);
            }
        }
        (l, s) => out.extend(l.into_iter().chain(s)),
    }
    if let Some(r) = limit(&format!("{R}.memory.reservation"), m.reservation())? {
        out.push(FileWrite::new(
            format!("{R}.memory.reservation"),
            "memory.soft_limit_in_bytes",
            val(r),
        ));
    }
    if let Some(sw) = super::swappiness(m) {
        if sw > 100 {
            return Err(invalid(
                &format!("{R}.memory.swappiness"),
                sw,
                "must be 0..=100",
            ));
        }
        out.push(FileWrite::new(
            format!("{R}.memory.swappiness"),
            "memory.swappiness",
            sw.to_string(),
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        out.push(FileWrite::new(
            format!("{R}.memory.disableOOMKiller"),
            "memory.oom_control",
            "1",
        ));
    }
    if let Some(tcp) = limit(&format!("{R}.memory.kernelTCP"), m.kernel_tcp())? {
        out.push(FileWrite::new(
            format!("{R}.memory.kernelTCP"),
            "memory.kmem.tcp.limit_in_bytes",
            val(tcp),
        ));
    }
    if let Some(h) = m.use_hierarchy() {
        out.push(FileWrite::new(
            format!("{R}.memory.useHierarchy"),
            "memory.use_hierarchy",
            if h { "1" } else { "0" },
        ));
    }
    Ok(out)
}

/// The `cpu` controller part of `linux.resources.cpu` (cpus/mems go to cpuset).
pub(crate) fn cpu(c: &LinuxCpu) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    if let Some(shares) = super::cpu_shares(c)? {
        out.push(FileWrite::new(
            format!("{R}.cpu.shares"),
            "cpu.shares",
            shares.to_string(),
        ));
    }
    let (quota, period) = super::cpu_quota_period(c)?;
    if let Some(p) = period {
        let w = FileWrite::new(
            format!("{R}.cpu.period"),
            "cpu.cfs_period_us",
            p.to_string(),
        );
        // A shorter period can be refused while the old quota is in place; retry after it.
        out.push(if quota.is_some() {
            w.retry_after_group()
        } else {
            w
        });
    }
    if let Some(q) = quota {
        out.push(FileWrite::new(
            format!("{R}.cpu.quota"),
            "cpu.cfs_quota_us",
            q.unwrap_or(-1).to_string(),
        ));
    }
    if let Some(b) = c.burst() {
        out.push(FileWrite::new(
            format!("{R}.cpu.burst"),
            "cpu.cfs_burst_us",
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
    let (rt_runtime, rt_period) = super::realtime(c);
    if let Some(p) = rt_period {
        out.push(FileWrite::new(
            format!("{R}.cpu.realtimePeriod"),
            "cpu.rt_period_us",
            p.to_string(),
        ));
    }
    if let Some(r) = rt_runtime {
        out.push(FileWrite::new(
            format!("{R}.cpu.realtimeRuntime"),
            "cpu.rt_runtime_us",
            r.to_string(),
        ));
    }
    Ok(out)
}

/// `blkio.*`. Weights go to the CFQ files, or to the BFQ ones where CFQ is gone.
pub(crate) fn blkio(b: &LinuxBlockIo) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    if let Some(w) = super::nonzero(b.weight()) {
        let s = format!("{R}.blockIO.weight");
        check_weight(&s, w)?;
        out.push(
            FileWrite::new(&s, "blkio.weight", w.to_string())
                .or_else("blkio.bfq.weight", w.to_string()),
        );
    }
    if let Some(w) = super::nonzero(b.leaf_weight()) {
        let s = format!("{R}.blockIO.leafWeight");
        check_weight(&s, w)?;
        out.push(FileWrite::new(&s, "blkio.leaf_weight", w.to_string()));
    }
    for d in b.weight_device().iter().flatten() {
        let s = format!("{R}.blockIO.weightDevice");
        let dev = dev(&s, d.major(), d.minor())?;
        if let Some(w) = super::nonzero(d.weight()) {
            check_weight(&s, w)?;
            let v = format!("{dev} {w}");
            out.push(
                FileWrite::new(&s, "blkio.weight_device", &v)
                    .or_else("blkio.bfq.weight_device", &v),
            );
        }
        if let Some(w) = super::nonzero(d.leaf_weight()) {
            check_weight(&s, w)?;
            out.push(FileWrite::new(
                &s,
                "blkio.leaf_weight_device",
                format!("{dev} {w}"),
            ));
        }
    }
    for (list, name, file) in [
        (
            b.throttle_read_bps_device(),
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
        ),
        (
            b.throttle_write_bps_device(),
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
        ),
        (
            b.throttle_read_iops_device(),
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
        ),
        (
            b.throttle_write_iops_device(),
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
        ),
    ] {
        let s = format!("{R}.blockIO.{name}");
        for d in list.iter().flatten() {
            let dev = dev(&s, d.major(), d.minor())?;
            out.push(FileWrite::new(&s, file, format!("{dev} {}", d.rate())));
        }
    }
    Ok(out)
}

pub(crate) fn check_weight(setting: &str, w: u16) -> Result<()> {
    if (10..=1000).contains(&w) {
        Ok(())
    } else {
        Err(invalid(setting, w, "a block IO weight is 10..=1000"))
    }
}

/// `hugetlb.<size>.limit_in_bytes` (and the reservation limit where the kernel has it).
pub(crate) fn hugetlb(limits: &[LinuxHugepageLimit]) -> Result<Vec<FileWrite>> {
    let mut out = Vec::new();
    for l in limits {
        let size = page_size(l.page_size())?;
        let s = format!("{R}.hugepageLimits[{size}]");
        if l.limit() < -1 {
            return Err(invalid(&s, l.limit(), "must be >= 0, or -1 for unlimited"));
        }
        let v = l.limit().to_string();
        out.push(FileWrite::new(
            &s,
            format!("hugetlb.{size}.limit_in_bytes"),
            &v,
        ));
        out.push(FileWrite::new(&s, format!("hugetlb.{size}.rsvd.limit_in_bytes"), &v).if_exists());
    }
    Ok(out)
}

/// `net_cls.classid` and `net_prio.ifpriomap`: (controller, write) pairs.
pub(crate) fn network(n: &LinuxNetwork) -> Vec<(&'static str, FileWrite)> {
    let mut out = Vec::new();
    if let Some(id) = n.class_id() {
        out.push((
            "net_cls",
            FileWrite::new(
                format!("{R}.network.classID"),
                "net_cls.classid",
                id.to_string(),
            ),
        ));
    }
    for p in n.priorities().iter().flatten() {
        out.push((
            "net_prio",
            FileWrite::new(
                format!("{R}.network.priorities"),
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
