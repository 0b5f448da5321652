//! Bad input gets a clear error naming the mount or device, run for real in child
//! namespaces (see `common::run`).

mod common;

use common::*;
use peapod_rootfs::oci_spec::runtime::LinuxDeviceType;
use peapod_rootfs::{Error, prepare};

#[test]
#[ignore = "root: cargo xtask test"]
fn a_missing_bind_source_names_the_mount() {
    run(
        "a_missing_bind_source_names_the_mount",
        &[],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [mount(
                "/data",
                "bind",
                Some("/nonexistent/peapod-src"),
                &["rbind"],
            )];
            let err = prepare(&spec(&rootfs, &mounts)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "cannot mount /nonexistent/peapod-src on /data in {}: no such file or directory",
                    rootfs.display()
                )
            );
            assert!(
                !rootfs.join("data").exists(),
                "the target was created anyway"
            );
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn an_unknown_option_fails_before_anything_is_mounted() {
    run(
        "an_unknown_option_fails_before_anything_is_mounted",
        &[],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [
                proc_mount(),
                mount("/tmp", "tmpfs", Some("tmpfs"), &["nosuid", "frobnicate"]),
            ];
            let before = mountinfo().len();
            let err = prepare(&spec(&rootfs, &mounts)).unwrap_err();
            assert!(matches!(err, Error::UnknownOption { .. }));
            assert_eq!(
                err.to_string(),
                "mount on /tmp: unknown mount option \"frobnicate\""
            );
            assert_eq!(mountinfo().len(), before, "something was mounted");
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_bad_filesystem_value_carries_the_kernels_reason() {
    run(
        "a_bad_filesystem_value_carries_the_kernels_reason",
        &[],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [mount("/tmp", "tmpfs", Some("tmpfs"), &["mode=banana"])];
            let err = prepare(&spec(&rootfs, &mounts)).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "cannot mount tmpfs on /tmp in {}: invalid argument (kernel: ",
                    rootfs.display()
                )),
                "{msg}"
            );
            assert!(msg.contains("mode"), "{msg}");
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_device_with_a_bad_type_names_the_device() {
    run(
        "a_device_with_a_bad_type_names_the_device",
        &[],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let devices = [device("/dev/everything", LinuxDeviceType::A, 0, 0)];
            let mut s = spec(&rootfs, &[]);
            s.devices = &devices;
            let before = mountinfo().len();
            let err = prepare(&s).unwrap_err();
            assert_eq!(
                err.to_string(),
                "device /dev/everything: type \"a\" (all) is a cgroup rule, not a device node: use c, b, u or p"
            );
            assert_eq!(mountinfo().len(), before);
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_mount_inside_proc_is_refused() {
    run(
        "a_mount_inside_proc_is_refused",
        &[],
        |dir| {
            make_rootfs(dir);
            std::fs::create_dir_all(dir.join("data")).unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let data = dir.join("data");
            let mounts = [
                proc_mount(),
                mount("/proc/sys/kernel", "bind", data.to_str(), &["bind"]),
            ];
            let err = prepare(&spec(&rootfs, &mounts)).unwrap_err();
            assert!(matches!(err, Error::InvalidMount { .. }), "{err}");
            assert!(
                err.to_string()
                    .starts_with("mount on /proc/sys/kernel: it is inside /proc")
            );
        },
    );
}
