//! The OCI `mounts` of a bundle, each mounted by fd onto a target resolved inside the root.
//!
//! Kinds of mount:
//! - a bind (`type: bind`, or a `bind`/`rbind` option): a detached clone of the host source,
//!   given its attributes while detached, then attached;
//! - a new filesystem (proc, tmpfs, devpts, mqueue, sysfs, cgroup2, …):
//!   `fsopen`/`fsconfig`/`fsmount`, the options as filesystem parameters. A fresh sysfs lists
//!   the devices of the network namespace of the process that mounts it, which is why a
//!   container with a network namespace of its own (new, or joined by path) gets one;
//! - `sysfs` in a container sharing the caller's network namespace: the caller's /sys is
//!   bound recursively instead (its flags on every mount), which shows the same devices and
//!   needs no privilege over that namespace (a new user namespace has none);
//! - `cgroup`: on a cgroup v2 host, a fresh cgroup2 mount (scoped by the container's cgroup
//!   namespace); on v1 and hybrid hosts (like ours), a tmpfs holding a bind of the container's
//!   own directory in each hierarchy (`cgroup_mount`); with no directories given, or when the
//!   kernel refuses a fresh cgroup2, the host's /sys/fs/cgroup tree bound recursively with the
//!   mount's flags (normally `ro`). `cgroup2` always mounts a fresh cgroup2 filesystem.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag, fstat};
use nix::sys::statfs::{
    CGROUP2_SUPER_MAGIC, FsType, PROC_SUPER_MAGIC, SYSFS_MAGIC, fstatfs, statfs,
};
use oci_spec::runtime::Mount;

use crate::error::{Error, Result, detail};
use crate::mount_api::{self, Attrs};
use crate::options::MountOptions;
use crate::safe_open::{FileKind, create};

/// Where mounts go: the root fd (the rootfs bind) and its host path, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) root: BorrowedFd<'a>,
    pub(crate) rootfs: &'a Path,
    /// The container's cgroup directories (see `RootfsSpec::cgroup_dirs`).
    pub(crate) cgroup_dirs: &'a [PathBuf],
}

/// What an OCI mount entry turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Bind the host `source` (recursively for `rbind`).
    Bind { source: PathBuf, recursive: bool },
    /// Bind a host tree recursively, with the mount's flags on every mount of it.
    HostTree {
        fstype: &'static str,
        source: &'static str,
    },
    /// A new filesystem of `fstype`.
    Fresh { fstype: String, source: String },
}

/// A validated mount entry.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) destination: PathBuf,
    pub(crate) options: MountOptions,
    pub(crate) kind: Kind,
}

/// Mount points allowed inside /proc (what lxcfs-style setups bind over), as runc allows.
const PROC_ALLOWED: &[&str] = &[
    "/proc",
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Why the kernel refuses a fresh sysfs: only a user namespace owning the network namespace
/// may mount one (runc fails the same way; binding the runtime's /sys instead would show
/// another namespace's devices).
const SYSFS_EPERM: &str = "only a user namespace owning the container's network namespace \
     may mount sysfs: join a network namespace the container's user namespace owns, or share \
     the runtime's";

/// Validates one mount entry without touching anything.
pub(crate) fn plan(m: &Mount, own_net_namespace: bool) -> Result<Plan> {
    let destination = m.destination().clone();
    let invalid = |why| Error::InvalidMount {
        destination: destination.clone(),
        why,
    };
    let empty = Vec::new();
    let options = MountOptions::parse(&destination, m.options().as_ref().unwrap_or(&empty))?;
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(Error::Unsupported {
            destination,
            what: "an idmapped mount",
        });
    }
    if !destination
        .components()
        .any(|c| matches!(c, Component::Normal(_)))
    {
        return Err(invalid("cannot mount over the container's root"));
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let kind = if options.is_bind() || typ == "bind" {
        let source = m
            .source()
            .clone()
            .ok_or_else(|| invalid("a bind mount needs a source"))?;
        Kind::Bind {
            source,
            recursive: options.is_recursive_bind(),
        }
    } else if typ == "sysfs" && !own_net_namespace {
        Kind::HostTree {
            fstype: "sysfs",
            source: "/sys",
        }
    } else if typ == "cgroup" {
        Kind::HostTree {
            fstype: "cgroup",
            source: "/sys/fs/cgroup",
        }
    } else if typ.is_empty() || typ == "none" {
        return Err(invalid("no filesystem type and no bind option"));
    } else {
        let source = match m.source() {
            Some(s) => s.to_string_lossy().into_owned(),
            None => typ.to_owned(),
        };
        Kind::Fresh {
            fstype: typ.to_owned(),
            source,
        }
    };
    Ok(Plan {
        destination,
        options,
        kind,
    })
}

impl Plan {
    /// How the mount is named in messages: the fs type, or the bind source.
    fn what(&self) -> String {
        match &self.kind {
            Kind::Bind { source, .. } => source.display().to_string(),
            Kind::HostTree { fstype, source } => format!("{fstype} (a bind of the host {source})"),
            Kind::Fresh { fstype, .. } => fstype.clone(),
        }
    }

    /// True if this mount puts something other than a tmpfs on /dev from the host, in
    /// which case the runtime does not create devices (runc's rule).
    pub(crate) fn binds_dev(&self) -> bool {
        matches!(self.kind, Kind::Bind { .. }) && clean(&self.destination) == Path::new("/dev")
    }
}

/// `path` made absolute with `.` dropped (`..` kept: only the kernel resolves those).
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    out
}

/// Mounts one planned entry.
pub(crate) fn mount(ctx: &Ctx<'_>, plan: &Plan) -> Result<()> {
    let failed = |errno: Errno, detail: String| Error::Mount {
        what: plan.what(),
        destination: plan.destination.clone(),
        rootfs: ctx.rootfs.to_path_buf(),
        source: errno.into(),
        detail,
    };
    let fail = |errno: Errno, log: &str| failed(errno, detail(errno, log));
    let o = &plan.options;
    let attrs = Attrs::from_flags(o.flags, o.clear);
    let recursive_attrs = Attrs::from_flags(o.recursive_flags, o.recursive_clear);

    let (mnt, target) = match &plan.kind {
        Kind::Bind { source, recursive } => {
            let mnt = mount_api::clone_path(source, *recursive).map_err(|e| fail(e, ""))?;
            let target = bind_target(ctx, plan, &mnt).map_err(|e| fail(e, ""))?;
            mount_api::set_attrs(mnt.as_fd(), attrs, false).map_err(|e| fail(e, ""))?;
            (mnt, target)
        }
        Kind::HostTree { fstype, .. }
            if *fstype == "cgroup" && !ctx.cgroup_dirs.is_empty() && !host_is_v2() =>
        {
            let target = target(ctx, plan, FileKind::Directory).map_err(|e| fail(e, ""))?;
            check_proc(ctx, plan, &target)?;
            return crate::cgroup_mount::mount(target.as_fd(), ctx.cgroup_dirs, attrs)
                .map_err(|e| fail(e, ""));
        }
        Kind::HostTree { fstype, source } => {
            let fresh = if *fstype == "cgroup" {
                fresh_cgroup2(o, attrs)
            } else {
                None
            };
            let mnt = match fresh {
                Some(mnt) => mnt,
                None => {
                    let mnt =
                        mount_api::clone_path(Path::new(source), true).map_err(|e| fail(e, ""))?;
                    mount_api::set_attrs(mnt.as_fd(), attrs, true).map_err(|e| fail(e, ""))?;
                    mnt
                }
            };
            let target = bind_target(ctx, plan, &mnt).map_err(|e| fail(e, ""))?;
            (mnt, target)
        }
        Kind::Fresh { fstype, source } => {
            let target = target(ctx, plan, FileKind::Directory).map_err(|e| fail(e, ""))?;
            let sb = mount_api::sb_flags(o.flags, o.clear);
            // tmpcopyup fills the tmpfs before it is attached, so it is written first and
            // made read-only (if asked) after. Other filesystems ignore it, as with runc.
            let copy_up = o.copy_up && fstype == "tmpfs";
            let first = if copy_up {
                attrs.set & !libc::MOUNT_ATTR_RDONLY
            } else {
                attrs.set
            };
            let mnt = mount_api::new_fs(fstype, source, &o.data, &sb, first).map_err(|e| {
                if fstype == "sysfs" && e.errno == Errno::EPERM && e.log.is_empty() {
                    failed(e.errno, format!(" ({SYSFS_EPERM})"))
                } else {
                    fail(e.errno, &e.log)
                }
            })?;
            if copy_up {
                let keep_mode = o.data.iter().any(|d| d.starts_with("mode="));
                crate::copyup::copy_up(target.as_fd(), mnt.as_fd(), keep_mode).map_err(
                    |(errno, path)| Error::Mount {
                        what: plan.what(),
                        destination: plan.destination.clone(),
                        rootfs: ctx.rootfs.to_path_buf(),
                        source: errno.into(),
                        detail: format!(" (tmpcopyup of {})", path.display()),
                    },
                )?;
                if first != attrs.set {
                    mount_api::set_attrs(mnt.as_fd(), Attrs::RDONLY, false)
                        .map_err(|e| fail(e, ""))?;
                }
            }
            (mnt, target)
        }
    };
    check_proc(ctx, plan, &target)?;
    only_procfs_on_proc(ctx, plan, &mnt)?;
    mount_api::set_attrs(mnt.as_fd(), recursive_attrs, true).map_err(|e| fail(e, ""))?;
    mount_api::attach(mnt.as_fd(), target.as_fd()).map_err(|e| fail(e, ""))?;
    for propagation in &o.propagation {
        mount_api::set_propagation(mnt.as_fd(), *propagation).map_err(|e| fail(e, ""))?;
    }
    verify(plan, &mnt).map_err(|e| fail(e, ""))
}

/// On a cgroup v2 host (/sys/fs/cgroup is cgroup2), a fresh cgroup2 mount, which the
/// container's cgroup namespace scopes; `None` (bind the host's tree instead) on v1 and hybrid
/// hosts, or where the kernel refuses a fresh mount (a user namespace without its own cgroup
/// namespace).
fn fresh_cgroup2(o: &MountOptions, attrs: Attrs) -> Option<OwnedFd> {
    if !host_is_v2() {
        return None;
    }
    let sb = mount_api::sb_flags(o.flags, o.clear);
    mount_api::new_fs("cgroup2", "cgroup", &o.data, &sb, attrs.set).ok()
}

/// Whether the host's /sys/fs/cgroup is a pure cgroup2 mount.
fn host_is_v2() -> bool {
    statfs("/sys/fs/cgroup").is_ok_and(|fs| fs.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// The target of a bind: a directory if the source is one, else a file.
fn bind_target(ctx: &Ctx<'_>, plan: &Plan, mnt: &OwnedFd) -> nix::Result<OwnedFd> {
    let st = fstat(mnt)?;
    let kind = if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits() {
        FileKind::Directory
    } else {
        FileKind::File
    };
    target(ctx, plan, kind)
}

/// The target resolved (and created if missing) inside the root, never outside it.
fn target(ctx: &Ctx<'_>, plan: &Plan, kind: FileKind) -> nix::Result<OwnedFd> {
    let mode = match kind {
        FileKind::Directory => Mode::from_bits_truncate(0o755),
        FileKind::File => Mode::from_bits_truncate(0o644),
    };
    create(ctx.root, &plan.destination, kind, mode)
}

/// Nothing but the usual lxcfs-style files may be mounted over inside a procfs.
fn check_proc(ctx: &Ctx<'_>, plan: &Plan, target: &OwnedFd) -> Result<()> {
    let on_proc = fstatfs(target).map_err(|e| inspect_failed(ctx, plan, e))?;
    let dest = clean(&plan.destination);
    if on_proc.filesystem_type() == PROC_SUPER_MAGIC
        && !PROC_ALLOWED.iter().any(|p| Path::new(p) == dest)
    {
        return Err(Error::InvalidMount {
            destination: plan.destination.clone(),
            why: "it is inside /proc, where only cpuinfo, meminfo, stat, uptime and similar files may be mounted over",
        });
    }
    Ok(())
}

/// An fstatfs of a mount or its target failed.
fn inspect_failed(ctx: &Ctx<'_>, plan: &Plan, e: Errno) -> Error {
    Error::Mount {
        what: plan.what(),
        destination: plan.destination.clone(),
        rootfs: ctx.rootfs.to_path_buf(),
        source: e.into(),
        detail: String::new(),
    }
}

/// Only a procfs may be mounted on /proc itself (a fresh one, or a bind of one), as runc
/// requires: what the container reads there must be the kernel's, not a directory faking
/// `self/setgroups` or `self/fd` (CVE-2019-16884 class).
fn only_procfs_on_proc(ctx: &Ctx<'_>, plan: &Plan, mnt: &OwnedFd) -> Result<()> {
    if clean(&plan.destination) != Path::new("/proc") {
        return Ok(());
    }
    let fs = fstatfs(mnt).map_err(|e| inspect_failed(ctx, plan, e))?;
    if fs.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(Error::InvalidMount {
            destination: plan.destination.clone(),
            why: "only a procfs may be mounted on /proc",
        });
    }
    Ok(())
}

/// A fresh proc or sysfs must really be one (the magic the kernel reports for the mount).
fn verify(plan: &Plan, mnt: &OwnedFd) -> nix::Result<()> {
    let expect: FsType = match &plan.kind {
        Kind::Fresh { fstype, .. } if fstype == "proc" => PROC_SUPER_MAGIC,
        Kind::Fresh { fstype, .. } if fstype == "sysfs" => SYSFS_MAGIC,
        _ => return Ok(()),
    };
    if fstatfs(mnt)?.filesystem_type() == expect {
        Ok(())
    } else {
        Err(Errno::EXDEV)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn m(dest: &str, typ: Option<&str>, source: Option<&str>, options: &[&str]) -> Mount {
        let mut b = MountBuilder::default().destination(dest);
        if let Some(t) = typ {
            b = b.typ(t);
        }
        if let Some(s) = source {
            b = b.source(s);
        }
        b.options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    #[test]
    fn default_runc_mounts_plan() {
        for mount in oci_spec::runtime::get_default_mounts() {
            plan(&mount, true).unwrap();
        }
        let sys = plan(&m("/sys", Some("sysfs"), Some("sysfs"), &["ro"]), false).unwrap();
        assert_eq!(
            sys.kind,
            Kind::HostTree {
                fstype: "sysfs",
                source: "/sys"
            }
        );
        let fresh = plan(&m("/sys", Some("sysfs"), Some("sysfs"), &["ro"]), true).unwrap();
        assert!(matches!(fresh.kind, Kind::Fresh { .. }));
        let cg = plan(&m("/sys/fs/cgroup", Some("cgroup"), None, &["ro"]), true).unwrap();
        assert!(matches!(
            cg.kind,
            Kind::HostTree {
                fstype: "cgroup",
                ..
            }
        ));
    }

    #[test]
    fn binds_need_a_source() {
        let b = plan(
            &m("/data", Some("none"), Some("/srv"), &["rbind", "ro"]),
            true,
        )
        .unwrap();
        assert_eq!(
            b.kind,
            Kind::Bind {
                source: "/srv".into(),
                recursive: true
            }
        );
        let b = plan(&m("/data", Some("bind"), Some("/srv"), &[]), true).unwrap();
        assert!(matches!(
            b.kind,
            Kind::Bind {
                recursive: false,
                ..
            }
        ));
        let err = plan(&m("/data", Some("bind"), None, &[]), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mount on /data: a bind mount needs a source"
        );
    }

    #[test]
    fn bad_entries_are_refused_up_front() {
        let err = plan(&m("/", Some("tmpfs"), None, &[]), true).unwrap_err();
        assert!(err.to_string().contains("container's root"), "{err}");
        let err = plan(&m("/x", None, None, &[]), true).unwrap_err();
        assert!(err.to_string().contains("no filesystem type"), "{err}");
        let err = plan(&m("/x", Some("tmpfs"), None, &["sizee"]), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mount on /x: unknown mount option \"sizee\""
        );
    }

    #[test]
    fn dev_bind_is_detected() {
        let p = plan(&m("/dev/", Some("bind"), Some("/dev"), &["rbind"]), true).unwrap();
        assert!(p.binds_dev());
        let p = plan(&m("/dev", Some("tmpfs"), None, &[]), true).unwrap();
        assert!(!p.binds_dev());
    }
}
