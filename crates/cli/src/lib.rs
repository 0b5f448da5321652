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
//! `peapod-oci` has the runc verbs (see [`oci`]); `peapod`'s verbs arrive with the engine
//! issues, and today it answers `--help` and `--version` only.

pub mod oci;
