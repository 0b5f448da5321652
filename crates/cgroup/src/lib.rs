//! # peapod-cgroup: control groups
//!
//! **Owns:** a container's cgroup on cgroup v1, v2 and hybrid hosts (v1 controllers plus a
//! cgroup2 mount, as on the machines this project is tested on): detecting the layout,
//! creating the cgroup in every hierarchy, applying OCI `LinuxResources` (memory, cpu,
//! cpuset, pids, blkio/io, hugetlb, network, rdma, unified, and devices — v1 `devices.*`
//! files, or on v2 an eBPF device program), adding processes, listing them, freezing,
//! signalling every member, reading stats, and removing what it created. Nested (pod)
//! cgroups are plain nested paths: create the pod's `/peapod/pod-x` and apply its limits,
//! then each container's `/peapod/pod-x/ctr`.
//!
//! **Does not own:** namespaces (`peapod-ns`), deciding which limits a container gets (the
//! bundle's config, written by `peapod-engine`), the default device allow-list a runtime adds
//! to a config (the caller passes the full rule list), or systemd (there is no systemd
//! driver). It writes cgroup files itself rather than through cgroups-rs, which treats a
//! hybrid host as pure v1 (never joining the unified hierarchy), moves live processes to the
//! root on destroy and pulls in zbus.
//!
//! **Lifecycle the caller follows:** `create` → `apply` (on error: `remove`, so that nothing
//! is left) → `add_process` (or `clone3(CLONE_INTO_CGROUP)` into [`Cgroup::unified_dir`] on a
//! pure v2 host; on hybrid hosts the child must also join the v1 hierarchies, so use
//! `add_process`) → … → `kill_all(SIGKILL)` → `remove` (waits briefly for exiting
//! processes). A later process uses `open` (or [`Cgroup::open_with_created_parents`] to
//! also remove the parents the creator made).
//!
//! ```no_run
//! use peapod_cgroup::{Cgroup, oci_spec::runtime::{LinuxResourcesBuilder, LinuxPidsBuilder}};
//! use nix::sys::signal::Signal;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cg = Cgroup::create("/peapod/abc")?;
//! let resources = LinuxResourcesBuilder::default()
//!     .pids(LinuxPidsBuilder::default().limit(64).build()?)
//!     .build()?;
//! match cg.apply(&resources) {
//!     Ok(ignored) => ignored.iter().for_each(|w| eprintln!("warning: {w}")),
//!     Err(e) => {
//!         cg.remove()?;
//!         return Err(e.into());
//!     }
//! }
//! let child = std::process::Command::new("sleep").arg("60").spawn()?;
//! cg.add_process(child.id() as i32)?;
//! println!("{:?}", cg.stats()?);
//! cg.kill_all(Signal::SIGKILL)?;
//! cg.remove()?;
//! # Ok(())
//! # }
//! ```

mod bpf;
mod cgroup;
mod error;
mod freezer;
mod fsutil;
mod layout;
mod prime;
mod resources;
mod stats;

pub use cgroup::Cgroup;
pub use error::{Error, Result};
pub use layout::{Layout, Unified, V1Hierarchy};
pub use oci_spec;
pub use prime::prime_attach;
pub use resources::Warning;
pub use stats::Stats;
