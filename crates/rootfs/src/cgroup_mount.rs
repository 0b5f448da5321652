//! A `cgroup` mount on a cgroup v1 or hybrid host, shown as runc shows it: a tmpfs at the
//! destination holding one directory per hierarchy (`memory`, `pids`, …, `unified`), each a
//! bind of the container's own cgroup directory in that hierarchy. The container thus reads
//! its own limits at `/sys/fs/cgroup/<controller>/…` and sees nothing of the host's tree.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};

use crate::mount_api::{self, Attrs};

/// Where the host mounts its hierarchies.
const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The name of the directory a hierarchy gets inside the mount: the host mount point's name
/// under /sys/fs/cgroup (`/sys/fs/cgroup/memory/peapod/x` -> `memory`).
pub(crate) fn hierarchy_name(dir: &Path) -> Option<&OsStr> {
    match dir
        .strip_prefix(HOST_CGROUP_ROOT)
        .ok()?
        .components()
        .next()?
    {
        Component::Normal(name) => Some(name),
        _ => None,
    }
}

/// What a `cgroup` mount at `destination` binds on a v1 or hybrid host, as (path in the
/// container, host directory) pairs: `destination/<hierarchy>` for each of `dirs` (the
/// container's cgroup directories, one per hierarchy). E.g. checkpointing tools must name
/// these binds as external mounts.
pub fn cgroup_binds(destination: &Path, dirs: &[PathBuf]) -> Vec<(PathBuf, PathBuf)> {
    dirs.iter()
        .filter_map(|dir| Some((destination.join(hierarchy_name(dir)?), dir.clone())))
        .collect()
}

/// Mounts the tmpfs on `target` and binds each of `dirs` into it with `attrs`; the tmpfs
/// itself gets `attrs` last (so it can be read-only once populated).
pub(crate) fn mount(target: BorrowedFd<'_>, dirs: &[PathBuf], attrs: Attrs) -> nix::Result<()> {
    let tmpfs = mount_api::new_fs("tmpfs", "cgroup", &["mode=755"], &[], 0).map_err(|e| e.errno)?;
    mount_api::attach(tmpfs.as_fd(), target)?;
    for dir in dirs {
        let name = hierarchy_name(dir).ok_or(nix::Error::EINVAL)?;
        match mkdirat(tmpfs.as_fd(), name, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(e),
        }
        let sub = openat(
            tmpfs.as_fd(),
            name,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let bind = mount_api::clone_path(dir, false)?;
        mount_api::set_attrs(bind.as_fd(), attrs, false)?;
        mount_api::attach(bind.as_fd(), sub.as_fd())?;
    }
    mount_api::set_attrs(tmpfs.as_fd(), attrs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchies_are_named_by_their_host_mount_point() {
        let name = |p: &str| hierarchy_name(Path::new(p)).map(|n| n.to_string_lossy().into_owned());
        assert_eq!(
            name("/sys/fs/cgroup/memory/peapod/x").as_deref(),
            Some("memory")
        );
        assert_eq!(
            name("/sys/fs/cgroup/unified/peapod/x").as_deref(),
            Some("unified")
        );
        assert_eq!(
            name("/sys/fs/cgroup/cpu,cpuacct/a").as_deref(),
            Some("cpu,cpuacct")
        );
        assert_eq!(name("/elsewhere/memory"), None);
    }
}
