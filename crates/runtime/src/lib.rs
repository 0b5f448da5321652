//! # peapod-runtime: an OCI runtime library
//!
//! **Owns:** running any valid OCI bundle: the container lifecycle (create, start, state,
//! kill, delete, pause, resume, exec), the bring-up choreography between the runtime and the
//! container's first process, capabilities, rlimits, the terminal, and hooks. It composes
//! `peapod-ns`, `peapod-cgroup` and `peapod-rootfs`; the `peapod-oci` binary is a thin shell
//! over it, and the engine calls it in-process.
//!
//! **Does not own:** images, networks, pods or any state beyond the runtime's own record per
//! container (that is `peapod-engine`).
//!
//! ## Process model
//! Usually `create` clones *init* straight into its new namespaces (as crun does): on a pure
//! cgroup v2 host into its cgroup too (`clone3(CLONE_INTO_CGROUP)`), elsewhere the runtime
//! moves it into its cgroup while init mounts the rootfs; init then makes its cgroup
//! namespace, rooted in that cgroup. When the container has a user namespace, a pid
//! namespace joined by path or a time namespace (which only a process's *children* enter,
//! or which must be mapped first), `create` forks an *intermediate* process instead, puts it
//! in the cgroup, and the intermediate joins the namespaces given by path, unshares the user
//! namespace (the runtime writes its id maps), then the others, and clones init as the
//! runtime's own child (`CLONE_PARENT`) before exiting. Init runs the hooks due, pivots,
//! drops privileges, reports "created" and blocks on the exec fifo until `start` opens it
//! (with [`Container::create_and_start`], as `run`, it goes straight on), then execs the
//! container's program through a sealed trampoline (see [`exec_trampoline_available`] for
//! why). The runtime must be single-threaded when it calls `create`.
//!
//! ```no_run
//! use peapod_runtime::{Container, CreateOptions, parse_signal};
//!
//! # fn main() -> Result<(), peapod_runtime::Error> {
//! let opts = CreateOptions {
//!     root: "/run/peapod-oci".into(),
//!     bundle: "/srv/bundles/web".into(),
//!     ..CreateOptions::default()
//! };
//! let container = Container::create("web", &opts)?;
//! container.start()?;
//! container.kill(parse_signal("TERM")?, false)?;
//! let code = container.wait()?;
//! container.delete(false)?;
//! println!("exited with {code}");
//! # Ok(())
//! # }
//! ```

mod channel;
mod claim;
mod config;
mod console;
mod container;
mod create;
mod criu;
mod devices;
mod error;
mod exe_guard;
mod exec;
mod hooks;
mod init;
mod intermediate;
mod loopback;
mod proc;
mod procfs;
mod restore;
mod seccomp;
mod security;
mod state;
mod trampoline;
mod update;

pub use config::{Bundle, parse_process};
pub use container::{Container, CreateOptions, StateReport, parse_signal, wait_for};
pub use criu::{CheckpointOptions, CriuOptions, RestoreOptions};
pub use error::{Error, Result};
pub use exe_guard::{exe_is_protected, reexec_read_only};
pub use exec::ExecOptions;
pub use oci_spec;
pub use proc::start_time as process_start_time;
pub use state::Status;
pub use trampoline::available as exec_trampoline_available;
pub use update::Stats;
