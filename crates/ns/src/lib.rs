//! # peapod-ns: Linux namespaces
//!
//! **Owns:** the namespace kinds (mount, uts, ipc, pid, net, user, cgroup, time); which of a
//! container's namespaces are new and which are joined by path; joining them (`setns`) in a
//! safe order (user first, mount last); persisting a namespace past its processes (bind
//! mounting its `/proc/<pid>/ns/<kind>` file); and writing user-namespace uid/gid maps.
//!
//! **Does not own:** creating processes in new namespaces (the runtime's `clone`), what runs
//! inside them (`peapod-runtime`), the rootfs (`peapod-rootfs`), cgroups (`peapod-cgroup`) or
//! network devices (`peapod-net`).
//!
//! ```no_run
//! use peapod_ns::{NamespaceKind, Namespaces};
//! use peapod_ns::oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = vec![
//!     LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Pid).build()?,
//!     LinuxNamespaceBuilder::default()
//!         .typ(LinuxNamespaceType::Network)
//!         .path("/run/peapod/pods/web/ns/net")
//!         .build()?,
//! ];
//! let namespaces = Namespaces::from_oci(&config)?;
//! assert!(namespaces.is_new(NamespaceKind::Pid));
//! // Open the joined ones early, while their paths are reachable...
//! let joined = namespaces.open_joined()?;
//! // ...and enter them later, in a child process, in a safe order.
//! joined.enter()?;
//! # Ok(())
//! # }
//! ```

mod error;
mod idmap;
mod kind;
mod namespaces;
mod persist;
mod spawn;
mod sys;

pub use error::{Error, Result};
pub use idmap::{IdMap, write_id_maps};
pub use kind::NamespaceKind;
pub use namespaces::{JoinedNamespaces, Namespaces, unshare_namespaces};
pub use oci_spec;
pub use persist::{is_pinned, pin, unpin};
pub use spawn::{Forked, clone_process, clone_process_into, fork, fork_sibling};
