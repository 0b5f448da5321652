//! Regression tests for the attacks in ANCHORS.md §4 that concern the rootfs: symlinked
//! mount targets (CVE-2021-30465), a swapped /dev/null under masked paths (CVE-2025-31133,
//! CVE-2025-52565), a rootfs `dev` symlinked to the host (CVE-2026-47766 style) and a fake
//! /proc under sysctl writes (CVE-2019-16884 style). Run for real in child namespaces.

mod common;

use std::collections::HashMap;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::*;
use peapod_rootfs::oci_spec::runtime::LinuxDeviceType;
use peapod_rootfs::{Error, force_openat2_fallback, prepare, write_sysctls};

/// The mount point (as the child sees it before pivot) of the topmost mount of `fstype`.
fn mount_point_of(fstype: &str) -> Vec<String> {
    mountinfo()
        .into_iter()
        .filter(|m| m.fstype == fstype)
        .map(|m| m.mount_point)
        .collect()
}

/// A rootfs whose /proc is a symlink `target`: proc must land on <rootfs>/etc.
#[allow(clippy::unwrap_used)] // test helper: failing loudly is the point
fn proc_symlink_lands_inside(dir: &Path) {
    let rootfs = dir.join("rootfs");
    let mounts = [proc_mount()];
    let before = mount_point_of("proc");
    let _prepared = prepare(&spec(&rootfs, &mounts)).unwrap();
    let after = mount_point_of("proc");
    let inside = rootfs.join("etc").display().to_string();
    assert!(after.contains(&inside), "proc not at {inside}: {after:?}");
    assert!(
        !after.contains(&"/etc".to_string()),
        "proc mounted on the host's /etc"
    );
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert!(rootfs.join("etc/self").exists());
    assert!(!Path::new("/etc/self").exists());
}

#[allow(clippy::unwrap_used)] // test helper
fn proc_symlink_setup(target: &'static str) -> impl FnOnce(&Path) {
    move |dir: &Path| {
        let rootfs = make_rootfs(dir);
        std::fs::remove_dir(rootfs.join("proc")).unwrap();
        symlink(target, rootfs.join("proc")).unwrap();
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn proc_symlink_absolute_escape_mounts_inside_the_rootfs() {
    run(
        "proc_symlink_absolute_escape_mounts_inside_the_rootfs",
        &[],
        proc_symlink_setup("/../../../../../../etc"),
        proc_symlink_lands_inside,
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn proc_symlink_relative_escape_mounts_inside_the_rootfs() {
    run(
        "proc_symlink_relative_escape_mounts_inside_the_rootfs",
        &[],
        proc_symlink_setup("../../../../../../../../etc"),
        proc_symlink_lands_inside,
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn proc_symlink_escape_is_contained_by_the_openat2_fallback_too() {
    run(
        "proc_symlink_escape_is_contained_by_the_openat2_fallback_too",
        &[],
        proc_symlink_setup("/../../../../../../etc"),
        |dir| {
            force_openat2_fallback(true);
            proc_symlink_lands_inside(dir);
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn bind_destination_symlink_resolves_inside_the_rootfs() {
    run(
        "bind_destination_symlink_resolves_inside_the_rootfs",
        &[],
        |dir| {
            let rootfs = make_rootfs(dir);
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data/marker"), "bound").unwrap();
            symlink("/../../../../../etc", rootfs.join("mnt/abs")).unwrap();
            symlink("../../../../../../../tmp", rootfs.join("mnt/rel")).unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let data = dir.join("data");
            let mounts = [
                mount("/mnt/abs", "bind", data.to_str(), &["bind"]),
                mount("/mnt/rel", "bind", data.to_str(), &["bind", "ro"]),
            ];
            let host_mounts = || ["/etc", "/tmp"].map(|p| mount_at(p).map(|m| m.fstype));
            let before = host_mounts();
            let _prepared = prepare(&spec(&rootfs, &mounts)).unwrap();
            assert_eq!(
                std::fs::read_to_string(rootfs.join("etc/marker")).unwrap(),
                "bound"
            );
            assert_eq!(
                std::fs::read_to_string(rootfs.join("tmp/marker")).unwrap(),
                "bound"
            );
            assert_eq!(
                host_mounts(),
                before,
                "a bind escaped onto the host's /etc or /tmp"
            );
            assert!(!Path::new("/etc/marker").exists());
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn bind_destination_dangling_escape_is_refused() {
    let tmp = run(
        "bind_destination_dangling_escape_is_refused",
        &[],
        |dir| {
            let rootfs = make_rootfs(dir);
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::create_dir_all(dir.join("host-target")).unwrap();
            // An absolute host path that exists on the host but not inside the rootfs.
            symlink(dir.join("host-target"), rootfs.join("mnt/escape")).unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let data = dir.join("data");
            let mounts = [mount("/mnt/escape", "bind", data.to_str(), &["bind"])];
            let err = prepare(&spec(&rootfs, &mounts)).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "cannot mount {} on /mnt/escape in {}: ",
                    data.display(),
                    rootfs.display()
                )),
                "{msg}"
            );
            let host = dir.join("host-target").display().to_string();
            assert!(mount_at(&host).is_none(), "mounted on the host path");
        },
    );
    if let Some(tmp) = tmp {
        assert_eq!(
            std::fs::read_dir(tmp.path().join("host-target"))
                .unwrap()
                .count(),
            0
        );
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_swapped_dev_null_cannot_redirect_the_mask() {
    run(
        "a_swapped_dev_null_cannot_redirect_the_mask",
        &[],
        |dir| {
            let rootfs = make_rootfs(dir);
            std::fs::write(rootfs.join("etc/writable"), "attacker-controlled").unwrap();
            std::fs::write(rootfs.join("etc/shadow"), "hashes").unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [proc_mount()];
            let masked = ["/etc/shadow".to_string()];
            let mut s = spec(&rootfs, &mounts);
            s.masked_paths = &masked;
            let prepared = prepare(&s).unwrap();
            // A hook (or a racing container process) swaps the rootfs's /dev/null.
            std::fs::remove_file(rootfs.join("dev/null")).unwrap();
            symlink("/etc/writable", rootfs.join("dev/null")).unwrap();
            prepared.enter(false).unwrap().finish().unwrap();

            assert_eq!(std::fs::read_to_string("/etc/shadow").unwrap(), "");
            let (kind, major, minor, ..) = node("/etc/shadow");
            assert_eq!((kind, major, minor), (libc::S_IFCHR, 1, 3));
            std::fs::write("/etc/shadow", "discarded").unwrap();
            assert_eq!(
                std::fs::read_to_string("/etc/writable").unwrap(),
                "attacker-controlled"
            );
            let m = mount_at("/etc/shadow").unwrap();
            assert_eq!(m.root, "/null", "{m:?}");
        },
    );
}

fn probe_name() -> String {
    format!("peapod-probe-{}", std::process::id())
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_dev_symlink_to_the_host_creates_nothing_on_the_host() {
    // The parent picks the name and passes it through the directory.
    let name = probe_name();
    let tmp = run(
        "a_dev_symlink_to_the_host_creates_nothing_on_the_host",
        &[],
        |dir| {
            let rootfs = make_rootfs(dir);
            std::fs::remove_dir(rootfs.join("dev")).unwrap();
            symlink("/dev", rootfs.join("dev")).unwrap();
            std::fs::write(dir.join("probe"), &name).unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let probe = std::fs::read_to_string(dir.join("probe")).unwrap();
            let devices = [device(&format!("/dev/{probe}"), LinuxDeviceType::C, 1, 3)];
            let mut s = spec(&rootfs, &[]);
            s.devices = &devices;
            let err = prepare(&s).unwrap_err();
            assert!(matches!(err, Error::Device { .. }), "{err}");
            assert_eq!(err.errno(), Some(nix::errno::Errno::ELOOP), "{err}");
            assert!(err.to_string().contains("too many symbolic links"), "{err}");
            assert!(!Path::new("/dev").join(&probe).exists());
        },
    );
    if tmp.is_some() {
        assert!(
            !Path::new("/dev").join(&name).exists(),
            "a node was created on the host"
        );
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_dev_symlink_escaping_the_rootfs_is_followed_inside_it() {
    let tmp = run(
        "a_dev_symlink_escaping_the_rootfs_is_followed_inside_it",
        &[],
        |dir| {
            let rootfs = make_rootfs(dir);
            // <dir>/hostdev exists on the host and, by the same path, inside the rootfs.
            let host_dev = dir.join("hostdev");
            std::fs::create_dir_all(&host_dev).unwrap();
            let inside = rootfs.join(host_dev.strip_prefix("/").unwrap());
            std::fs::create_dir_all(inside).unwrap();
            std::fs::remove_dir(rootfs.join("dev")).unwrap();
            symlink(
                Path::new("../../../../../../../..").join(host_dev.strip_prefix("/").unwrap()),
                rootfs.join("dev"),
            )
            .unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mut s = spec(&rootfs, &[]);
            let devices = [device("/dev/peapod-probe", LinuxDeviceType::C, 1, 3)];
            s.devices = &devices;
            let _prepared = prepare(&s).unwrap();
            let inside = rootfs.join(dir.join("hostdev").strip_prefix("/").unwrap());
            let (kind, major, minor, ..) = node(inside.join("null").to_str().unwrap());
            assert_eq!((kind, major, minor), (libc::S_IFCHR, 1, 3));
            assert!(inside.join("peapod-probe").exists());
        },
    );
    if let Some(tmp) = tmp {
        let host_dev = tmp.path().join("hostdev");
        assert_eq!(
            std::fs::read_dir(host_dev).unwrap().count(),
            0,
            "nodes made on the host"
        );
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn sysctls_refuse_a_fake_proc() {
    run(
        "sysctls_refuse_a_fake_proc",
        &["--net"],
        |dir| {
            make_rootfs(dir);
            for root in ["fakeproc", "rootfs/proc"] {
                let fake = dir.join(root).join("sys/net/ipv4");
                std::fs::create_dir_all(&fake).unwrap();
                std::fs::write(fake.join("ip_forward"), "0\n").unwrap();
            }
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            // A bind of a directory over /proc is refused outright.
            let fake = dir.join("fakeproc");
            let mounts = [mount("/proc", "bind", fake.to_str(), &["rbind"])];
            let err = prepare(&spec(&rootfs, &mounts)).unwrap_err();
            assert!(
                err.to_string()
                    .ends_with("only a procfs may be mounted on /proc"),
                "{err}"
            );
            // With no procfs mounted, the image's own /proc is no procfs either.
            let entered = prepare(&spec(&rootfs, &[])).unwrap().enter(false).unwrap();
            let map = HashMap::from([("net.ipv4.ip_forward".to_string(), "1".to_string())]);
            let err = write_sysctls(&map).unwrap_err();
            assert_eq!(
                err.to_string(),
                "refusing to use /proc/sys: it is not procfs"
            );
            assert_eq!(
                std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
                "0\n"
            );
            entered.finish().unwrap();
        },
    );
}
