//! # peapod-rootfs: container root filesystems
//!
//! **Owns:** assembling an overlay from read-only layers plus a writable upper layer; the OCI
//! mounts of a bundle (bind, proc, sysfs, tmpfs, devpts, mqueue, cgroup) and their
//! propagation; `pivot_root`; the default devices; masked and read-only paths; and safe path
//! resolution inside a root (`openat2(RESOLVE_IN_ROOT)`), so that every mount target is an fd
//! and never a joined string.
//!
//! **Does not own:** unpacking image layers (`peapod-image`), namespaces (`peapod-ns`) or the
//! order in which a container is brought up (`peapod-runtime`).
//!
//! Status: the API arrives with the OCI runtime issue; this crate holds no code yet.
