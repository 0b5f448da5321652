//! The layout found without reading `/proc/self/mountinfo`.
//!
//! mountinfo is one line per mount of the caller's mount namespace, and the kernel formats
//! every line at each read (an overlay's line, with its `lowerdir=` list escaped, costs the
//! most): with 500 containers' root filesystems mounted, one read took ~25 ms of CPU here,
//! twice per container start, and was the largest cost that grew with the number of running
//! containers. The probe asks only what it needs: `/proc/self/cgroup` names the hierarchies
//! and the caller's cgroup in each; each is looked for at its usual mount point under
//! `/sys/fs/cgroup` (`cpu,cpuacct` or `cpu`, `systemd` for `name=systemd`, `unified` on a
//! hybrid host) and accepted only if `statfs(2)` says it is that kind of cgroup file system
//! and the caller's own cgroup is a directory under it (so the mount shows the hierarchy's
//! root, as mountinfo's `root` field `/` would say). Anything else (a hierarchy mounted
//! elsewhere or not at all, a bind-mounted sub-tree) gives `None`, and the caller reads
//! mountinfo.

use std::path::Path;

use nix::sys::statfs::{CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, FsType, statfs};

use super::{Layout, ProcCgroup, Unified, V1_CONTROLLERS, V1Hierarchy};

fn is_fs(path: &Path, kind: FsType) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == kind)
}

/// The caller's cgroup `own` is a directory under `mount_point`.
fn shows_root(mount_point: &Path, own: &str) -> bool {
    own.split('/')
        .filter(|c| !c.is_empty())
        .fold(mount_point.to_path_buf(), |p, c| p.join(c))
        .is_dir()
}

/// The layout under `sys` (`/sys/fs/cgroup`) for a process whose `/proc/self/cgroup` is
/// `entries`; `None` when a hierarchy is not where it usually is.
pub(super) fn probe(sys: &Path, entries: &[ProcCgroup]) -> Option<Layout> {
    let unified_own = entries.iter().find(|e| e.unified).map(|e| e.path.as_str());
    let root = || "/".to_owned();
    if is_fs(sys, CGROUP2_SUPER_MAGIC) {
        let own = unified_own?;
        return shows_root(sys, own).then(|| Layout::V2 {
            unified: Unified {
                mount_point: sys.to_path_buf(),
                root: root(),
            },
        });
    }
    let mut hierarchies = Vec::new();
    for e in entries.iter().filter(|e| !e.unified) {
        let controllers: Vec<String> = e
            .controllers
            .iter()
            .filter(|c| V1_CONTROLLERS.contains(&c.as_str()) || c.starts_with("name="))
            .cloned()
            .collect();
        if controllers.is_empty() {
            continue;
        }
        let mut names: Vec<String> = vec![controllers.join(",")];
        names.extend(controllers.iter().cloned());
        let mount_point = names
            .iter()
            .map(|n| sys.join(n.strip_prefix("name=").unwrap_or(n)))
            .find(|p| is_fs(p, CGROUP_SUPER_MAGIC) && shows_root(p, &e.path))?;
        hierarchies.push(V1Hierarchy {
            controllers,
            mount_point,
            root: root(),
        });
    }
    // Hybrid only: a pure v1 host (no cgroup2 at `unified`) is left to mountinfo.
    let unified_dir = sys.join("unified");
    let own = unified_own?;
    if hierarchies.is_empty()
        || !is_fs(&unified_dir, CGROUP2_SUPER_MAGIC)
        || !shows_root(&unified_dir, own)
    {
        return None;
    }
    Some(Layout::Hybrid {
        hierarchies,
        unified: Unified {
            mount_point: unified_dir,
            root: root(),
        },
    })
}
