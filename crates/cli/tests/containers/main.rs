//! `peapod`'s container verbs end to end: the real binary, a private `--root`, `--runroot`
//! and cgroup parent per test, the busybox image of `cargo xtask fixtures`; after each
//! test, nothing is left (no mount, cgroup, monitor, runroot file or row).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed test setup should panic

mod bad_input;
mod debian;
mod fake_host;
mod faults;
mod flags;
mod kube_play;
mod lifecycle;
mod monitor;
mod network;
mod network_config;
mod network_default;
mod network_ports;
mod network_stack;
mod pods;
mod pods_members;
mod pods_net;
mod probes;
mod runtimes;
mod support;
mod tmux;
mod tty;
mod verbs;

/// The image tests' registry harness (Debian's docker-registry with TLS and auth).
#[path = "../../../image/tests/support/mod.rs"]
mod registry_support;
