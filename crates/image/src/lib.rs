//! # peapod-image: OCI images
//!
//! **Owns:** the content-addressed blob store, image references (`docker.io/library/busybox:1`),
//! pulling from a registry (OCI distribution), loading and saving OCI and docker archives,
//! unpacking layers with whiteouts (treating every tar entry as untrusted), and reading image
//! configs.
//!
//! **Does not own:** mounting the unpacked layers (`peapod-rootfs`) or turning an image config
//! into a runtime bundle (`peapod-engine`).
//!
//! Modules, one concern each:
//! - [`digest`]: `sha256:` digests, hashing readers and writers, chain ids.
//! - [`reference`](mod@reference): image references parsed and normalised as docker and podman do.
//! - [`registry`]: the OCI distribution client (auth, TLS, manifests, blobs).
//! - [`unpack`]: one layer tar (gzip, zstd or plain) into a directory, safely, with OCI
//!   whiteouts turned into overlay whiteouts.
//! - [`store`]: blobs by digest, references in SQLite, unpacked layers by chain id.

pub mod digest;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

pub use digest::Digest;
