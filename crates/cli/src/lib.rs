//! # peapod-cli: the command lines
//!
//! **Owns:** argument parsing, output (tables, JSON, progress) and exit codes for the two
//! binaries: `peapod`, the engine's command line for operators, and `peapod-oci`, a
//! runc-compatible OCI runtime command line for engines (containerd, podman) to drive. Each
//! verb lives in one file under `src/commands/`; the work itself is done by `peapod-engine`
//! and `peapod-runtime`.
//!
//! **Does not own:** any container logic. If a verb grows more than parsing, printing and a
//! call into a library crate, that logic belongs in the library.
//!
//! `peapod-oci` has the runc verbs (see [`oci`]); `peapod` (see [`commands`]) has the image
//! verbs today (`images`, `image inspect|history|prune`, `tag`, `rmi`, `load`, `save`,
//! `import`, `system df`), and the container verbs arrive with the engine.
//!
//! Dependencies of `peapod`'s output, each small and chosen because it does one job as
//! docker does it:
//! - `tabwriter` (BurntSushi; no dependencies): elastic tab stops, the algorithm docker's
//!   tables use (Go's `text/tabwriter`), so columns pad exactly as docker's do.
//! - `gtmpl`: Go's template language (`--format '{{.ID}}\t{{.Size}}'`), the one operators
//!   already write for docker and podman; the only Rust implementation of it, small, passively
//!   maintained, used without features. A hand-written parser would be worse.
//! - `humantime` (already in the tree through `peapod-image`): RFC 3339 times from image
//!   configs. Sizes (`4.26MB`) and ages (`2 hours ago`) are a few lines in
//!   `output::human`: no crate prints docker's exact wording (three significant digits, SI
//!   units without a space; `About an hour ago`).
//! - `indicatif` (no default features): `pull`'s bar per layer on a terminal, the crate
//!   everyone's progress bars come from; plain lines when stderr is not a terminal.
//! - `tokio` (`rt` only): the `current_thread` runtime `login` runs the registry client on
//!   (`pull` gets its own inside `peapod-image`).
//! - `clap_complete` (no default features): `peapod completion bash|zsh|fish`, generated
//!   from the same `clap` definition the parser uses, so the scripts never drift from the
//!   verbs; clap's own companion crate, with no dependency beyond `clap`.
//! - `peapod-cgroup`: `info` names the host's cgroup layout (v1, v2 or hybrid) with the
//!   crate that owns that knowledge, rather than a second reading of mountinfo.

pub mod commands;
pub mod oci;
mod output;
