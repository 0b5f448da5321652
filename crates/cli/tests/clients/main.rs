//! Real clients drive `peapod-oci` (issue 11): Debian's podman, docker and containerd, each
//! started by the test in a private root, with runc as the control where an answer depends
//! on the host. Every test is privileged and leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod containerd;
mod cri;
mod docker;
/// The runtime tests' helpers (root check, fixtures, cgroup paths, output text).
#[path = "../oci/support.rs"]
#[allow(dead_code)]
mod oci_support;
mod podman;
mod support;
