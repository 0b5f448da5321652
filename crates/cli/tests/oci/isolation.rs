//! What the container sees from the inside, checked by the static checker.

use serde_json::json;

use crate::support::{World, assert_checks_passed, checker, namespace_holder, run_checks, text};

fn host_ns(kind: &str) -> String {
    let link = std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
    let link = link.to_string_lossy();
    link.trim_start_matches(&format!("{kind}:["))
        .trim_end_matches(']')
        .to_owned()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_default_config_isolates_and_restricts() {
    let mut world = World::new("isolation", &[]);
    let (uts, net, ipc, pid, mnt) = (
        host_ns("uts"),
        host_ns("net"),
        host_ns("ipc"),
        host_ns("pid"),
        host_ns("mnt"),
    );
    let checks = [
        "hostname=peapod".to_owned(),
        "pid=1".to_owned(),
        "uid=0".to_owned(),
        "cwd=/".to_owned(),
        "env=TERM=xterm".to_owned(),
        format!("ns-not=uts:{uts}"),
        format!("ns-not=net:{net}"),
        format!("ns-not=ipc:{ipc}"),
        format!("ns-not=pid:{pid}"),
        format!("ns-not=mnt:{mnt}"),
        "mount=/proc:proc".to_owned(),
        "mount=/dev:tmpfs".to_owned(),
        "mount=/dev/pts:devpts".to_owned(),
        "mount=/dev/shm:tmpfs".to_owned(),
        "mount=/dev/mqueue:mqueue".to_owned(),
        "mount=/sys:sysfs:ro".to_owned(),
        "readonly=/".to_owned(),
        "mount=/proc/sys:proc:ro".to_owned(),
        "mount=/proc/bus:proc:ro".to_owned(),
        "masked=/proc/timer_list".to_owned(),
        "masked=/proc/keys".to_owned(),
        "masked=/sys/firmware".to_owned(),
        "rlimit=NOFILE:1024:1024".to_owned(),
        "status=NoNewPrivs:1".to_owned(),
        // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
        "status=CapEff:0000000020000420".to_owned(),
        "status=CapBnd:0000000020000420".to_owned(),
        "status=CapPrm:0000000020000420".to_owned(),
        "status=CapInh:0000000000000000".to_owned(),
        "fds=0,1,2".to_owned(),
        "dev=/dev/null:c:1:3".to_owned(),
        "dev=/dev/zero:c:1:5".to_owned(),
        "dev=/dev/urandom:c:1:9".to_owned(),
        "symlink=/dev/fd:/proc/self/fd".to_owned(),
        "symlink=/dev/ptmx:pts/ptmx".to_owned(),
    ];
    let checks: Vec<&str> = checks.iter().map(String::as_str).collect();
    run_checks(&mut world, &checks);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn user_groups_umask_and_cwd_are_applied() {
    let mut world = World::new("user", &[]);
    world.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 63});
    world.config["process"]["cwd"] = json!("/tmp");
    // A non-root process keeps capabilities across exec only through the ambient set.
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    world.config["process"]["capabilities"]["inheritable"] = caps.clone();
    world.config["process"]["capabilities"]["ambient"] = caps;
    run_checks(
        &mut world,
        &[
            "uid=1000",
            "gid=1001",
            "groups=10,20",
            "status=Umask:0077",
            "cwd=/tmp",
            "status=CapEff:0000000020000420",
            "status=CapAmb:0000000020000420",
        ],
    );
    // Without ambient capabilities, the same user has none after exec.
    let mut world = World::new("user-noamb", &[]);
    world.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    run_checks(
        &mut world,
        &[
            "uid=1000",
            "status=CapEff:0000000000000000",
            "status=CapBnd:0000000020000420",
        ],
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_user_namespace_maps_root_to_an_unprivileged_host_id() {
    let mut world = World::new("userns", &[]);
    world.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    world.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    world.config["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let user = host_ns("user");
    let checks = [
        format!("ns-not=user:{user}"),
        "uid=0".into(),
        "file=/proc/self/uid_map:0     100000      65536".into(),
    ];
    let checks: Vec<&str> = checks.iter().map(String::as_str).collect();
    run_checks(&mut world, &checks);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_network_namespace_is_joined_by_path() {
    let mut world = World::new("joinnet", &[]);
    let name = format!("peapod-test-{}", std::process::id());
    let add = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", text(&add));
    let path = format!("/run/netns/{name}");
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&path).unwrap().ino()
    };
    let namespaces = world.config["linux"]["namespaces"].as_array_mut().unwrap();
    namespaces.retain(|ns| ns["type"] != "network");
    namespaces.push(json!({"type": "network", "path": path}));
    world.config["process"]["args"] = json!(checker(&[&format!("ns=net:{inode}")]));
    let out = world.run();
    let del = std::process::Command::new("ip")
        .args(["netns", "delete", &name])
        .output()
        .unwrap();
    assert_checks_passed(&out);
    assert!(del.status.success(), "{}", text(&del));
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn sysctl_domainname_and_oom_score_adj_are_set() {
    let mut world = World::new("sysctl", &[]);
    world.config["domainname"] = json!("peas.example");
    world.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    world.config["process"]["oomScoreAdj"] = json!(123);
    run_checks(
        &mut world,
        &[
            "domainname=peas.example",
            "file=/proc/sys/net/ipv4/ip_forward:1",
            "file=/proc/self/oom_score_adj:123",
        ],
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_seccomp_profile_denies_with_its_errno_and_allows_the_rest() {
    let mut world = World::new("seccomp", &[]);
    world.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            // Argument conditions: chmod(path, 0o777) is refused, other modes pass.
            {"names": ["fchmodat", "chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 2, "value": 511, "op": "SCMP_CMP_EQ"}]}
        ]
    });
    // With and without no_new_privileges (the filter loads at different points).
    for nnp in [true, false] {
        world.config["process"]["noNewPrivileges"] = json!(nnp);
        run_checks(&mut world, &["mkdir=/tmp/x:38", "hostname=peapod"]);
    }
    // A profile answering execveat with an errno still runs the process: the trampoline is
    // then exec'd with execve through /proc.
    world.config["linux"]["seccomp"]["syscalls"] = json!([
        {"names": ["execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
    ]);
    world.config["process"]["noNewPrivileges"] = json!(true);
    run_checks(&mut world, &["hostname=peapod"]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn bind_mounts_of_host_directories_take_their_options() {
    let mut world = World::new("binds", &[]);
    let data = world.tmp.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("file"), "from the host").unwrap();
    // A bundle-relative source too.
    std::fs::write(world.bundle().join("note"), "relative").unwrap();
    let mounts = world.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data-ro", "type": "bind", "source": data, "options": ["bind", "ro", "nosuid", "nodev"]}));
    mounts.push(json!({"destination": "/data-rw", "source": data, "options": ["rbind", "rw"]}));
    mounts.push(json!({"destination": "/note", "type": "bind", "source": "note", "options": ["bind", "ro"]}));
    run_checks(
        &mut world,
        &[
            "file=/data-ro/file:from the host",
            "readonly=/data-ro",
            "mkdir=/data-rw/made-inside:0",
            "file=/note:relative",
        ],
    );
    assert!(
        data.join("made-inside").is_dir(),
        "the rw bind did not reach the host directory"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_user_namespace_is_joined_by_path_with_the_others_created_inside_it() {
    let mut world = World::new("joinuser", &[]);
    // A holder process in a user namespace mapping container 0 to host 100000.
    let (mut holder, path) = namespace_holder("user");
    for map in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{}/{map}", holder.id()), "0 100000 65536").unwrap();
    }
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&path).unwrap().ino()
    };
    world.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "path": path}));
    world.config["process"]["args"] = json!(checker(&[
        &format!("ns=user:{inode}"),
        "uid=0",
        "file=/proc/self/uid_map:0     100000      65536",
        "dev=/dev/null:c:1:3",
        "hostname=peapod",
    ]));
    let out = world.run();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_checks_passed(&out);
    world.assert_nothing_left();
}

/// The runtime ignores SIGPIPE (Rust's runtime does), and an ignored signal stays ignored
/// across exec: the container's process must start with the default action. (`cat` reads
/// its own status: the checker, a Rust program, would ignore SIGPIPE itself.)
#[test]
#[ignore = "root: cargo xtask test"]
fn the_containers_process_does_not_inherit_an_ignored_sigpipe() {
    let world = World::new("sigpipe", &["cat", "/proc/self/status"]);
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ignored = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let sigpipe = nix::sys::signal::Signal::SIGPIPE as u32;
    assert_eq!(ignored >> (sigpipe - 1) & 1, 0, "SigIgn {ignored:016x}");
    world.assert_nothing_left();
}
