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
//! Status: the API arrives with the image issue; this crate holds no code yet.
