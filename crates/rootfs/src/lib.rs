//! # peapod-rootfs: container root filesystems
//!
//! **Owns:** the container's root filesystem as the runtime's init process sets it up, inside
//! its new mount namespace and before exec: the OCI `mounts` (bind, proc, sysfs, tmpfs,
//! devpts, mqueue, cgroup…) and their propagation; the default and configured device nodes
//! and the /dev symlinks; `pivot_root` (or `--no-pivot`); masked and read-only paths and the
//! read-only root; `linux.sysctl`; overlay assembly; and safe path resolution inside a root
//! ([`open_in_root`], [`create_in_root`]).
//!
//! **Does not own:** unpacking image layers (`peapod-image`), namespaces and id maps
//! (`peapod-ns`), cgroups (`peapod-cgroup`), hooks, capabilities and the order in which a
//! container is brought up (`peapod-runtime`).
//!
//! ## How it defends the host
//! - Every target inside the rootfs is resolved to an fd with `openat2(RESOLVE_IN_ROOT |
//!   RESOLVE_NO_MAGICLINKS)` (or an equivalent walk on old kernels) and mounted by fd with the
//!   new mount API (`open_tree`/`fsmount` + `move_mount`): a symlink in the rootfs is followed
//!   *inside* the rootfs and cannot be swapped in between check and mount (CVE-2021-30465).
//!   Device parents are resolved the same way (a `dev` symlink to the host's /dev creates
//!   nothing on the host).
//! - `/` is made rslave first, so nothing mounted for the container reaches the host.
//! - Masked files get the host's /dev/null, checked to be char 1:3 and held as an fd from
//!   the start (runc CVE-2025-31133 / -52565).
//! - sysctls are written only through fds on a verified procfs, with keys that cannot leave
//!   /proc/sys; a fresh proc or sysfs mount is checked to be one.
//! - A container with a network namespace of its own (new or joined) gets a fresh sysfs,
//!   which lists that namespace's devices: never the host's /sys, whose interfaces would
//!   leak in ([`RootfsSpec::own_net_namespace`]).
//! - Every open passes `O_CLOEXEC`.
//!
//! Needs Linux 5.12 (mount_setattr); openat2 (5.6) is used when present.
//!
//! ## Order of calls
//! Without a mount namespace, [`bind_shared_root`] (the runtime), [`prepare_shared`] (init),
//! [`Prepared::chroot`], [`Entered::finish`], and at delete [`release_shared_root`].
//! Otherwise [`prepare`], then the createContainer hooks, then [`Prepared::enter`], then
//! [`write_sysctls`], then [`Entered::finish`], then exec.
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::path::Path;
//! use peapod_rootfs::{RootfsSpec, prepare, write_sysctls};
//!
//! let mounts = peapod_rootfs::oci_spec::runtime::get_default_mounts();
//! let masked = vec!["/proc/kcore".to_string()];
//! let readonly = vec!["/proc/sys".to_string()];
//! let spec = RootfsSpec {
//!     rootfs: Path::new("/run/peapod/c1/rootfs"),
//!     readonly: false,
//!     propagation: None,
//!     mounts: &mounts,
//!     devices: &[],
//!     masked_paths: &masked,
//!     readonly_paths: &readonly,
//!     in_user_namespace: false,
//!     own_net_namespace: true,
//!     cgroup_dirs: &[],
//! };
//! // In the container's init, inside its new mount namespace:
//! let prepared = prepare(&spec)?;
//! // ... createContainer hooks run here ...
//! let entered = prepared.enter(false)?;
//! write_sysctls(&HashMap::from([("net.ipv4.ip_forward".into(), "1".into())]))?;
//! entered.finish()?;
//! # Ok::<(), peapod_rootfs::Error>(())
//! ```

pub use oci_spec;

mod cgroup_mount;
mod copyup;
mod devices;
mod error;
mod masked;
mod mount_api;
mod mounts;
mod options;
mod overlay;
mod pivot;
mod safe_open;
mod shared;
mod spec;
mod sys;
mod sysctl;

pub use cgroup_mount::cgroup_binds;
pub use devices::default_devices;
pub use error::{Error, Result, SysError};
pub use mount_api::read_only_bind;
pub use options::{MountOptions, parse_propagation};
pub use overlay::mount_overlay;
#[doc(hidden)]
pub use safe_open::force_openat2_fallback;
pub use safe_open::{FileKind, create_in_root, open_in_root};
pub use shared::{bind_shared_root, prepare_shared, release_shared_root};
pub use spec::{Entered, Prepared, RootfsSpec, prepare};
pub use sysctl::{sysctl_path, write_sysctls};
