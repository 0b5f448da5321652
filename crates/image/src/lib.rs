//! # peapod-image: OCI images
//!
//! **Owns:** the content-addressed blob store, image references (`docker.io/library/busybox:1`),
//! pulling from a registry (OCI distribution), loading and saving OCI and docker archives,
//! unpacking layers with whiteouts (treating every tar entry as untrusted), and reading image
//! configs.
//!
//! **Does not own:** mounting the unpacked layers (`peapod-rootfs`) or turning an image config
//! into a runtime bundle (`peapod-engine`). It depends on no other peapod crate, so another
//! project can use it alone.
//!
//! Modules, one concern each:
//! - [`digest`]: `sha256:` digests, hashing readers and writers, chain ids.
//! - [`reference`](mod@reference): image references parsed and normalised as docker and podman do.
//! - [`registry`]: the OCI distribution client (auth, TLS, manifests, blobs).
//! - [`manifest`]: manifests, indexes and configs parsed with bounds; platform selection.
//! - [`unpack`]: one layer tar (gzip, zstd or plain) into a directory, safely, with OCI
//!   whiteouts turned into overlay whiteouts (or applied, for one flat tree).
//! - [`store`]: blobs by digest, image records and names in SQLite, unpacked layers by chain
//!   id, garbage collection.
//! - [`ingest`]: one streamed pass per layer from any source into the store.
//! - [`layer_writer`]: a directory in unpacked-layer form (an overlay upper directory) into
//!   a reproducible layer tar, committed to the store with that directory as the layer.
//! - [`pull`]: a registry (any [`pull::Source`]; [`registry_source`] is the registry's) into
//!   the store.
//! - [`archive`]: docker-archive and oci-archive load/save, OCI layout directories, import.
//! - [`images`]: [`Images`], the store as operators see it (what `peapod images`, `rmi`,
//!   `tag`, `load`, `save`… call).
//!
//! ## Use it alone: pull an image, unpack it into a directory
//!
//! ```no_run
//! use std::path::Path;
//! use peapod_image::Images;
//! use peapod_image::images::PullOptions;
//! use peapod_image::pull::Quiet;
//!
//! // A store of its own (blobs, unpacked layers, names in SQLite).
//! let images = Images::open(Path::new("/var/lib/myapp/images"))?;
//! let pulled = images.pull("docker.io/library/busybox:latest", &PullOptions::default(), &Quiet)?;
//! // One flat root filesystem, whiteouts applied.
//! images.unpack_into(&pulled.id.to_string(), Path::new("/tmp/busybox-rootfs"))?;
//! # Ok::<(), peapod_image::Error>(())
//! ```
//!
//! `examples/pull_and_unpack.rs` is the same as a program (`cargo run -p peapod-image
//! --example pull_and_unpack -- IMAGE DIR`); the registry tests run exactly these calls.
//!
//! ## Dependencies, and why
//! - `oci-spec` (image types): the published types of the image spec, shared with the
//!   runtime's bundle types, rather than our own copies.
//! - `rusqlite` with SQLite bundled: the engine's one database file (DESIGN.md), the same
//!   SQLite on every host.
//! - `tar` (≥ 0.4.45, synchronous): tar headers and PAX records only; entries are written by
//!   our own dirfd-based code ([`unpack`]), and written by [`layer_writer`].
//!   `flate2`/`zstd`: decompression; `flate2` also compresses built layers (gzip).
//! - `tokio` (`rt`, `sync`), `futures-util`, `bytes`: the async side of a pull, on a
//!   `current_thread` runtime made for the call; unpacking runs on plain threads.
//! - `tempfile`: ingest files and staging directories that vanish if dropped uncommitted.
//! - `humantime`: RFC 3339 timestamps in the configs `import` writes.
//! - `sha2`, `serde`, `serde_json`, `thiserror`, `nix` (flock, syncfs).

pub mod archive;
pub mod digest;
mod error;
pub mod images;
pub mod ingest;
pub mod layer_writer;
pub mod manifest;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod registry_source;
pub mod store;
pub mod unpack;

pub use digest::Digest;
pub use error::{Error, Result};
pub use images::Images;
