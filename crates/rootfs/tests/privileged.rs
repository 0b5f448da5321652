//! Privileged tests: the whole prepare -> enter -> finish sequence, run for real in a child
//! process in fresh namespaces (see `common::run`). `cargo xtask test` runs them as root.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::*;
use peapod_rootfs::oci_spec::runtime::{LinuxDeviceType, get_default_mounts};
use peapod_rootfs::{Error, mount_overlay, prepare, write_sysctls};

const EROFS: Option<i32> = Some(libc::EROFS);

#[test]
#[ignore = "root: cargo xtask test"]
fn typical_runc_spec_mounts_devices_and_pivots() {
    run_shared_host(
        "typical_runc_spec_mounts_devices_and_pivots",
        &["--net", "--ipc"],
        |dir| {
            let rootfs = make_rootfs(dir);
            add_busybox(&rootfs);
            std::fs::create_dir_all(dir.join("host-ro")).unwrap();
            std::fs::write(dir.join("host-ro/marker"), "ro-data").unwrap();
            std::fs::create_dir_all(dir.join("host-tree/sub")).unwrap();
            std::fs::write(dir.join("host-file"), "nameserver 192.0.2.1\n").unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            // A submount in the rbind source, which the rbind must carry along.
            nix::mount::mount(
                Some("tmpfs"),
                &dir.join("host-tree/sub"),
                Some("tmpfs"),
                nix::mount::MsFlags::empty(),
                Some("size=1m"),
            )
            .unwrap();
            std::fs::write(dir.join("host-tree/sub/inner"), "inner").unwrap();

            let ro = dir.join("host-ro");
            let tree = dir.join("host-tree");
            let mut mounts = get_default_mounts();
            mounts.push(mount(
                "/mnt/ro",
                "bind",
                ro.to_str(),
                &["bind", "ro", "nosuid"],
            ));
            mounts.push(mount(
                "/mnt/tree",
                "none",
                tree.to_str(),
                &["rbind", "rprivate"],
            ));
            let file = dir.join("host-file");
            mounts.push(mount(
                "/etc/resolv.conf",
                "bind",
                file.to_str(),
                &["bind", "ro"],
            ));
            let mut custom = device("/dev/peapod-null", LinuxDeviceType::C, 1, 3);
            custom
                .set_file_mode(Some(0o600))
                .set_uid(Some(1000))
                .set_gid(Some(1000));
            let fifo = device("/dev/peapod-fifo", LinuxDeviceType::P, 0, 0);
            let devices = [custom, fifo];
            let mut s = spec(&rootfs, &mounts);
            s.devices = &devices;
            s.own_net_namespace = true;

            let prepared = prepare(&s).unwrap();
            let entered = prepared.enter(false).unwrap();
            entered.finish().unwrap();

            // Only the container's mounts are visible: the old root is gone.
            let allowed = [
                "/",
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/mnt/ro",
                "/mnt/tree",
                "/mnt/tree/sub",
                "/etc/resolv.conf",
            ];
            for m in mountinfo() {
                assert!(
                    allowed.contains(&m.mount_point.as_str())
                        || m.mount_point.starts_with("/sys/fs/cgroup"),
                    "unexpected mount {m:?}"
                );
            }
            assert!(std::fs::read_to_string("/etc/hostname").unwrap() == "peapod-test\n");
            assert!(
                !Path::new(dir).exists(),
                "the host's tmp is still reachable"
            );

            let fs = |mp: &str| mount_at(mp).unwrap_or_else(|| panic!("no mount at {mp}"));
            assert_eq!(fs("/proc").fstype, "proc");
            let dev = fs("/dev");
            assert_eq!(dev.fstype, "tmpfs");
            assert!(
                dev.has_option("nosuid") && dev.has_super_option("mode=755"),
                "{dev:?}"
            );
            assert!(dev.has_super_option("size=65536k"), "{dev:?}");
            let pts = fs("/dev/pts");
            assert_eq!(pts.fstype, "devpts");
            assert!(
                pts.has_super_option("ptmxmode=666") && pts.has_super_option("gid=5"),
                "{pts:?}"
            );
            let shm = fs("/dev/shm");
            assert!(
                shm.has_option("noexec") && shm.has_option("nodev"),
                "{shm:?}"
            );
            assert_eq!(fs("/dev/mqueue").fstype, "mqueue");
            let sys = fs("/sys");
            assert!(sys.fstype == "sysfs" && sys.has_option("ro"), "{sys:?}");
            let cgroups: Vec<MountInfo> = mountinfo()
                .into_iter()
                .filter(|m| m.mount_point.starts_with("/sys/fs/cgroup"))
                .collect();
            assert!(!cgroups.is_empty());
            assert!(cgroups.iter().all(|m| m.has_option("ro")), "{cgroups:#?}");
            assert!(std::fs::create_dir("/sys/fs/cgroup/memory/peapod-x").is_err());

            // The read-only bind, and the rbind with its submount.
            let ro = fs("/mnt/ro");
            assert!(ro.has_option("ro") && ro.has_option("nosuid"), "{ro:?}");
            assert_eq!(
                std::fs::read_to_string("/mnt/ro/marker").unwrap(),
                "ro-data"
            );
            assert_eq!(write_errno("/mnt/ro/new"), EROFS);
            assert_eq!(
                std::fs::read_to_string("/mnt/tree/sub/inner").unwrap(),
                "inner"
            );
            assert!(!fs("/mnt/tree").optional.contains("shared"));
            assert!(!fs("/mnt/tree").optional.contains("master"));
            assert_eq!(
                std::fs::read_to_string("/etc/resolv.conf").unwrap(),
                "nameserver 192.0.2.1\n"
            );
            assert_eq!(write_errno("/etc/resolv.conf"), EROFS);
            // The root is a slave of the host: nothing propagates back.
            let root = fs("/");
            assert!(
                root.optional.contains("master:") && !root.optional.contains("shared:"),
                "{root:?}"
            );
            for m in mountinfo() {
                assert!(
                    !m.optional.contains("shared:"),
                    "{m:?} propagates to the host"
                );
            }

            // Devices, with the right numbers, modes and owners.
            let chr = libc::S_IFCHR;
            assert_eq!(node("/dev/null"), (chr, 1, 3, 0o666, 0, 0));
            assert_eq!(node("/dev/zero"), (chr, 1, 5, 0o666, 0, 0));
            assert_eq!(node("/dev/full"), (chr, 1, 7, 0o666, 0, 0));
            assert_eq!(node("/dev/random"), (chr, 1, 8, 0o666, 0, 0));
            assert_eq!(node("/dev/urandom"), (chr, 1, 9, 0o666, 0, 0));
            assert_eq!(node("/dev/tty"), (chr, 5, 0, 0o666, 0, 0));
            assert_eq!(node("/dev/peapod-null"), (chr, 1, 3, 0o600, 1000, 1000));
            assert_eq!(node("/dev/peapod-fifo").0, libc::S_IFIFO);
            std::fs::write("/dev/null", "discarded").unwrap();

            // The /dev symlinks.
            for (link, target) in [
                ("/dev/fd", "/proc/self/fd"),
                ("/dev/stdin", "/proc/self/fd/0"),
                ("/dev/stdout", "/proc/self/fd/1"),
                ("/dev/stderr", "/proc/self/fd/2"),
                ("/dev/ptmx", "pts/ptmx"),
            ] {
                assert_eq!(
                    std::fs::read_link(link).unwrap(),
                    Path::new(target),
                    "{link}"
                );
            }
            assert!(Path::new("/dev/pts/ptmx").exists());

            // And the rootfs runs programs.
            let out = Command::new("/bin/sh")
                .args(["-c", "echo hello from $(cat /etc/hostname)"])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "hello from peapod-test\n"
            );
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn no_pivot_moves_the_rootfs_onto_slash_and_chroots() {
    run(
        "no_pivot_moves_the_rootfs_onto_slash_and_chroots",
        &[],
        |dir| {
            let rootfs = make_rootfs(dir);
            add_busybox(&rootfs);
            std::fs::write(rootfs.join("marker"), "in-rootfs").unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [proc_mount()];
            let prepared = prepare(&spec(&rootfs, &mounts)).unwrap();
            prepared.enter(true).unwrap().finish().unwrap();
            assert_eq!(std::fs::read_to_string("/marker").unwrap(), "in-rootfs");
            assert!(!Path::new(dir).exists());
            assert_eq!(mount_at("/proc").unwrap().fstype, "proc");
            let root = mount_at("/").unwrap();
            assert_eq!(Path::new(&root.root), rootfs, "{root:?}");
            let out = Command::new("/bin/busybox")
                .args(["cat", "/marker"])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "in-rootfs");
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn masked_and_readonly_paths() {
    run(
        "masked_and_readonly_paths",
        &[],
        |dir| {
            let rootfs = make_rootfs(dir);
            std::fs::write(rootfs.join("etc/secret"), "top secret").unwrap();
            std::fs::create_dir_all(rootfs.join("secretdir")).unwrap();
            std::fs::write(rootfs.join("secretdir/file"), "hidden").unwrap();
            std::fs::create_dir_all(rootfs.join("rodir")).unwrap();
            std::fs::write(rootfs.join("rodir/file"), "keep").unwrap();
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [proc_mount()];
            let masked = [
                "/proc/kcore",
                "/proc/timer_list",
                "/proc/acpi",
                "/etc/secret",
                "/secretdir",
                "/does/not/exist",
            ]
            .map(String::from);
            let readonly = ["/proc/sys", "/rodir", "/not/there"].map(String::from);
            let mut s = spec(&rootfs, &mounts);
            s.masked_paths = &masked;
            s.readonly_paths = &readonly;
            prepare(&s).unwrap().enter(false).unwrap().finish().unwrap();

            assert_eq!(std::fs::read_to_string("/etc/secret").unwrap(), "");
            let (kind, major, minor, ..) = node("/etc/secret");
            assert_eq!((kind, major, minor), (libc::S_IFCHR, 1, 3));
            assert_eq!(std::fs::read("/proc/timer_list").unwrap().len(), 0);
            assert_eq!(std::fs::read_dir("/proc/acpi").unwrap().count(), 0);
            assert_eq!(mount_at("/proc/acpi").unwrap().fstype, "tmpfs");
            assert_eq!(std::fs::read_dir("/secretdir").unwrap().count(), 0);
            assert_eq!(write_errno("/secretdir/new"), EROFS);

            let sys = mount_at("/proc/sys").unwrap();
            for o in ["ro", "nosuid", "nodev", "noexec"] {
                assert!(sys.has_option(o), "{o} missing: {sys:?}");
            }
            assert_eq!(write_errno("/proc/sys/kernel/domainname"), EROFS);
            assert_eq!(write_errno("/rodir/file"), EROFS);
            assert_eq!(std::fs::read_to_string("/rodir/file").unwrap(), "keep");
            // The rest of the root stays writable.
            std::fs::write("/etc/writable", "yes").unwrap();
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn readonly_root_keeps_mounts_writable() {
    run(
        "readonly_root_keeps_mounts_writable",
        &[],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [
                proc_mount(),
                mount("/tmp", "tmpfs", Some("tmpfs"), &["nosuid"]),
            ];
            let mut s = spec(&rootfs, &mounts);
            s.readonly = true;
            prepare(&s).unwrap().enter(false).unwrap().finish().unwrap();
            assert!(mount_at("/").unwrap().has_option("ro"));
            assert_eq!(write_errno("/etc/new"), EROFS);
            std::fs::write("/tmp/new", "fine").unwrap();
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn sysctl_is_written_in_the_containers_netns() {
    let host = || std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let before = if std::env::var(CHILD).is_err() {
        Some(host())
    } else {
        None
    };
    let tmp = run(
        "sysctl_is_written_in_the_containers_netns",
        &["--net"],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [proc_mount()];
            let readonly = ["/proc/sys".to_string()];
            let mut s = spec(&rootfs, &mounts);
            s.readonly_paths = &readonly;
            s.own_net_namespace = true;
            let entered = prepare(&s).unwrap().enter(false).unwrap();
            let want = if std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap() == "1\n"
            {
                "0"
            } else {
                "1"
            };
            let map = HashMap::from([("net.ipv4.ip_forward".to_string(), want.to_string())]);
            write_sysctls(&map).unwrap();
            assert_eq!(
                std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
                format!("{want}\n")
            );
            entered.finish().unwrap();
            // After finish /proc/sys is read-only: a late write is refused.
            let err = write_sysctls(&map).unwrap_err();
            assert!(matches!(err, Error::Sysctl { .. }), "{err}");
            assert!(err.to_string().contains("read-only file system"), "{err}");
        },
    );
    if tmp.is_some() {
        assert_eq!(Some(host()), before, "the host's ip_forward changed");
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn rootfs_propagation_shared_is_applied_last() {
    run_shared_host(
        "rootfs_propagation_shared_is_applied_last",
        &[],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [proc_mount()];
            let mut s = spec(&rootfs, &mounts);
            s.propagation = Some("rshared");
            prepare(&s).unwrap().enter(false).unwrap().finish().unwrap();
            // Shared within the container, in a new peer group, and still only a slave of
            // the host: nothing mounted inside reaches it.
            for mp in ["/", "/proc"] {
                let m = mount_at(mp).unwrap();
                let field = |tag: &str| {
                    m.optional
                        .split(' ')
                        .find_map(|f| f.strip_prefix(tag))
                        .map(str::to_owned)
                };
                let shared = field("shared:").unwrap_or_else(|| panic!("{m:?} is not shared"));
                if mp == "/" {
                    let master = field("master:").unwrap_or_else(|| panic!("{m:?} no slave"));
                    assert_ne!(shared, master, "{m:?}");
                }
            }
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn rootfs_propagation_private() {
    run_shared_host(
        "rootfs_propagation_private",
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
                mount("/data", "bind", data.to_str(), &["bind"]),
            ];
            let mut s = spec(&rootfs, &mounts);
            s.propagation = Some("rprivate");
            prepare(&s).unwrap().enter(false).unwrap().finish().unwrap();
            for m in mountinfo() {
                assert!(
                    !m.optional.contains("shared:") && !m.optional.contains("master:"),
                    "{m:?}"
                );
            }
            assert!(mount_at("/data").is_some());
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn rootfs_propagation_unbindable() {
    run(
        "rootfs_propagation_unbindable",
        &[],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [proc_mount()];
            let mut s = spec(&rootfs, &mounts);
            s.propagation = Some("unbindable");
            prepare(&s).unwrap().enter(false).unwrap().finish().unwrap();
            let root = mount_at("/").unwrap();
            assert!(root.optional.contains("unbindable"), "{root:?}");
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn user_namespace_binds_host_devices() {
    run(
        "user_namespace_binds_host_devices",
        &["--user", "--map-root-user", "--net", "--ipc"],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            let rootfs = dir.join("rootfs");
            let mounts = [
                proc_mount(),
                mount(
                    "/dev",
                    "tmpfs",
                    Some("tmpfs"),
                    &["nosuid", "strictatime", "mode=755", "size=65536k"],
                ),
                mount(
                    "/dev/pts",
                    "devpts",
                    Some("devpts"),
                    &[
                        "nosuid",
                        "noexec",
                        "newinstance",
                        "ptmxmode=0666",
                        "mode=0620",
                    ],
                ),
                mount(
                    "/dev/shm",
                    "tmpfs",
                    Some("shm"),
                    &["nosuid", "noexec", "nodev", "mode=1777"],
                ),
                mount(
                    "/dev/mqueue",
                    "mqueue",
                    Some("mqueue"),
                    &["nosuid", "noexec", "nodev"],
                ),
                mount(
                    "/sys",
                    "sysfs",
                    Some("sysfs"),
                    &["nosuid", "noexec", "nodev", "ro"],
                ),
                mount(
                    "/sys/fs/cgroup",
                    "cgroup",
                    Some("cgroup"),
                    &["nosuid", "noexec", "nodev", "relatime", "ro"],
                ),
            ];
            let masked = ["/proc/timer_list".to_string(), "/proc/acpi".to_string()];
            let readonly = ["/proc/sys".to_string()];
            let mut s = spec(&rootfs, &mounts);
            s.in_user_namespace = true;
            s.own_net_namespace = true;
            s.masked_paths = &masked;
            s.readonly_paths = &readonly;
            prepare(&s).unwrap().enter(false).unwrap().finish().unwrap();
            for (dev, minor) in [("/dev/null", 3), ("/dev/zero", 5), ("/dev/urandom", 9)] {
                let n = node(dev);
                assert_eq!((n.0, n.1, n.2), (libc::S_IFCHR, 1, minor), "{dev}");
                assert!(mount_at(dev).is_some(), "{dev} is not a bind mount");
            }
            std::fs::write("/dev/null", "x").unwrap();
            assert_eq!(std::fs::read("/proc/timer_list").unwrap().len(), 0);
            assert_eq!(std::fs::read_dir("/proc/acpi").unwrap().count(), 0);
            assert_eq!(mount_at("/sys").unwrap().fstype, "sysfs");
            assert_eq!(write_errno("/proc/sys/kernel/domainname"), EROFS);
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn overlay_merges_layers_with_the_upper_on_top() {
    run(
        "overlay_merges_layers_with_the_upper_on_top",
        &[],
        |dir| {
            for d in ["lower:1", "lower-2", "lower,3", "upper", "work", "merged"] {
                std::fs::create_dir_all(dir.join(d)).unwrap();
            }
            std::fs::write(dir.join("lower:1/a"), "top").unwrap();
            std::fs::write(dir.join("lower-2/a"), "bottom").unwrap();
            std::fs::write(dir.join("lower-2/b"), "only-bottom").unwrap();
        },
        |dir| {
            let (l1, l2) = (dir.join("lower:1"), dir.join("lower-2"));
            let merged = dir.join("merged");
            mount_overlay(&[&l1, &l2], &dir.join("upper"), &dir.join("work"), &merged).unwrap();
            assert_eq!(std::fs::read_to_string(merged.join("a")).unwrap(), "top");
            assert_eq!(
                std::fs::read_to_string(merged.join("b")).unwrap(),
                "only-bottom"
            );
            std::fs::write(merged.join("c"), "new").unwrap();
            assert_eq!(std::fs::read_to_string(dir.join("upper/c")).unwrap(), "new");
            assert!(!l1.join("c").exists() && !l2.join("c").exists());
            assert_eq!(
                mount_at(merged.to_str().unwrap()).unwrap().fstype,
                "overlay"
            );

            // A ',' in a layer path: fine from Linux 6.8 on, a clear refusal before.
            let comma = dir.join("lower,3");
            let with_comma =
                mount_overlay(&[&comma], &dir.join("upper"), &dir.join("work"), &merged);
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
            let mut v = release
                .split(['.', '-'])
                .map(|p| p.parse::<u32>().unwrap_or(0));
            if (v.next().unwrap(), v.next().unwrap()) >= (6, 8) {
                with_comma.unwrap();
                nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH).unwrap();
            } else {
                assert!(with_comma.unwrap_err().to_string().contains("contains ','"));
            }

            let missing = dir.join("missing");
            let err = mount_overlay(&[&missing], &dir.join("upper"), &dir.join("work"), &merged)
                .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("cannot mount overlay on {}: ", merged.display())),
                "{err}"
            );
        },
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn cgroup_mount_on_a_v2_host_is_a_fresh_cgroup2() {
    run(
        "cgroup_mount_on_a_v2_host_is_a_fresh_cgroup2",
        &["--net", "--cgroup"],
        |dir| {
            make_rootfs(dir);
        },
        |dir| {
            // Make this namespace look like a cgroup v2 host, unless it is one (the VM).
            let v2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
                .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
            if !v2 {
                nix::mount::mount(
                    Some("cgroup2"),
                    "/sys/fs/cgroup",
                    Some("cgroup2"),
                    nix::mount::MsFlags::empty(),
                    None::<&str>,
                )
                .unwrap();
            }
            let rootfs = dir.join("rootfs");
            let mounts = [
                proc_mount(),
                mount(
                    "/sys",
                    "sysfs",
                    Some("sysfs"),
                    &["nosuid", "noexec", "nodev", "ro"],
                ),
                mount(
                    "/sys/fs/cgroup",
                    "cgroup",
                    Some("cgroup"),
                    &["nosuid", "noexec", "nodev", "relatime", "ro"],
                ),
            ];
            let mut s = spec(&rootfs, &mounts);
            s.own_net_namespace = true;
            prepare(&s).unwrap().enter(false).unwrap().finish().unwrap();
            let cgroups: Vec<MountInfo> = mountinfo()
                .into_iter()
                .filter(|m| m.mount_point.starts_with("/sys/fs/cgroup"))
                .collect();
            assert_eq!(cgroups.len(), 1, "{cgroups:#?}");
            assert_eq!(cgroups[0].fstype, "cgroup2");
            assert_eq!(cgroups[0].root, "/", "not scoped by the cgroup namespace");
            assert!(cgroups[0].has_option("ro"));
            assert!(Path::new("/sys/fs/cgroup/cgroup.controllers").exists());
        },
    );
}
