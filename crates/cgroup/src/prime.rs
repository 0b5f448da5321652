//! Priming the kernel's cgroup attach lock ahead of a move.
//!
//! Moving a process into a v1 cgroup takes `cgroup_threadgroup_rwsem` for writing; when no
//! move happened for a while (~20 ms), that write lock first waits for an RCU grace period
//! (12–15 ms on the project's machines: FACTS.md). An engine that is about to move a new
//! container's process can pay that wait on another thread, overlapped with its own work,
//! by making a move of no consequence first: this process into the cgroup it is already in.

/// Moves the calling process into its own current cgroup of the first v1 hierarchy that has
/// a `cgroup.procs` (a move of no consequence), so that a real move soon after (within
/// ~20 ms) finds the attach lock's grace period already passed. Blocks for that grace
/// period: call it from a thread of its own. Does nothing on a pure cgroup v2 host (whose
/// containers are cloned straight into their cgroup). Best effort: errors are ignored.
pub fn prime_attach() {
    let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
        return;
    };
    // v1 lines are `N:controllers:/path`; v2's is `0::/path`.
    let Some((controllers, path)) = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        (!controllers.is_empty() && !controllers.starts_with("name="))
            .then_some((controllers, path))
    }) else {
        return;
    };
    let Some(first) = controllers.split(',').next() else {
        return;
    };
    let procs = std::path::Path::new("/sys/fs/cgroup")
        .join(first)
        .join(path.trim_start_matches('/'))
        .join("cgroup.procs");
    let _ = std::fs::write(procs, std::process::id().to_string());
}
