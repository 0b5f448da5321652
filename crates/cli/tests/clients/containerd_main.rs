//! Real clients drive `peapod-oci` (issue 11): Debian's containerd, through `ctr run
//! --runc-binary` (`containerd.rs`) and through its CRI plugin, as a kubelet drives a node
//! (`cri.rs`). See `podman_main.rs` for how the client tests are laid out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod containerd;
mod containerd_checkpoint;
mod cri;
mod cri_client;
/// The runtime tests' helpers (root check, fixtures, cgroup paths, output text).
#[path = "../oci/support.rs"]
#[allow(dead_code)]
mod oci_support;
/// The client tests' helpers (each binary uses some of them).
#[allow(dead_code)]
mod support;
