use super::*;

/// This machine (hybrid, no systemd): seen in /proc/self/mountinfo.
const HYBRID: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// Debian 12 with systemd (pure v2).
const V2: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
27 24 0:24 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw
";

/// CentOS 7 style (pure v1, co-mounted controllers, systemd named hierarchy).
const V1: &str = "\
25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpuacct,cpu
30 25 0:26 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,net_prio,net_cls
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,pids
";

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

#[test]
fn hybrid_layout_of_this_machine() {
    let l = Layout::from_mountinfo(HYBRID).unwrap();
    let Layout::Hybrid {
        hierarchies,
        unified,
    } = &l
    else {
        panic!("expected hybrid, got {l:?}");
    };
    assert_eq!(hierarchies.len(), 9);
    assert_eq!(unified.mount_point, Path::new("/sys/fs/cgroup/unified"));
    assert_eq!(unified.root, "/");
    let mem = hierarchies.iter().find(|h| h.has("memory")).unwrap();
    assert_eq!(mem.mount_point, Path::new("/sys/fs/cgroup/memory"));
    assert_eq!(mem.controllers, s(&["memory"]));
    assert!(hierarchies.iter().any(|h| h.has("name=systemd")));
    assert!(!hierarchies.iter().any(|h| h.has("hugetlb")));
}

#[test]
fn pure_v2_layout() {
    let l = Layout::from_mountinfo(V2).unwrap();
    assert_eq!(
        l,
        Layout::V2 {
            unified: Unified {
                mount_point: "/sys/fs/cgroup".into(),
                root: "/".into()
            }
        }
    );
    assert!(l.v1_hierarchies().is_empty());
}

#[test]
fn pure_v1_layout_with_comounted_controllers() {
    let l = Layout::from_mountinfo(V1).unwrap();
    let Layout::V1 { hierarchies } = &l else {
        panic!("expected v1, got {l:?}");
    };
    assert_eq!(hierarchies.len(), 5);
    let cpu = hierarchies.iter().find(|h| h.has("cpu")).unwrap();
    assert_eq!(cpu.controllers, s(&["cpu", "cpuacct"]));
    assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    let sd = hierarchies.iter().find(|h| h.has("name=systemd")).unwrap();
    assert_eq!(
        sd.controllers,
        s(&["name=systemd"]),
        "xattr/release_agent are options"
    );
    assert!(l.unified().is_none());
}

#[test]
fn no_cgroup_mount_is_an_error() {
    let e = Layout::from_mountinfo("22 1 254:0 / / rw - ext4 /dev/vda rw\n").unwrap_err();
    assert!(e.to_string().contains("no cgroup"), "{e}");
}

#[test]
fn malformed_line_is_an_error() {
    let e = Layout::from_mountinfo("garbage\n").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
}

#[test]
fn duplicate_mounts_prefer_sys_fs_cgroup_and_escapes_are_decoded() {
    let text = "\
50 1 0:40 /peapod /tmp/my\\040cg rw - cgroup2 cgroup2 rw
51 1 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
52 1 0:40 / /mnt/other rw - cgroup2 cgroup2 rw
";
    let l = Layout::from_mountinfo(text).unwrap();
    assert_eq!(
        l.unified().unwrap().mount_point,
        Path::new("/sys/fs/cgroup")
    );
    let only = Layout::from_mountinfo("50 1 0:40 /peapod /tmp/my\\040cg rw - cgroup2 cgroup2 rw\n")
        .unwrap();
    let u = only.unified().unwrap();
    assert_eq!(u.mount_point, Path::new("/tmp/my cg"));
    assert_eq!(u.root, "/peapod");
}

#[test]
fn proc_cgroup_parsing() {
    let text = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/x\n0::/user.slice\n";
    let e = parse_proc_cgroup(text).unwrap();
    assert_eq!(
        own_path(&e, Some(&s(&["memory"]))),
        Some("/process_api/abc")
    );
    assert_eq!(own_path(&e, Some(&s(&["cpu", "cpuacct"]))), Some("/x"));
    assert_eq!(own_path(&e, Some(&s(&["name=systemd"]))), Some("/"));
    assert_eq!(own_path(&e, None), Some("/user.slice"));
    assert_eq!(own_path(&e, Some(&s(&["pids"]))), None);
    assert!(parse_proc_cgroup("nonsense\n").is_err());
}

#[test]
fn cgroup_paths_are_checked() {
    let p = CgroupPath::parse("/peapod//abc/").unwrap();
    assert!(p.absolute);
    assert_eq!(p.components, s(&["peapod", "abc"]));
    let r = CgroupPath::parse("peapod/./abc").unwrap();
    assert!(!r.absolute);
    assert_eq!(r.components, s(&["peapod", "abc"]));
    for bad in ["", "/", "//", "/a/../b", "..", "a\nb"] {
        assert!(CgroupPath::parse(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn placement_of_absolute_and_relative_paths() {
    let abs = CgroupPath::parse("/peapod/abc").unwrap();
    let p = place(
        Path::new("/sys/fs/cgroup/memory"),
        "/",
        Some("/ignored"),
        &abs,
        "x",
    )
    .unwrap();
    assert_eq!(p.base, Path::new("/sys/fs/cgroup/memory"));
    assert_eq!(p.dir, Path::new("/sys/fs/cgroup/memory/peapod/abc"));
    assert_eq!(
        p.levels(),
        vec![
            PathBuf::from("/sys/fs/cgroup/memory/peapod"),
            PathBuf::from("/sys/fs/cgroup/memory/peapod/abc")
        ]
    );

    let rel = CgroupPath::parse("peapod/abc").unwrap();
    let p = place(
        Path::new("/sys/fs/cgroup/memory"),
        "/",
        Some("/process_api/9f"),
        &rel,
        "x",
    )
    .unwrap();
    assert_eq!(p.base, Path::new("/sys/fs/cgroup/memory/process_api/9f"));
    assert_eq!(
        p.dir,
        Path::new("/sys/fs/cgroup/memory/process_api/9f/peapod/abc")
    );

    // A mount that shows only a subtree (inside a container): strip its root.
    let p = place(
        Path::new("/sys/fs/cgroup"),
        "/ctr",
        Some("/ctr/sub"),
        &rel,
        "x",
    )
    .unwrap();
    assert_eq!(p.dir, Path::new("/sys/fs/cgroup/sub/peapod/abc"));
    assert!(
        place(
            Path::new("/sys/fs/cgroup"),
            "/ctr",
            Some("/elsewhere"),
            &rel,
            "x"
        )
        .is_err()
    );
    assert!(place(Path::new("/sys/fs/cgroup"), "/", None, &rel, "x").is_err());
}

/// Hierarchies in a fixed order (mountinfo lists them in mount order, /proc/self/cgroup by
/// hierarchy id).
fn sorted(layout: Layout) -> Layout {
    match layout {
        Layout::V1 { mut hierarchies } => {
            hierarchies.sort_by(|a, b| a.controllers.cmp(&b.controllers));
            Layout::V1 { hierarchies }
        }
        Layout::Hybrid {
            mut hierarchies,
            unified,
        } => {
            hierarchies.sort_by(|a, b| a.controllers.cmp(&b.controllers));
            Layout::Hybrid {
                hierarchies,
                unified,
            }
        }
        v2 => v2,
    }
}

/// Whether every hierarchy of `layout` is mounted where the probe looks, showing its root.
fn usual(layout: &Layout) -> bool {
    let sys = Path::new(PREFERRED_PREFIX);
    let v1_usual = layout.v1_hierarchies().iter().all(|h| {
        let joined = h.controllers.join(",");
        let names: Vec<&str> = std::iter::once(joined.as_str())
            .chain(h.controllers.iter().map(String::as_str))
            .map(|n| n.strip_prefix("name=").unwrap_or(n))
            .collect();
        h.root == "/" && names.iter().any(|n| h.mount_point == sys.join(n))
    });
    let unified_usual = layout.unified().is_some_and(|u| {
        u.root == "/"
            && (u.mount_point == sys.join("unified")
                || (u.mount_point == sys && layout.v1_hierarchies().is_empty()))
    });
    v1_usual && unified_usual
}

/// The probe (statfs of the usual mount points) finds what mountinfo says, on the machine the
/// test runs on (hybrid here, pure v2 in the test guest); it gives up, rather than guess,
/// where a hierarchy is elsewhere.
#[test]
fn probe_agrees_with_mountinfo_on_this_machine() {
    let from_mountinfo = sorted(Layout::from_proc().unwrap());
    let entries = read_proc_cgroup().unwrap();
    let probed = probe::probe(Path::new(PREFERRED_PREFIX), &entries);
    if usual(&from_mountinfo) {
        assert_eq!(probed.map(sorted), Some(from_mountinfo.clone()));
    } else {
        assert_eq!(probed, None, "mountinfo says {from_mountinfo:?}");
    }
    assert_eq!(sorted(Layout::detect().unwrap()), from_mountinfo);
}

/// A directory that is no cgroup mount is not taken for one.
#[test]
fn probe_refuses_a_tree_that_only_looks_like_cgroups() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["memory", "unified", "systemd"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let entries = parse_proc_cgroup("2:name=systemd:/\n1:memory:/\n0::/\n").unwrap();
    assert_eq!(probe::probe(dir.path(), &entries), None);
}
