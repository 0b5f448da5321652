//! [`Cgroup`]: one container's cgroup across every hierarchy it lives in. Creation, opening,
//! membership and removal; resources, freezing and stats live in their own modules.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::layout::{self, CgroupPath, Layout, Placement};

/// How long `remove` waits for exiting processes to leave and for the kernel to stop
/// answering EBUSY.
const REMOVE_WAIT: Duration = Duration::from_secs(2);
/// How long a process that does not look like it is exiting may stay before `remove` gives
/// up (a SIGKILLed process is briefly in neither state between dequeuing and exiting).
const LIVE_GRACE: Duration = Duration::from_millis(100);

/// A cgroup in one v1 hierarchy.
#[derive(Debug, Clone)]
pub(crate) struct V1Dir {
    pub(crate) controllers: Vec<String>,
    pub(crate) place: Placement,
}

/// A container's cgroup across every hierarchy it lives in: each mounted v1 hierarchy and,
/// on v2 and hybrid hosts, the unified one.
///
/// It holds paths only (no open files), so it can be made again in another process with
/// [`Cgroup::open`].
#[derive(Debug, Clone)]
pub struct Cgroup {
    path: String,
    pub(crate) v1: Vec<V1Dir>,
    pub(crate) unified: Option<Placement>,
    pure_v2: bool,
    /// Ancestors (never the leaf) that `create` made, parents first.
    created_parents: Vec<PathBuf>,
}

impl Cgroup {
    /// Creates (mkdir -p) the cgroup named by an OCI `linux.cgroupsPath` in every hierarchy.
    ///
    /// An absolute path (`/peapod/abc`) is relative to each hierarchy's mount point; a relative
    /// one to the calling process's own cgroup in that hierarchy (as runc does). An existing
    /// leaf is joined, not refused. On v1 the cpuset of each new directory is copied from its
    /// parent (a new cpuset cgroup is empty and refuses processes); on v2 every controller
    /// available along the path is enabled in `cgroup.subtree_control` (best effort: a parent
    /// with processes cannot delegate, and `apply` then names the missing controller).
    /// On failure, the directories made so far are removed.
    pub fn create(path: &str) -> Result<Cgroup> {
        Cgroup::create_in(&Layout::detect()?, path)
    }

    /// [`Cgroup::create`] on a given layout instead of the detected one.
    pub fn create_in(layout: &Layout, path: &str) -> Result<Cgroup> {
        let mut cg = Cgroup::resolve(layout, path)?;
        let mut made = Vec::new();
        if let Err(e) = cg.make_dirs(&mut made) {
            for dir in made.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            return Err(e);
        }
        let leaves = cg.directories();
        cg.created_parents = made.into_iter().filter(|d| !leaves.contains(d)).collect();
        Ok(cg)
    }

    /// Opens an existing cgroup (`peapod-oci kill/pause/delete` in a later process). A
    /// relative path resolves against the *caller's* cgroup, so pass an absolute one when the
    /// opener may live elsewhere than the creator.
    ///
    /// `remove` on the result deletes the leaf only (like runc); to also delete the parents
    /// the creating process made, use [`Cgroup::open_with_created_parents`].
    /// Fails with [`Error::NotFound`] if the cgroup exists in no hierarchy.
    pub fn open(path: &str) -> Result<Cgroup> {
        Cgroup::open_in(&Layout::detect()?, path)
    }

    /// [`Cgroup::open`] on a given layout instead of the detected one.
    pub fn open_in(layout: &Layout, path: &str) -> Result<Cgroup> {
        let cg = Cgroup::resolve(layout, path)?;
        let dirs = cg.directories();
        if !dirs.iter().any(|d| d.is_dir()) {
            return Err(Error::NotFound {
                path: path.to_owned(),
                dir: dirs.into_iter().next().unwrap_or_default(),
            });
        }
        Ok(cg)
    }

    /// Opens an existing cgroup and adopts the parents its creator made (as returned by
    /// [`Cgroup::created_parents`] in that process and kept, e.g., in the runtime's state), so
    /// that `remove` deletes them too once empty. Each entry must be a strict ancestor of one
    /// of this cgroup's directories, below the hierarchy's mount point (or the caller's cgroup).
    pub fn open_with_created_parents(path: &str, parents: &[PathBuf]) -> Result<Cgroup> {
        let mut cg = Cgroup::open(path)?;
        cg.adopt_parents(parents)?;
        Ok(cg)
    }

    pub(crate) fn adopt_parents(&mut self, parents: &[PathBuf]) -> Result<()> {
        let places: Vec<&Placement> = self
            .v1
            .iter()
            .map(|d| &d.place)
            .chain(self.unified.as_ref())
            .collect();
        for p in parents {
            let ok = places.iter().any(|pl| {
                p.starts_with(&pl.base) && *p != pl.base && pl.dir.starts_with(p) && *p != pl.dir
            });
            if !ok {
                return Err(Error::InvalidPath {
                    path: self.path.clone(),
                    reason: format!(
                        "{} is not a parent directory of this cgroup below a hierarchy's base",
                        p.display()
                    ),
                });
            }
        }
        self.created_parents = parents.to_vec();
        Ok(())
    }

    fn resolve(layout: &Layout, path: &str) -> Result<Cgroup> {
        let cp = CgroupPath::parse(path)?;
        let own = if cp.absolute {
            Vec::new()
        } else {
            layout::read_proc_cgroup()?
        };
        let mut v1 = Vec::new();
        for h in layout.v1_hierarchies() {
            let own_path = layout::own_path(&own, Some(&h.controllers));
            v1.push(V1Dir {
                controllers: h.controllers.clone(),
                place: layout::place(&h.mount_point, &h.root, own_path, &cp, path)?,
            });
        }
        let unified = match layout.unified() {
            Some(u) => {
                let own_path = layout::own_path(&own, None);
                Some(layout::place(&u.mount_point, &u.root, own_path, &cp, path)?)
            }
            None => None,
        };
        Ok(Cgroup {
            path: path.to_owned(),
            v1,
            unified,
            pure_v2: matches!(layout, Layout::V2 { .. }),
            created_parents: Vec::new(),
        })
    }

    fn make_dirs(&self, made: &mut Vec<PathBuf>) -> Result<()> {
        for d in &self.v1 {
            let cpuset = d.controllers.iter().any(|c| c == "cpuset");
            // Every level, not only those this call made: a parent another process made a
            // moment ago may not have its cpuset filled yet (the child would copy an empty
            // one and refuse processes with ENOSPC). Filling is idempotent.
            mkdir_levels(&d.place, made, |dir, _created| {
                if cpuset {
                    init_cpuset(dir)?;
                }
                Ok(())
            })?;
        }
        if let Some(u) = &self.unified {
            enable_controllers(&u.base)?;
            let leaf = u.dir.clone();
            mkdir_levels(u, made, |dir, _| {
                if dir != leaf {
                    enable_controllers(dir)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The cgroup path as given (OCI `linux.cgroupsPath`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The cgroup's directory in every hierarchy (v1 ones first, then the unified one).
    pub fn directories(&self) -> Vec<PathBuf> {
        self.v1
            .iter()
            .map(|d| d.place.dir.clone())
            .chain(self.unified.iter().map(|u| u.dir.clone()))
            .collect()
    }

    /// The parent directories `create` made (empty after `open`), to keep in the runtime's
    /// state for [`Cgroup::open_with_created_parents`].
    pub fn created_parents(&self) -> &[PathBuf] {
        &self.created_parents
    }

    /// On a pure v2 host, the cgroup's directory, for `clone3(CLONE_INTO_CGROUP)`; `None` on
    /// v1 and hybrid hosts (the child must also join v1 hierarchies).
    pub fn unified_dir(&self) -> Option<&Path> {
        match (&self.unified, self.pure_v2) {
            (Some(u), true) => Some(&u.dir),
            _ => None,
        }
    }

    pub(crate) fn is_pure_v2(&self) -> bool {
        self.pure_v2
    }

    /// The directory of the v1 hierarchy holding `controller`.
    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| d.place.dir.as_path())
    }

    /// Moves a process (a thread group) into the cgroup in every hierarchy: each v1 one and,
    /// on hybrid hosts, the unified one too. `pid` 0 means the calling process.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        if pid < 0 {
            return Err(Error::InvalidValue {
                setting: "pid".into(),
                value: pid.to_string(),
                reason: "a pid is positive (or 0 for the caller)".into(),
            });
        }
        let value = pid.to_string();
        for dir in self.directories() {
            fsutil::write(&dir.join("cgroup.procs"), &value, None)?;
        }
        Ok(())
    }

    /// Every pid in the cgroup and its descendants, across all hierarchies, sorted.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        for dir in self.directories() {
            fsutil::pids_recursive(&dir, &mut out)?;
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Removes the cgroup: its directory in every hierarchy (child cgroups first), then the
    /// parents `create` made (or [`Cgroup::open_with_created_parents`] adopted) that are
    /// empty; a parent still used by another cgroup is left alone.
    ///
    /// Processes that are exiting (zombies, or gone but still counted) are waited for
    /// briefly; a live process makes it fail with [`Error::Busy`] before anything is removed.
    /// EBUSY from rmdir is retried briefly. Removing an already-removed cgroup is `Ok`.
    pub fn remove(&self) -> Result<()> {
        // The common case, a leaf whose processes are gone: rmdir alone succeeds.
        if self.try_remove_leaves() {
            return self.remove_created_parents();
        }
        self.wait_no_live_processes()?;
        for dir in self.directories() {
            remove_tree(&dir)?;
        }
        self.remove_created_parents()
    }

    /// rmdir of every directory, stopping at the first that fails for a reason other than
    /// being gone already (busy, or holding child cgroups); whether all are gone.
    fn try_remove_leaves(&self) -> bool {
        self.directories()
            .iter()
            .all(|dir| match fs::remove_dir(dir) {
                Ok(()) => true,
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            })
    }

    fn remove_created_parents(&self) -> Result<()> {
        for dir in self.created_parents.iter().rev() {
            match fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT | libc::ENOTEMPTY | libc::EBUSY | libc::EEXIST)
                    ) => {}
                Err(err) => {
                    return Err(Error::Remove {
                        path: dir.clone(),
                        err,
                    });
                }
            }
        }
        Ok(())
    }

    fn wait_no_live_processes(&self) -> Result<()> {
        let mut last = Vec::new();
        let mut live_since: Option<Instant> = None;
        let done = fsutil::poll(REMOVE_WAIT, || {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(Some(()));
            }
            let live: Vec<i32> = pids.iter().copied().filter(|p| !is_exiting(*p)).collect();
            if live.is_empty() {
                live_since = None;
            } else if live_since.get_or_insert_with(Instant::now).elapsed() >= LIVE_GRACE {
                return Err(self.busy(live));
            }
            last = pids;
            Ok(None)
        })?;
        match done {
            Some(()) => Ok(()),
            None => Err(self.busy(last)),
        }
    }

    fn busy(&self, pids: Vec<i32>) -> Error {
        Error::Busy {
            path: self.directories().into_iter().next().unwrap_or_default(),
            pids,
        }
    }
}

/// mkdir every level of `place` below its base; `after(dir, created)` runs for each level.
/// A level that vanishes under us (a concurrent `remove` of a shared parent) is made again.
fn mkdir_levels(
    place: &Placement,
    made: &mut Vec<PathBuf>,
    mut after: impl FnMut(&Path, bool) -> Result<()>,
) -> Result<()> {
    let levels = place.levels();
    let mut attempts = 0;
    'again: loop {
        for level in &levels {
            let created = match fs::create_dir(level) {
                Ok(()) => {
                    made.push(level.clone());
                    true
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && level.is_dir() => false,
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 3 => {
                    attempts += 1;
                    continue 'again;
                }
                Err(err) => {
                    return Err(Error::Create {
                        path: level.clone(),
                        err,
                    });
                }
            };
            after(level, created)?;
        }
        return Ok(());
    }
}

/// A new v1 cpuset cgroup has empty `cpuset.cpus`/`cpuset.mems` and refuses processes
/// (ENOSPC): copy the parent's.
fn init_cpuset(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fsutil::read(&dir.join(file))?;
        if !own.trim().is_empty() {
            continue;
        }
        let inherited = fsutil::read(&parent.join(file))?;
        let inherited = inherited.trim();
        if !inherited.is_empty() {
            fsutil::write(&dir.join(file), inherited, None)?;
        }
    }
    Ok(())
}

/// Enables, in `dir`'s `cgroup.subtree_control`, every controller `dir` has. Best effort: a
/// cgroup with processes of its own cannot delegate (EBUSY), and that is reported later, by
/// `apply`, as the missing controller it causes.
fn enable_controllers(dir: &Path) -> Result<()> {
    let Some(available) = fsutil::read_opt(&dir.join("cgroup.controllers"))? else {
        return Ok(());
    };
    let enabled = fsutil::read_opt(&dir.join("cgroup.subtree_control"))?.unwrap_or_default();
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| !enabled.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let file = dir.join("cgroup.subtree_control");
    if fsutil::write_raw(&file, &missing.join(" ")).is_err() {
        for c in &missing {
            let _ = fsutil::write_raw(&file, c);
        }
    }
    Ok(())
}

/// Removes a cgroup directory and its child cgroups, deepest first; gone is fine.
fn remove_tree(dir: &Path) -> Result<()> {
    for child in fsutil::child_dirs(dir)? {
        remove_tree(&child)?;
    }
    let mut last: Option<io::Error> = None;
    let done = fsutil::poll(REMOVE_WAIT, || match fs::remove_dir(dir) {
        Ok(()) => Ok(Some(())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(())),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            last = Some(e);
            Ok(None)
        }
        Err(err) => Err(Error::Remove {
            path: dir.to_path_buf(),
            err,
        }),
    })?;
    match done {
        Some(()) => Ok(()),
        None => Err(Error::Remove {
            path: dir.to_path_buf(),
            err: last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EBUSY)),
        }),
    }
}

/// True if the process is gone, a zombie, exiting (`PF_EXITING`), or has SIGKILL pending:
/// it will leave the cgroup by itself.
fn is_exiting(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
    let Ok(stat) = fsutil::read_kernel_file(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state follows the last ')' (the command name may contain anything); flags are the
    // 7th field after it.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X" | "x"))) {
        return true;
    }
    if fields
        .get(6)
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|f| f & PF_EXITING != 0)
    {
        return true;
    }
    let Ok(status) = fsutil::read_kernel_file(format!("/proc/{pid}/status")) else {
        return true;
    };
    status.lines().any(|l| {
        let pending = l
            .strip_prefix("SigPnd:")
            .or_else(|| l.strip_prefix("ShdPnd:"));
        pending
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .is_some_and(|mask| mask & SIGKILL_BIT != 0)
    })
}
