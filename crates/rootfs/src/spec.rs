//! The three steps the container's init process takes: [`prepare`] (mounts and devices,
//! before the createContainer hooks), [`Prepared::enter`] (pivot_root) and
//! [`Entered::finish`] (masked and read-only paths, read-only root, shared propagation).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, open};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxDevice, Mount};

use crate::devices;
use crate::error::{Error, Result};
use crate::masked::{self, DevNull};
use crate::mount_api;
use crate::mounts::{self, Ctx, Plan};
use crate::options::{RootPropagation, root_propagation};
use crate::pivot;

/// Everything the rootfs setup needs from config.json, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RootfsSpec<'a> {
    /// The rootfs as an absolute host path (the bundle's `root.path`, resolved).
    pub rootfs: &'a Path,
    /// `root.readonly`.
    pub readonly: bool,
    /// `linux.rootfsPropagation`: shared, slave, private, unbindable or an r-prefixed form.
    pub propagation: Option<&'a str>,
    /// `mounts`, mounted in order. Bind sources must be absolute (or relative to the
    /// caller's working directory): the caller resolves them against the bundle.
    pub mounts: &'a [Mount],
    /// `linux.devices`, created after the default devices they do not override.
    pub devices: &'a [LinuxDevice],
    /// `linux.maskedPaths`.
    pub masked_paths: &'a [String],
    /// `linux.readonlyPaths`.
    pub readonly_paths: &'a [String],
    /// The container has a new user namespace: device nodes are bound from the host
    /// instead of created with mknod.
    pub in_user_namespace: bool,
    /// The container has a network namespace of its own, new or joined by path: sysfs is
    /// mounted fresh, and the kernel tags a sysfs mount with the network namespace of the
    /// process mounting it, so it lists that namespace's devices (the caller has entered
    /// it). False when the container shares the caller's network namespace: the caller's
    /// /sys is bound then, since a user namespace not owning that network namespace cannot
    /// mount sysfs (`sysfs_get_tree` asks `kobj_ns_current_may_mount`).
    pub own_net_namespace: bool,
    /// The container's cgroup directories on the host, one per hierarchy
    /// (`/sys/fs/cgroup/memory/peapod/x`, …). On a v1 or hybrid host a `cgroup` mount shows
    /// exactly these; empty, it binds the host's whole /sys/fs/cgroup tree.
    pub cgroup_dirs: &'a [PathBuf],
}

/// A validated spec: what `prepare` will do, decided before it does anything.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) plans: Vec<Plan>,
    pub(crate) devices: Vec<LinuxDevice>,
    propagation: RootPropagation,
    pub(crate) setup_dev: bool,
}

impl RootfsSpec<'_> {
    /// Checks the whole spec (rootfs path, propagation, every mount's options and type,
    /// every device) without touching the system; [`prepare`] does this first.
    pub fn validate(&self) -> Result<()> {
        self.check().map(drop)
    }

    pub(crate) fn check(&self) -> Result<Checked> {
        if !self.rootfs.is_absolute() {
            return Err(Error::RelativeRootfs(self.rootfs.to_path_buf()));
        }
        let propagation = root_propagation(self.propagation)?;
        let plans = self
            .mounts
            .iter()
            .map(|m| mounts::plan(m, self.own_net_namespace))
            .collect::<Result<Vec<_>>>()?;
        let devices = devices::merged(self.devices);
        for d in &devices {
            devices::validate(d)?;
        }
        let setup_dev = !plans.iter().any(Plan::binds_dev);
        Ok(Checked {
            plans,
            devices,
            propagation,
            setup_dev,
        })
    }
}

/// The rootfs with every mount and device in place, not yet the process's root.
#[derive(Debug)]
pub struct Prepared {
    pub(crate) state: State,
}

/// The rootfs is the process's root; masked and read-only paths are still to be applied.
#[derive(Debug)]
pub struct Entered {
    pub(crate) state: State,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) root: OwnedFd,
    pub(crate) rootfs: PathBuf,
    pub(crate) devnull: Option<DevNull>,
    pub(crate) masked_paths: Vec<String>,
    pub(crate) readonly_paths: Vec<String>,
    pub(crate) readonly: bool,
    pub(crate) late_propagation: Option<MsFlags>,
}

/// Sets up the rootfs: makes `/` rslave (nothing mounted from here on reaches the host),
/// applies a non-shared `rootfsPropagation`, binds the rootfs onto itself, opens
/// the host's /dev/null for masking, mounts every OCI mount in order, then creates the
/// devices and /dev symlinks (unless /dev is a bind mount). Must run in the container's new
/// mount namespace, single-threaded (it changes the umask for a moment).
pub fn prepare(spec: &RootfsSpec<'_>) -> Result<Prepared> {
    let checked = spec.check()?;
    let rootfs = spec.rootfs;

    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| Error::Propagate {
        path: "/".into(),
        how: "rslave".into(),
        source: e.into(),
    })?;

    let how = || spec.propagation.unwrap_or_default().to_owned();
    if let Some(flags) = checked.propagation.slash {
        mount(None::<&str>, "/", None::<&str>, flags, None::<&str>).map_err(|e| {
            Error::Propagate {
                path: "/".into(),
                how: how(),
                source: e.into(),
            }
        })?;
    }
    let root = bind_rootfs(rootfs)?;
    if let Some(flags) = checked.propagation.rootfs {
        mount_api::set_propagation(root.as_fd(), flags).map_err(|e| Error::Propagate {
            path: rootfs.to_path_buf(),
            how: how(),
            source: e.into(),
        })?;
    }

    let devnull = if spec.masked_paths.is_empty() {
        None
    } else {
        Some(DevNull::open()?)
    };

    populate(spec, &checked, root.as_fd())?;
    Ok(Prepared {
        state: State {
            root,
            rootfs: rootfs.to_path_buf(),
            devnull,
            masked_paths: spec.masked_paths.to_vec(),
            readonly_paths: spec.readonly_paths.to_vec(),
            readonly: spec.readonly,
            late_propagation: checked.propagation.late,
        },
    })
}

/// Mounts every OCI mount in order under `root` (the rootfs's root), then creates the
/// devices and /dev symlinks unless /dev is a bind mount.
pub(crate) fn populate(
    spec: &RootfsSpec<'_>,
    checked: &Checked,
    root: BorrowedFd<'_>,
) -> Result<()> {
    let ctx = Ctx {
        root,
        rootfs: spec.rootfs,
        cgroup_dirs: spec.cgroup_dirs,
    };
    for plan in &checked.plans {
        mounts::mount(&ctx, plan)?;
    }
    if checked.setup_dev {
        devices::create_all(&ctx, &checked.devices, spec.in_user_namespace)?;
        devices::create_symlinks(&ctx)?;
    }
    Ok(())
}

/// Binds the rootfs onto itself (recursively), returning an fd of the new mount's root.
pub(crate) fn bind_rootfs(rootfs: &Path) -> Result<OwnedFd> {
    let fail = |e: nix::errno::Errno| Error::Mount {
        what: rootfs.display().to_string(),
        destination: "/".into(),
        rootfs: rootfs.to_path_buf(),
        source: e.into(),
        detail: crate::error::detail(e, ""),
    };
    let mnt = mount_api::clone_path(rootfs, true).map_err(fail)?;
    let target = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail)?;
    mount_api::attach(mnt.as_fd(), target.as_fd()).map_err(fail)?;
    Ok(mnt)
}

impl Prepared {
    /// An fd of the rootfs's root directory (the bind of the rootfs), e.g. for hooks or to
    /// resolve paths with [`crate::open_in_root`].
    pub fn root(&self) -> BorrowedFd<'_> {
        self.state.root.as_fd()
    }

    /// Makes the rootfs the process's root: `pivot_root(".", ".")`, the old root made
    /// rslave and detached, then `chdir("/")`. With `no_pivot`, moves the rootfs onto `/`
    /// and chroots instead (runc's `--no-pivot`).
    pub fn enter(self, no_pivot: bool) -> Result<Entered> {
        let s = &self.state;
        if no_pivot {
            pivot::move_root(s.root.as_fd(), &s.rootfs)?;
        } else {
            pivot::pivot(s.root.as_fd(), &s.rootfs)?;
        }
        Ok(Entered { state: self.state })
    }
}

impl Entered {
    /// An fd of the root directory (now also `/`).
    pub fn root(&self) -> BorrowedFd<'_> {
        self.state.root.as_fd()
    }

    /// Masks paths, makes read-only paths read-only, makes the root read-only if asked,
    /// and last applies a shared `rootfsPropagation`.
    pub fn finish(self) -> Result<()> {
        let mut s = self.state;
        let root = s.root.as_fd();
        masked::mask_paths(root, &s.rootfs, &mut s.devnull, &s.masked_paths)?;
        masked::readonly_paths(root, &s.rootfs, &s.readonly_paths)?;
        if s.readonly {
            masked::readonly_root(root, &s.rootfs)?;
        }
        if let Some(flags) = s.late_propagation {
            mount_api::set_propagation(root, flags).map_err(|e| Error::Propagate {
                path: "/".into(),
                how: if flags.contains(MsFlags::MS_REC) {
                    "rshared".into()
                } else {
                    "shared".into()
                },
                source: e.into(),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDeviceType, MountBuilder};

    fn spec<'a>(mounts: &'a [Mount], devices: &'a [LinuxDevice]) -> RootfsSpec<'a> {
        RootfsSpec {
            rootfs: Path::new("/run/x/rootfs"),
            readonly: false,
            propagation: None,
            mounts,
            devices,
            masked_paths: &[],
            readonly_paths: &[],
            in_user_namespace: false,
            own_net_namespace: true,
            cgroup_dirs: &[],
        }
    }

    #[test]
    fn the_runc_default_spec_validates() {
        let mounts = oci_spec::runtime::get_default_mounts();
        let s = spec(&mounts, &[]);
        let checked = s.check().unwrap();
        assert_eq!(checked.plans.len(), mounts.len());
        assert_eq!(checked.devices.len(), 6);
        assert!(checked.setup_dev);
    }

    #[test]
    fn validation_refuses_bad_input_before_any_syscall() {
        let mut s = spec(&[], &[]);
        s.rootfs = Path::new("rootfs");
        assert!(matches!(s.validate(), Err(Error::RelativeRootfs(_))));

        let mut s = spec(&[], &[]);
        s.propagation = Some("upward");
        assert!(matches!(s.validate(), Err(Error::Propagation(_))));

        let bad = [MountBuilder::default()
            .destination("/data")
            .typ("tmpfs")
            .options(vec!["nosuid".to_string(), "frobnicate".to_string()])
            .build()
            .unwrap()];
        let err = spec(&bad, &[]).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "mount on /data: unknown mount option \"frobnicate\""
        );

        let mut d = LinuxDevice::default();
        d.set_path("/dev/everything".into())
            .set_typ(LinuxDeviceType::A);
        let devices = [d];
        let err = spec(&[], &devices).validate().unwrap_err();
        assert!(
            err.to_string().starts_with("device /dev/everything: "),
            "{err}"
        );
    }

    #[test]
    fn a_dev_bind_turns_device_setup_off() {
        let mounts = [MountBuilder::default()
            .destination("/dev")
            .typ("bind")
            .source("/dev")
            .options(vec!["rbind".to_string()])
            .build()
            .unwrap()];
        assert!(!spec(&mounts, &[]).check().unwrap().setup_dev);
    }
}
