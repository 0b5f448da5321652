//! # peapod-engine: containers, pods, networks and volumes
//!
//! **Owns:** turning images into bundles; the records of containers, pods, networks, IP leases
//! and volumes (SQLite, WAL); the per-container monitor process (stdio, logs, exit code,
//! cleanup, restart policy); and pods, whose namespaces are held by a small infra process.
//!
//! **Does not own:** how a bundle becomes a process (`peapod-runtime`, or another OCI
//! runtime), image formats (`peapod-image`) or network plumbing (`peapod-net`).
//!
//! Status: [`spec`] (an image config and the operator's flags → `config.json`, with
//! docker's defaults) and [`rootfs`] (the overlay of an image's layers and a container's
//! upper directory) are here; the `Engine` API, the state database and the monitor arrive
//! with the engine issue.
//!
//! Dependencies: `oci-spec` (the runtime spec types), `caps` (capability names),
//! `peapod-rootfs` (overlay mounts, safe opens inside a root), `nix`, `serde_json`,
//! `thiserror`.

pub mod cp;
pub mod rootfs;
pub mod spec;
