//! `peapod`'s image verbs end to end: the real binary, a private `--root` per test, the
//! test images of `cargo xtask fixtures`, and skopeo as the independent reader.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed test setup should panic

mod bad_image_input;
mod pull;
mod support;
mod verbs;

/// The image tests' registry harness (Debian's docker-registry with TLS and auth).
#[path = "../../../image/tests/support/mod.rs"]
mod registry_support;
