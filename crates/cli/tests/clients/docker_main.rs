//! Real clients drive `peapod-oci` (issue 11): Debian's docker.io, a private dockerd with
//! `--add-runtime` (`docker.rs`). See `podman_main.rs` for how the client tests are laid out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod docker;
/// The runtime tests' helpers (root check, fixtures, cgroup paths, output text).
#[path = "../oci/support.rs"]
#[allow(dead_code)]
mod oci_support;
/// The client tests' helpers (each binary uses some of them).
#[allow(dead_code)]
mod support;
