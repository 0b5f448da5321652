//! # peapod-ns: Linux namespaces
//!
//! **Owns:** the namespace kinds (mount, uts, ipc, pid, net, user, cgroup, time); creating
//! them (`clone3`/`unshare`), joining them (`setns` by path or by fd), persisting them (bind
//! mounting a `/proc/<pid>/ns/<kind>` file so a namespace outlives its processes), and writing
//! user-namespace uid/gid maps (with `setgroups` denied first).
//!
//! **Does not own:** what runs inside a namespace (that is `peapod-runtime`), the rootfs
//! (`peapod-rootfs`), cgroups (`peapod-cgroup`) or network devices (`peapod-net`).
//!
//! Status: the API arrives with the OCI runtime issue; this crate holds no code yet.
