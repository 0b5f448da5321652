//! `Cgroup::apply`: OCI `LinuxResources` to cgroup files. Each group of settings goes to the
//! hierarchy that holds its controller (a v1 one if mounted, else the unified one), in that
//! hierarchy's format. Everything is planned, and checked, before the first write.

pub(crate) mod devices;
mod plan;
mod v1;
mod v2;

use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::bpf;
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::fsutil;
pub use plan::Warning;
use plan::{FileWrite, R, ignored, invalid, unsupported};

/// Where a controller lives for this cgroup.
enum Loc {
    V1(PathBuf),
    V2(PathBuf),
}

/// Writes of one controller in one directory.
type Group = (PathBuf, Vec<FileWrite>);

/// Everything `apply` will do, decided before doing any of it.
struct Plan {
    groups: Vec<Group>,
    /// v2: the directory and rules of the eBPF device filter to install.
    device_filter: Option<(PathBuf, Vec<devices::Rule>)>,
    /// Settings this host cannot apply and that are skipped, as runc skips them.
    warnings: Vec<Warning>,
}

/// A CFS quota: `None` unset, `Some(None)` unlimited, `Some(Some(µs))`.
pub(crate) type Quota = Option<Option<i64>>;

impl Cgroup {
    /// Applies OCI resources.
    ///
    /// memory (limit, reservation, swap, swappiness, disableOOMKiller; kernel and kernelTCP
    /// are ignored as runc does), cpu (shares, quota, period, burst, idle, realtime, cpus,
    /// mems), pids, blockIO, hugepageLimits, network (v1 net_cls/net_prio), rdma, unified
    /// (v2 files), devices (v1 `devices.allow/deny`; on v2 an eBPF device program).
    /// A setting this host cannot apply is an [`Error::Unsupported`] naming it, never
    /// silently skipped, except where runc goes on without it: those are returned as
    /// [`Warning`]s for the caller to log (`memory.kernel` everywhere, as Linux no longer
    /// enforces it; `memory.kernelTCP` without `memory.kmem.tcp.limit_in_bytes`; on v2
    /// `swappiness` and `disableOOMKiller`; `network` without net_cls/net_prio).
    /// Values are checked before anything is written, but a kernel refusal midway leaves
    /// the earlier writes in place: on `create`+`apply` failure, `remove`.
    pub fn apply(&self, r: &LinuxResources) -> Result<Vec<Warning>> {
        let mut a = Applier {
            cg: self,
            v2_controllers: None,
        };
        let Plan {
            groups,
            device_filter,
            warnings,
        } = a.plan(r)?;
        for (dir, writes) in &groups {
            execute(dir, writes)?;
        }
        if let Some((dir, rules)) = device_filter {
            let (default_allow, exceptions) = devices::effective(&rules);
            bpf::install(&dir, default_allow, &exceptions)?;
        }
        Ok(warnings)
    }
}

struct Applier<'a> {
    cg: &'a Cgroup,
    v2_controllers: Option<Vec<String>>,
}

impl Applier<'_> {
    fn plan(&mut self, r: &LinuxResources) -> Result<Plan> {
        let mut groups: Vec<Group> = Vec::new();
        let mut device_filter = None;
        let mut warnings = Vec::new();

        if r.memory()
            .as_ref()
            .and_then(|m| m.kernel())
            .is_some_and(|k| k != 0)
        {
            warnings.push(ignored(
                &format!("{R}.memory.kernel"),
                "Linux no longer enforces kernel memory limits (runc ignores them too)",
            ));
        }
        if let Some(m) = r.memory().as_ref().filter(|m| has_memory(m)) {
            groups.push(
                match self.locate("memory", "memory", &format!("{R}.memory"))? {
                    Loc::V1(d) => {
                        let cur = read_i64(&d.join("memory.limit_in_bytes"))?;
                        let mut w = v1::memory(m, cur)?;
                        let tcp = "memory.kmem.tcp.limit_in_bytes";
                        if w.iter().any(|w| w.file == tcp) && !d.join(tcp).exists() {
                            w.retain(|w| w.file != tcp);
                            warnings.push(ignored(
                                &format!("{R}.memory.kernelTCP"),
                                format!("this kernel has no {tcp}"),
                            ));
                        }
                        (d, w)
                    }
                    Loc::V2(d) => {
                        let usage = match m.check_before_update() {
                            Some(true) => Some(read_u64(&d.join("memory.current"))?),
                            _ => None,
                        };
                        let w = v2::memory(m, usage, &mut warnings)?;
                        (d, w)
                    }
                },
            );
        }
        if let Some(c) = r.cpu().as_ref() {
            if has_cpu(c) {
                groups.push(match self.locate("cpu", "cpu", &format!("{R}.cpu"))? {
                    Loc::V1(d) => (d, v1::cpu(c)?),
                    Loc::V2(d) => (d, v2::cpu(c)?),
                });
            }
            let cpuset = cpuset_writes(c);
            if !cpuset.is_empty() {
                let (Loc::V1(d) | Loc::V2(d)) =
                    self.locate("cpuset", "cpuset", &format!("{R}.cpu.cpus/mems"))?;
                groups.push((d, cpuset));
            }
        }
        if let Some(p) = r.pids().as_ref().filter(|p| p.limit() != 0) {
            let (Loc::V1(d) | Loc::V2(d)) = self.locate("pids", "pids", &format!("{R}.pids"))?;
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".to_owned()
            };
            groups.push((
                d,
                vec![FileWrite::new(format!("{R}.pids.limit"), "pids.max", v)],
            ));
        }
        if let Some(b) = r.block_io().as_ref() {
            if has_blkio(b) {
                groups.push(match self.locate("blkio", "io", &format!("{R}.blockIO"))? {
                    Loc::V1(d) => (d, v1::blkio(b)?),
                    Loc::V2(d) => (d, v2::io(b)?),
                });
            }
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            groups.push(
                match self.locate("hugetlb", "hugetlb", &format!("{R}.hugepageLimits"))? {
                    Loc::V1(d) => (d, v1::hugetlb(h)?),
                    Loc::V2(d) => (d, v2::hugetlb(h)?),
                },
            );
        }
        if let Some(n) = r.network().as_ref() {
            for (controller, w) in v1::network(n) {
                match self.cg.v1_dir(controller) {
                    Some(d) => groups.push((d.to_path_buf(), vec![w])),
                    // runc's cgroup v2 driver ignores these settings.
                    None => warnings.push(ignored(
                        &w.setting,
                        format!(
                            "the {controller} controller is not mounted (it exists only in cgroup v1)"
                        ),
                    )),
                }
            }
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            let (Loc::V1(d) | Loc::V2(d)) = self.locate("rdma", "rdma", &format!("{R}.rdma"))?;
            let mut names: Vec<&String> = rdma.keys().collect();
            names.sort();
            let mut writes = Vec::new();
            for name in names {
                let l = &rdma[name];
                let mut v = name.clone();
                if let Some(h) = l.hca_handles() {
                    v.push_str(&format!(" hca_handle={h}"));
                }
                if let Some(o) = l.hca_objects() {
                    v.push_str(&format!(" hca_object={o}"));
                }
                if v != *name {
                    writes.push(FileWrite::new(format!("{R}.rdma[{name}]"), "rdma.max", v));
                }
            }
            groups.push((d, writes));
        }
        if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
            groups.push(self.plan_unified(u)?);
        }
        if let Some(devs) = r.devices().as_ref().filter(|d| !d.is_empty()) {
            let rules = devices::parse(devs)?;
            if let Some(d) = self.cg.v1_dir("devices") {
                groups.push((d.to_path_buf(), devices::v1_writes(&rules)));
            } else if let Some(u) = &self.cg.unified {
                device_filter = Some((u.dir.clone(), rules));
            } else {
                return Err(unsupported(
                    &format!("{R}.devices"),
                    "the devices controller is not mounted",
                ));
            }
        }
        Ok(Plan {
            groups,
            device_filter,
            warnings,
        })
    }

    fn plan_unified(&mut self, u: &std::collections::HashMap<String, String>) -> Result<Group> {
        let setting = format!("{R}.unified");
        let Some(dir) = self.cg.unified.as_ref().map(|u| u.dir.clone()) else {
            return Err(unsupported(
                &setting,
                "this host has no cgroup v2 (unified) hierarchy",
            ));
        };
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        let mut writes = Vec::new();
        for key in keys {
            let (controller, file) = plan::unified_key(key)?;
            if controller != "cgroup" && !self.v2_controllers()?.iter().any(|c| c == controller) {
                return Err(unsupported(
                    &format!("{setting}[{key}]"),
                    format!(
                        "the {controller} controller is not enabled in {}{}",
                        dir.display(),
                        self.controllers_hint()
                    ),
                ));
            }
            writes.push(FileWrite::new(format!("{setting}[{key}]"), file, &u[key]));
        }
        Ok((dir, writes))
    }

    /// v1 hierarchy with `v1_name` if mounted, else the unified hierarchy if `v2_name` is
    /// enabled for this cgroup there.
    fn locate(&mut self, v1_name: &str, v2_name: &str, setting: &str) -> Result<Loc> {
        if let Some(d) = self.cg.v1_dir(v1_name) {
            return Ok(Loc::V1(d.to_path_buf()));
        }
        let Some(dir) = self.cg.unified.as_ref().map(|u| u.dir.clone()) else {
            return Err(unsupported(
                setting,
                format!("the {v1_name} controller is not mounted"),
            ));
        };
        if self.v2_controllers()?.iter().any(|c| c == v2_name) {
            return Ok(Loc::V2(dir));
        }
        let state = if self.cg.v1.is_empty() {
            "is not enabled"
        } else {
            "is neither mounted as cgroup v1 nor enabled"
        };
        Err(unsupported(
            setting,
            format!(
                "the {v2_name} controller {state} in {}{}",
                dir.display(),
                self.controllers_hint()
            ),
        ))
    }

    fn controllers_hint(&self) -> String {
        match &self.v2_controllers {
            Some(c) if c.is_empty() => " (its cgroup.controllers is empty)".to_owned(),
            Some(c) => format!(" (its cgroup.controllers: {})", c.join(" ")),
            None => String::new(),
        }
    }

    fn v2_controllers(&mut self) -> Result<&[String]> {
        if self.v2_controllers.is_none() {
            let list = match &self.cg.unified {
                Some(u) => fsutil::read(&u.dir.join("cgroup.controllers"))?
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                None => Vec::new(),
            };
            self.v2_controllers = Some(list);
        }
        Ok(self.v2_controllers.as_deref().unwrap_or_default())
    }
}

fn has_memory(m: &LinuxMemory) -> bool {
    m.limit().is_some_and(|v| v != 0)
        || m.swap().is_some_and(|v| v != 0)
        || m.reservation().is_some_and(|v| v != 0)
        || swappiness(m).is_some()
        || m.disable_oom_killer() == Some(true)
        || m.use_hierarchy().is_some()
        || m.kernel_tcp().is_some_and(|v| v != 0)
}

/// Whether `blockIO` sets anything. A weight of 0 is "not set", as runc reads it (docker
/// 20.10 always sends `weight: 0`); the planners skip such weights too ([`nonzero`]).
fn has_blkio(b: &LinuxBlockIo) -> bool {
    nonzero(b.weight()).is_some()
        || nonzero(b.leaf_weight()).is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| nonzero(d.weight()).is_some() || nonzero(d.leaf_weight()).is_some())
        || [
            b.throttle_read_bps_device(),
            b.throttle_write_bps_device(),
            b.throttle_read_iops_device(),
            b.throttle_write_iops_device(),
        ]
        .iter()
        .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
}

/// A block IO weight, `None` when unset or 0 (runc: 0 is "not set").
pub(crate) fn nonzero(w: Option<u16>) -> Option<u16> {
    w.filter(|&w| w != 0)
}

fn has_cpu(c: &LinuxCpu) -> bool {
    c.shares().is_some_and(|v| v != 0)
        || c.quota().is_some_and(|v| v != 0)
        || c.period().is_some_and(|v| v != 0)
        || c.burst().is_some()
        || c.idle().is_some()
        || realtime(c) != (None, None)
}

/// `memory.swappiness`, `None` when unset or -1 as a u64 (runc's "not set": docker sends it).
pub(crate) fn swappiness(m: &LinuxMemory) -> Option<u64> {
    m.swappiness().filter(|&s| s != u64::MAX)
}

/// `realtimeRuntime` and `realtimePeriod`, each `None` when unset or 0 (runc: 0 is "not
/// set"; docker 20.10 sends both as 0).
pub(crate) fn realtime(c: &LinuxCpu) -> (Option<i64>, Option<u64>) {
    (
        c.realtime_runtime().filter(|&r| r != 0),
        c.realtime_period().filter(|&p| p != 0),
    )
}

fn cpuset_writes(c: &LinuxCpu) -> Vec<FileWrite> {
    let mut out = Vec::new();
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.trim().is_empty()) {
        out.push(FileWrite::new(
            format!("{R}.cpu.cpus"),
            "cpuset.cpus",
            cpus.trim(),
        ));
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.trim().is_empty()) {
        out.push(FileWrite::new(
            format!("{R}.cpu.mems"),
            "cpuset.mems",
            mems.trim(),
        ));
    }
    out
}

/// `shares`, checked; 0 is unset (as runc).
pub(crate) fn cpu_shares(c: &LinuxCpu) -> Result<Option<u64>> {
    match c.shares() {
        None | Some(0) => Ok(None),
        Some(s) if (2..=262_144).contains(&s) => Ok(Some(s)),
        Some(s) => Err(invalid(
            &format!("{R}.cpu.shares"),
            s,
            "cpu shares are 2..=262144",
        )),
    }
}

/// `quota` (`Some(None)` = unlimited) and `period`, checked. A quota of 0 is unset (as runc);
/// a period of 0 is unset too, unless a quota needs it.
pub(crate) fn cpu_quota_period(c: &LinuxCpu) -> Result<(Quota, Option<u64>)> {
    let quota = match c.quota() {
        None | Some(0) => None,
        Some(-1) => Some(None),
        Some(q) if q >= 1000 => Some(Some(q)),
        Some(q) => {
            return Err(invalid(
                &format!("{R}.cpu.quota"),
                q,
                "a CFS quota is at least 1000 µs, or -1 for unlimited",
            ));
        }
    };
    let period = match c.period() {
        None => None,
        Some(0) if quota.is_none() => None,
        Some(p) if (1000..=1_000_000).contains(&p) => Some(p),
        Some(p) => {
            return Err(invalid(
                &format!("{R}.cpu.period"),
                p,
                "a CFS period is 1000..=1000000 µs",
            ));
        }
    };
    Ok((quota, period))
}

/// Runs a group of writes in `dir`, in order.
fn execute(dir: &Path, writes: &[FileWrite]) -> Result<()> {
    let mut retry = Vec::new();
    // Runs of plain writes to one file (v1 device rules, a dozen by default) share an fd:
    // each write(2) is read on its own by the kernel.
    let mut open: Option<(&str, std::fs::File)> = None;
    for w in writes {
        if w.fallback.is_none() && !w.if_exists && !w.retry_after_group {
            let path = dir.join(&w.file);
            let file = match open.take() {
                Some((name, file)) if name == w.file => file,
                _ => std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|err| fsutil::write_error(Some(&w.setting), &path, &w.value, err))?,
            };
            fsutil::write_once(&file, &w.value)
                .map_err(|err| fsutil::write_error(Some(&w.setting), &path, &w.value, err))?;
            open = Some((&w.file, file));
            continue;
        }
        open = None;
        match write_one(dir, w) {
            Err(e) if w.retry_after_group && e.errno() == Some(nix::errno::Errno::EINVAL) => {
                retry.push(w)
            }
            other => other?,
        }
    }
    for w in retry {
        write_one(dir, w)?;
    }
    Ok(())
}

fn write_one(dir: &Path, w: &FileWrite) -> Result<()> {
    let path = dir.join(&w.file);
    match fsutil::write_raw(&path, &w.value) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound && (w.fallback.is_some() || w.if_exists) => {
            match &w.fallback {
                Some((file, value)) => fsutil::write(&dir.join(file), value, Some(&w.setting)),
                None => Ok(()),
            }
        }
        Err(err) => Err(fsutil::write_error(Some(&w.setting), &path, &w.value, err)),
    }
}

fn read_i64(path: &Path) -> Result<i64> {
    let text = fsutil::read(path)?;
    text.trim().parse().map_err(|_| Error::Parse {
        path: path.to_path_buf(),
        reason: format!("{:?} is not a number", text.trim()),
    })
}

fn read_u64(path: &Path) -> Result<u64> {
    let text = fsutil::read(path)?;
    text.trim().parse().map_err(|_| Error::Parse {
        path: path.to_path_buf(),
        reason: format!("{:?} is not a number", text.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_and_optional_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blkio.bfq.weight"), "").unwrap();
        std::fs::write(dir.path().join("pids.max"), "").unwrap();
        let writes = vec![
            FileWrite::new("w", "blkio.weight", "500").or_else("blkio.bfq.weight", "501"),
            FileWrite::new("r", "hugetlb.2MB.rsvd.limit_in_bytes", "1").if_exists(),
            FileWrite::new("p", "pids.max", "7"),
        ];
        execute(dir.path(), &writes).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("blkio.bfq.weight"), "501");
        assert_eq!(read("pids.max"), "7");
        assert!(!dir.path().join("hugetlb.2MB.rsvd.limit_in_bytes").exists());

        let e = execute(
            dir.path(),
            &[FileWrite::new("linux.resources.x", "nope", "1")],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "linux.resources.x: cannot write 1 to {}/nope: no such file or directory \
                 (this kernel or controller has no such file here)",
                dir.path().display()
            )
        );
        let gone = dir.path().join("gone");
        let e = execute(&gone, &[FileWrite::new("s", "pids.max", "1")]).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("(the cgroup directory does not exist)"),
            "{e}"
        );
    }
}
