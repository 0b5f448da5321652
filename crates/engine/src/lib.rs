//! # peapod-engine: containers, pods, networks and volumes
//!
//! **Owns:** turning images into bundles; the records of containers and volumes (SQLite,
//! WAL, in the same `peapod.db` as the image store); the per-container [`monitor`] process
//! (stdio, logs, exit code, restart policy, healthchecks, cleanup); image builds from a
//! Containerfile ([`build`]); and, with the pod and network issues, pods and networks.
//!
//! **Does not own:** how a bundle becomes a process (`peapod-runtime`, or another OCI
//! runtime), image formats (`peapod-image`) or network plumbing (`peapod-net`).
//!
//! ## Shape
//! An [`Engine`] is opened on a root and a runroot; its nouns are
//! [`Engine::containers`], [`Engine::volumes`] and [`Engine::images`]; verbs are methods
//! taking option structs and returning records. A Rust program runs a container from an
//! image through this API alone:
//!
//! ```no_run
//! use peapod_engine::{Engine, EngineOptions, container::CreateOptions};
//!
//! fn main() -> Result<(), peapod_engine::Error> {
//!     // The monitor is this program re-executed: let it take over when it is one.
//!     peapod_engine::monitor::dispatch();
//!     let engine = Engine::open(&EngineOptions::default())?;
//!     let pulled = engine.images().pull(
//!         "docker.io/library/busybox:latest",
//!         &Default::default(),
//!         &peapod_image::pull::Quiet,
//!     )?;
//!     let mut opts = CreateOptions { image: pulled.id.to_string(), ..Default::default() };
//!     opts.config.cmd = vec!["echo".into(), "hello".into()];
//!     let containers = engine.containers();
//!     let created = containers.create(&opts)?;
//!     containers.start(&created.id, false)?;
//!     let code = containers.wait(&created.id)?;
//!     containers.remove(&created.id, false, true)?;
//!     println!("exited with {code}");
//!     Ok(())
//! }
//! ```
//!
//! ## Process model
//! No daemon: each verb opens the engine, does its work in short database transactions and
//! returns. A started container is watched by its own monitor (see [`monitor`]), which
//! records what happens in the runroot; the engine reconciles the database with it on
//! every read, so a monitor killed or a reboot shows as an `exited` container (code 255)
//! that can be started again or removed.
//!
//! Dependencies: `oci-spec` (the runtime spec), `caps` (capability names), `rusqlite` (the
//! shared database, through `peapod-image`'s opener), `peapod-image` (the store, and its
//! `openat2` unpacker for `cp` into a container), `peapod-ns` (a pod's pinned namespaces),
//! `peapod-runtime` (in-process create,
//! exec, kill), `peapod-cgroup` (stats, OOM kills), `peapod-rootfs` (overlays, safe opens),
//! `nix`/`libc` (the monitor's `poll(2)` loop, ptys, signals, inotify for `logs -f`),
//! `tar` (`cp` streams), `httparse` (the HTTP probes' response head: hyper's parser, no
//! dependencies), `getrandom` (ids), `humantime` (RFC 3339 times and durations:
//! small, no dependencies), `serde_json` (records, config.json), `thiserror`, `glob`
//! (rust-lang's, no dependencies: `.containerignore` patterns and COPY wildcards of
//! [`build`]), `tempfile` (a build's RUN log, cache entries written then renamed). No async
//! runtime: the monitor must stay small and may fork.

pub mod build;
pub mod config;
pub mod container;
pub mod cp;
mod db;
mod engine;
mod error;
pub mod events;
pub mod kube;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod pod;
pub mod rootfs;
pub mod spec;
pub mod stats;
pub mod time;
pub mod top;
pub mod volume;

pub use engine::{Engine, EngineOptions};
pub use error::{Error, Result};
