//! Real clients drive `peapod-oci` (issue 11): Debian's podman (`podman.rs`). The client
//! tests are three binaries (podman, docker, containerd with its CRI plugin) so that each
//! fits the VM guest's time budget per test binary; each test is privileged, starts its
//! client in a private root, and leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

/// The runtime tests' helpers (root check, fixtures, cgroup paths, output text).
#[path = "../oci/support.rs"]
#[allow(dead_code)]
mod oci_support;
mod podman;
mod podman_checkpoint;
/// The client tests' helpers (each binary uses some of them).
#[allow(dead_code)]
mod support;
