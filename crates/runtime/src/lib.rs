//! # peapod-runtime: an OCI runtime library
//!
//! **Owns:** running any valid OCI bundle: the container lifecycle (create, start, state,
//! kill, delete, exec), the init choreography between the runtime and the container's first
//! process, capabilities, seccomp, rlimits, and hooks. It composes `peapod-ns`,
//! `peapod-cgroup` and `peapod-rootfs`; the `peapod-oci` binary is a thin shell over it.
//!
//! **Does not own:** images, networks, pods or any state beyond the runtime's own
//! `state.json` per container (that is `peapod-engine`).
//!
//! Status: the API arrives with the OCI runtime issue; this crate holds no code yet.
