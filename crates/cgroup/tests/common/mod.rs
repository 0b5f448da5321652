//! Helpers shared by the privileged tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // a failed test setup should panic

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use peapod_cgroup::oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder,
};
use peapod_cgroup::{Cgroup, Layout};

pub(crate) fn assert_root() {
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        uid, 0,
        "this privileged test must run as root (cargo xtask test)"
    );
}

/// Our own parent, not shared with other crates' tests (they may be inside theirs while
/// we assert that ours is gone).
pub(crate) const PARENT: &str = "peapod-test-cgroup";

pub(crate) fn test_path(name: &str) -> String {
    format!("/{PARENT}/{name}-{}", std::process::id())
}

/// Kills and removes the cgroup if the test panics before doing so itself.
pub(crate) struct Guard(pub(crate) Cgroup);

impl Drop for Guard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.kill_all(Signal::SIGKILL);
            let _ = self.0.remove();
        }
    }
}

/// Nothing of `cg` is left: no leaf in any hierarchy, no parent it created.
pub(crate) fn assert_gone(cg: &Cgroup) {
    for d in cg.directories().iter().chain(cg.created_parents()) {
        assert!(!d.exists(), "{} was left behind", d.display());
    }
}

/// Where `controller`'s files for `cg` are: its v1 hierarchy, else the unified one.
pub(crate) fn dir_of(layout: &Layout, controller: &str, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if let Some(h) = layout.v1_hierarchies().iter().find(|h| h.has(controller)) {
        return h.mount_point.join(rel);
    }
    layout
        .unified()
        .expect("no hierarchy has this controller")
        .mount_point
        .join(rel)
}

pub(crate) fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_owned()
}

pub(crate) fn is_v1(layout: &Layout, controller: &str) -> bool {
    layout.v1_hierarchies().iter().any(|h| h.has(controller))
}

/// A shell that waits for a line on stdin before running `script`, so that it can be put
/// into the cgroup first.
pub(crate) fn spawn_gated(script: &str) -> Child {
    Command::new("sh")
        .args(["-c", &format!("read go; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn release(child: &mut Child) {
    child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
}

pub(crate) fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < limit,
            "child {} did not exit in {limit:?}",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn output(child: &mut Child) -> (String, String) {
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out, err)
}

pub(crate) fn pids_limit(n: i64) -> LinuxResources {
    LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(n).build().unwrap())
        .build()
        .unwrap()
}

pub(crate) fn dev(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .access("rwm");
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().unwrap()
}

/// Runs a shell in `cg` that reads /dev/null and /dev/zero; returns its stdout.
pub(crate) fn probe_devices(cg: &Cgroup) -> String {
    let mut child = spawn_gated(
        "cat /dev/null && echo null-ok; \
         if head -c1 /dev/zero >/dev/null 2>&1; then echo zero-ok; else echo zero-denied; fi",
    );
    cg.add_process(child.id() as i32).unwrap();
    release(&mut child);
    assert!(wait_timeout(&mut child, Duration::from_secs(10)).success());
    output(&mut child).0
}

/// Device rules: deny all, allow /dev/null; then also /dev/zero (the update replaces the
/// first rules, it does not add to them).
pub(crate) fn check_device_rules(cg: &Cgroup) {
    let only_null = vec![
        dev(false, LinuxDeviceType::A, None, None),
        dev(true, LinuxDeviceType::C, Some(1), Some(3)),
    ];
    cg.apply(
        &LinuxResourcesBuilder::default()
            .devices(only_null.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(probe_devices(cg), "null-ok\nzero-denied\n");
    let mut with_zero = only_null;
    with_zero.push(dev(true, LinuxDeviceType::C, Some(1), Some(5)));
    cg.apply(
        &LinuxResourcesBuilder::default()
            .devices(with_zero)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(probe_devices(cg), "null-ok\nzero-ok\n");
}
