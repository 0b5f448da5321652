//! # peapod-engine: containers, pods, networks and volumes
//!
//! **Owns:** turning images into bundles; the records of containers, pods, networks, IP leases
//! and volumes (SQLite, WAL); the per-container monitor process (stdio, logs, exit code,
//! cleanup, restart policy); and pods, whose namespaces are held by a small infra process.
//!
//! **Does not own:** how a bundle becomes a process (`peapod-runtime`, or another OCI
//! runtime), image formats (`peapod-image`) or network plumbing (`peapod-net`).
//!
//! Status: the API arrives with the engine issues; this crate holds no code yet.
