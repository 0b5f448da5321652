//! End-to-end tests of `peapod-oci`: real bundles from the busybox fixture, real namespaces,
//! mounts and cgroups (root), checked from inside by the static checker (crates/checker).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod attacks;
mod bad_input;
mod checkpoint;
mod compat;
mod isolation;
mod lifecycle;
mod mount_options;
mod no_mount_ns;
mod resources;
mod seccomp_exec;
mod security;
mod spec_features;
mod support;
mod sysfs;
mod update_events;
