//! # peapod-cgroup: control groups
//!
//! **Owns:** cgroup v1, v2 and hybrid hosts (v1 controllers plus a cgroup2 mount, as on the
//! machines this project is tested on): creating a cgroup, applying OCI `LinuxResources`
//! (memory, cpu, pids, blkio/io, hugetlb, devices), adding a process, reading stats, freezing,
//! killing every member, removing, and nested pod cgroups. cgroups-rs does the file work
//! underneath; none of its types appear in this crate's API.
//!
//! **Does not own:** namespaces (`peapod-ns`), deciding which limits a container gets (the
//! bundle's config, written by `peapod-engine`), or systemd (there is no systemd driver).
//!
//! Status: the API arrives with the OCI runtime issue; this crate holds no code yet.
