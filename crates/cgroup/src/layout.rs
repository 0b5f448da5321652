//! How the host mounts cgroups: pure v1, pure v2 (unified) or hybrid (v1 controllers plus a
//! cgroup2 mount, usually at `/sys/fs/cgroup/unified`), parsed from `/proc/self/mountinfo`, and
//! where a cgroup path lands in each hierarchy.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MOUNTINFO: &str = "/proc/self/mountinfo";
const PROC_CGROUP: &str = "/proc/self/cgroup";
const PREFERRED_PREFIX: &str = "/sys/fs/cgroup";

/// v1 controller names (`name=…` named hierarchies such as `name=systemd` count too).
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// One mounted cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Controllers bound to it, sorted (`["cpu", "cpuacct"]`, `["name=systemd"]`).
    pub controllers: Vec<String>,
    /// Where it is mounted (`/sys/fs/cgroup/memory`).
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point, relative to the hierarchy's root (`/` normally).
    pub root: String,
}

impl V1Hierarchy {
    /// True if `controller` is bound to this hierarchy.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroup2 (unified) mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unified {
    /// Where it is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid hosts).
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point (`/` normally).
    pub root: String,
}

/// How this host mounts cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup v1 hierarchies.
    V1 {
        /// One entry per mounted hierarchy.
        hierarchies: Vec<V1Hierarchy>,
    },
    /// Only the unified hierarchy: every controller lives there.
    V2 {
        /// The cgroup2 mount.
        unified: Unified,
    },
    /// v1 hierarchies for most controllers plus a cgroup2 mount holding the rest (often none:
    /// systemd's hybrid mode; here, hugetlb). Processes are placed in both.
    Hybrid {
        /// One entry per mounted v1 hierarchy.
        hierarchies: Vec<V1Hierarchy>,
        /// The cgroup2 mount.
        unified: Unified,
    },
}

impl Layout {
    /// This host's layout: probed at the usual mount points under `/sys/fs/cgroup` (a few
    /// `statfs(2)` and `/proc/self/cgroup`; see `layout/probe.rs` for why), or, when a
    /// hierarchy is elsewhere, read from `/proc/self/mountinfo` ([`Layout::from_proc`]).
    pub fn detect() -> Result<Layout> {
        if let Ok(entries) = read_proc_cgroup()
            && let Some(layout) = probe::probe(Path::new(PREFERRED_PREFIX), &entries)
        {
            return Ok(layout);
        }
        Layout::from_proc()
    }

    /// Reads `/proc/self/mountinfo` (whose cost grows with the number of mounts of the
    /// caller's mount namespace).
    pub fn from_proc() -> Result<Layout> {
        let text = crate::fsutil::read_kernel_file(MOUNTINFO).map_err(|err| Error::Read {
            path: MOUNTINFO.into(),
            err,
        })?;
        Layout::from_mountinfo(&text)
    }

    /// Parses mountinfo text (see proc(5)). When a hierarchy is mounted more than once, the
    /// mount under `/sys/fs/cgroup` wins, otherwise the first one.
    pub fn from_mountinfo(text: &str) -> Result<Layout> {
        let mut v1: Vec<V1Hierarchy> = Vec::new();
        let mut unified: Option<Unified> = None;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let m = parse_mount_line(line).ok_or_else(|| Error::Layout {
                file: MOUNTINFO.into(),
                reason: format!("line {} is malformed: {line:?}", n + 1),
            })?;
            let preferred = m.mount_point.starts_with(PREFERRED_PREFIX);
            match m.fstype {
                "cgroup2" => {
                    let u = Unified {
                        mount_point: m.mount_point,
                        root: m.root,
                    };
                    match &unified {
                        Some(old)
                            if old.mount_point.starts_with(PREFERRED_PREFIX) || !preferred => {}
                        _ => unified = Some(u),
                    }
                }
                "cgroup" => {
                    let mut controllers: Vec<String> = m
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_owned)
                        .collect();
                    controllers.sort();
                    controllers.dedup();
                    if controllers.is_empty() {
                        continue;
                    }
                    let h = V1Hierarchy {
                        controllers,
                        mount_point: m.mount_point,
                        root: m.root,
                    };
                    match v1.iter_mut().find(|o| o.controllers == h.controllers) {
                        Some(old) => {
                            if preferred && !old.mount_point.starts_with(PREFERRED_PREFIX) {
                                *old = h;
                            }
                        }
                        None => v1.push(h),
                    }
                }
                _ => {}
            }
        }
        match (v1.is_empty(), unified) {
            (true, Some(unified)) => Ok(Layout::V2 { unified }),
            (false, Some(unified)) => Ok(Layout::Hybrid {
                hierarchies: v1,
                unified,
            }),
            (false, None) => Ok(Layout::V1 { hierarchies: v1 }),
            (true, None) => Err(Error::Layout {
                file: MOUNTINFO.into(),
                reason: "no cgroup or cgroup2 file system is mounted".into(),
            }),
        }
    }

    /// The v1 hierarchies (empty on a pure v2 host).
    pub fn v1_hierarchies(&self) -> &[V1Hierarchy] {
        match self {
            Layout::V1 { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies,
            Layout::V2 { .. } => &[],
        }
    }

    /// The cgroup2 mount, if any.
    pub fn unified(&self) -> Option<&Unified> {
        match self {
            Layout::V2 { unified } | Layout::Hybrid { unified, .. } => Some(unified),
            Layout::V1 { .. } => None,
        }
    }
}

struct MountLine<'a> {
    root: String,
    mount_point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

fn parse_mount_line(line: &str) -> Option<MountLine<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let right: Vec<&str> = right.split(' ').collect();
    if left.len() < 6 || right.len() < 3 {
        return None;
    }
    Some(MountLine {
        root: unescape(left[3]),
        mount_point: PathBuf::from(unescape(left[4])),
        fstype: right[0],
        super_options: right[2],
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcCgroup {
    /// Controllers, sorted; empty for the unified hierarchy (id 0).
    pub(crate) controllers: Vec<String>,
    pub(crate) path: String,
    pub(crate) unified: bool,
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroup>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::Layout {
                file: PROC_CGROUP.into(),
                reason: format!("malformed line {line:?}"),
            });
        };
        let mut controllers: Vec<String> = ctrls
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        controllers.sort();
        out.push(ProcCgroup {
            unified: id == "0" && controllers.is_empty(),
            controllers,
            path: path.to_owned(),
        });
    }
    Ok(out)
}

pub(crate) fn read_proc_cgroup() -> Result<Vec<ProcCgroup>> {
    let text = crate::fsutil::read_kernel_file(PROC_CGROUP).map_err(|err| Error::Read {
        path: PROC_CGROUP.into(),
        err,
    })?;
    parse_proc_cgroup(&text)
}

/// A cgroup path from OCI `linux.cgroupsPath`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupPath {
    pub(crate) absolute: bool,
    pub(crate) components: Vec<String>,
}

impl CgroupPath {
    pub(crate) fn parse(path: &str) -> Result<CgroupPath> {
        let bad = |reason: &str| Error::InvalidPath {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if path.contains('\0') || path.contains('\n') {
            return Err(bad("contains a NUL or newline"));
        }
        let mut components = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(bad("contains \"..\"")),
                c => components.push(c.to_owned()),
            }
        }
        if components.is_empty() {
            return Err(bad(
                "names a root cgroup, which can be neither created nor removed",
            ));
        }
        Ok(CgroupPath {
            absolute: path.starts_with('/'),
            components,
        })
    }
}

/// Where a cgroup lives in one hierarchy: `base` exists already (the mount point for an
/// absolute path, the caller's own cgroup for a relative one); `dir` is the cgroup itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) base: PathBuf,
    pub(crate) dir: PathBuf,
}

impl Placement {
    /// The directories from `base` (excluded) down to `dir` (included).
    pub(crate) fn levels(&self) -> Vec<PathBuf> {
        let mut levels: Vec<PathBuf> = self
            .dir
            .ancestors()
            .take_while(|p| *p != self.base.as_path())
            .map(Path::to_path_buf)
            .collect();
        levels.reverse();
        levels
    }
}

/// Places `path` in a hierarchy mounted at `mount_point` showing cgroup `root`, for a process
/// whose own cgroup there is `own` (needed for relative paths only).
pub(crate) fn place(
    mount_point: &Path,
    root: &str,
    own: Option<&str>,
    path: &CgroupPath,
    given: &str,
) -> Result<Placement> {
    let base = if path.absolute {
        mount_point.to_path_buf()
    } else {
        let own = own.ok_or_else(|| Error::InvalidPath {
            path: given.to_owned(),
            reason: format!(
                "is relative, but /proc/self/cgroup shows no cgroup of ours in the hierarchy at {}",
                mount_point.display()
            ),
        })?;
        let rel = strip_root(own, root).ok_or_else(|| Error::InvalidPath {
            path: given.to_owned(),
            reason: format!(
                "is relative, but our cgroup {own} is outside the part of the hierarchy mounted at {} ({root})",
                mount_point.display()
            ),
        })?;
        rel.iter().fold(mount_point.to_path_buf(), |p, c| p.join(c))
    };
    let dir = path.components.iter().fold(base.clone(), |p, c| p.join(c));
    Ok(Placement { base, dir })
}

fn strip_root<'a>(own: &'a str, root: &str) -> Option<Vec<&'a str>> {
    let own_c: Vec<&str> = own.split('/').filter(|c| !c.is_empty()).collect();
    let root_c: Vec<&str> = root.split('/').filter(|c| !c.is_empty()).collect();
    if own_c.len() < root_c.len() || own_c[..root_c.len()] != root_c[..] {
        return None;
    }
    Some(own_c[root_c.len()..].to_vec())
}

/// The caller's cgroup in the hierarchy with these controllers (`None` = unified).
pub(crate) fn own_path<'a>(
    entries: &'a [ProcCgroup],
    controllers: Option<&[String]>,
) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| match controllers {
            None => e.unified,
            Some(c) => {
                !e.unified && e.controllers.iter().collect::<BTreeSet<_>>() == c.iter().collect()
            }
        })
        .map(|e| e.path.as_str())
}

mod probe;
#[cfg(test)]
mod tests;
