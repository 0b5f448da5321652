//! Shared helpers for the privileged tests. Each test re-executes this test binary, filtered
//! to itself, under `unshare --propagation private --mount --fork --pid --mount-proc`, so
//! every mount and pivot happens in a throwaway child process and namespace, never in the
//! harness. The parent then checks that the host kept nothing: no mount under the test's
//! temporary directory.

// Test helpers: a failed step should fail the test loudly, so unwrap is the point here.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use peapod_rootfs::RootfsSpec;
use peapod_rootfs::oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, MountBuilder};

/// Set (to the test's name) in the child.
pub const CHILD: &str = "PEAPOD_ROOTFS_CHILD";
/// The test's temporary directory, passed to the child.
pub const DIR: &str = "PEAPOD_ROOTFS_DIR";

/// Fails (never skips) unless root.
pub fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test must run as root (cargo xtask test)"
    );
}

/// Runs test `name`. In the parent: makes a temporary directory, lets `setup` fill it,
/// runs the child in fresh namespaces (plus `unshare_extra`, e.g. `--net`), asserts that
/// it passed and that no mount under the directory is left on the host, and returns the
/// directory for further host-side checks. In the child: runs `body` with the directory
/// and returns `None`.
pub fn run(
    name: &str,
    unshare_extra: &[&str],
    setup: impl FnOnce(&Path),
    body: impl FnOnce(&Path),
) -> Option<tempfile::TempDir> {
    run_in(name, unshare_extra, false, setup, body)
}

/// Like [`run`], but the child's mount namespace is a peer of an intermediate one whose
/// mounts are all shared (as on a systemd host), so that anything that propagated out of the
/// child would show as `shared:` in its mountinfo, and a slave shows `master:`.
pub fn run_shared_host(
    name: &str,
    unshare_extra: &[&str],
    setup: impl FnOnce(&Path),
    body: impl FnOnce(&Path),
) -> Option<tempfile::TempDir> {
    run_in(name, unshare_extra, true, setup, body)
}

fn run_in(
    name: &str,
    unshare_extra: &[&str],
    shared_host: bool,
    setup: impl FnOnce(&Path),
    body: impl FnOnce(&Path),
) -> Option<tempfile::TempDir> {
    assert_root();
    if std::env::var(CHILD).as_deref() == Ok(name) {
        let dir = PathBuf::from(std::env::var(DIR).expect("the parent passes the directory"));
        body(&dir);
        return None;
    }
    let tmp = tempfile::Builder::new()
        .prefix("peapod-rootfs-test-")
        .tempdir()
        .unwrap();
    setup(tmp.path());
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("unshare");
    if shared_host {
        // An intermediate namespace, all shared, kept alive by the forking unshare.
        cmd.args([
            "--mount",
            "--propagation",
            "shared",
            "--fork",
            "--",
            "unshare",
        ])
        .args(["--propagation", "unchanged"]);
    } else {
        cmd.args(["--propagation", "private"]);
    }
    let out = cmd
        .args(["--mount", "--fork", "--pid", "--mount-proc"])
        .args(unshare_extra)
        .arg("--")
        .arg(&exe)
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, name)
        .env(DIR, tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child for {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let leaked: Vec<MountInfo> = mountinfo()
        .into_iter()
        .filter(|m| m.mount_point.starts_with(tmp.path().to_str().unwrap()))
        .collect();
    assert!(leaked.is_empty(), "mounts leaked to the host: {leaked:#?}");
    Some(tmp)
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub root: String,
    pub mount_point: String,
    pub options: String,
    pub optional: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

impl MountInfo {
    pub fn has_option(&self, o: &str) -> bool {
        self.options.split(',').any(|x| x == o)
    }
    pub fn has_super_option(&self, o: &str) -> bool {
        self.super_options.split(',').any(|x| x == o)
    }
}

pub fn mountinfo() -> Vec<MountInfo> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .map(|line| {
            let (left, right) = line.split_once(" - ").unwrap();
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            MountInfo {
                root: unescape(l[3]),
                mount_point: unescape(l[4]),
                options: l[5].to_string(),
                optional: l[6..].join(" "),
                fstype: r[0].to_string(),
                source: r.get(1).unwrap_or(&"").to_string(),
                super_options: r.get(2).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The topmost mount at `mount_point`.
pub fn mount_at(mount_point: &str) -> Option<MountInfo> {
    mountinfo()
        .into_iter()
        .rev()
        .find(|m| m.mount_point == mount_point)
}

/// `<dir>/rootfs` with bin, proc, sys, dev, etc, tmp and mnt, and /etc/hostname.
pub fn make_rootfs(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "mnt"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::write(rootfs.join("etc/hostname"), "peapod-test\n").unwrap();
    rootfs
}

/// Copies the host's static busybox into the rootfs as /bin/busybox, with /bin/sh.
pub fn add_busybox(rootfs: &Path) {
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    symlink("busybox", rootfs.join("bin/sh")).unwrap();
}

pub fn mount(dest: &str, typ: &str, source: Option<&str>, options: &[&str]) -> Mount {
    let mut b = MountBuilder::default().destination(dest).typ(typ);
    if let Some(s) = source {
        b = b.source(s);
    }
    b.options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .unwrap()
}

pub fn proc_mount() -> Mount {
    mount(
        "/proc",
        "proc",
        Some("proc"),
        &["nosuid", "noexec", "nodev"],
    )
}

pub fn device(path: &str, typ: LinuxDeviceType, major: i64, minor: i64) -> LinuxDevice {
    let mut d = LinuxDevice::default();
    d.set_path(path.into())
        .set_typ(typ)
        .set_major(major)
        .set_minor(minor);
    d
}

/// A spec with nothing but the rootfs; tests fill in what they need.
pub fn spec<'a>(rootfs: &'a Path, mounts: &'a [Mount]) -> RootfsSpec<'a> {
    RootfsSpec {
        rootfs,
        readonly: false,
        propagation: None,
        mounts,
        devices: &[],
        masked_paths: &[],
        readonly_paths: &[],
        in_user_namespace: false,
        own_net_namespace: false,
        cgroup_dirs: &[],
    }
}

/// (file type bits, major, minor, permission bits, uid, gid) of a path, not following it.
pub fn node(path: &str) -> (u32, u64, u64, u32, u32, u32) {
    let st = nix::sys::stat::lstat(path).unwrap_or_else(|e| panic!("lstat {path}: {e}"));
    (
        st.st_mode & libc::S_IFMT,
        nix::sys::stat::major(st.st_rdev),
        nix::sys::stat::minor(st.st_rdev),
        st.st_mode & 0o7777,
        st.st_uid,
        st.st_gid,
    )
}

/// The errno of a failed write of `path` (None if it succeeded).
pub fn write_errno(path: &str) -> Option<i32> {
    std::fs::write(path, "x")
        .err()
        .map(|e| e.raw_os_error().unwrap_or(0))
}
