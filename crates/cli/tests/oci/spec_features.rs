//! The rest of the runtime spec, one feature per test: terminal, time namespace,
//! --no-pivot, linux.devices, personality, startContainer hooks, `spec` and `features`.

use std::io::IoSliceMut;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use serde_json::json;

use crate::support::{
    World, assert_checks_passed, checker, read_until, run_checks, run_to_files, text,
};

#[test]
#[ignore = "root: cargo xtask test"]
fn a_terminal_is_a_new_pty_whose_master_goes_to_the_console_socket() {
    let mut world = World::new("tty", &["sh", "-c", "tty; echo hello from the pty"]);
    world.config["process"]["terminal"] = json!(true);
    world.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    world.write_config();
    let socket = world.tmp.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let bundle = world.bundle();
    let mut create = std::process::Command::new(env!("CARGO_BIN_EXE_peapod-oci"));
    create.arg("--root").arg(world.root()).args([
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        "--console-socket",
    ]);
    create.arg(&socket).arg(&world.id);
    let creator = std::thread::spawn({
        let dir = world.tmp.path().to_path_buf();
        move || run_to_files(&mut create, &dir)
    });
    let (stream, _) = listener.accept().unwrap();
    let mut name = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&stream),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let fd = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("a pty master fd");
    // SAFETY: the fd was just received over SCM_RIGHTS and nothing else owns it.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let out = creator.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(world.oci(&["start", &world.id]).status.success());
    let mut tty = std::fs::File::from(master);
    // Wait for the whole line, CRLF included (the pty's onlcr), before asserting on it.
    let output = read_until(&mut tty, "hello from the pty\r\n");
    assert!(output.contains("/dev/pts/0\r\n"), "{output}");
    let deleted = world.oci(&["delete", "--force", &world.id]);
    assert!(deleted.status.success(), "{}", text(&deleted));
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn run_without_a_console_socket_relays_the_terminal_itself() {
    let mut world = World::new("tty-run", &["sh", "-c", "tty; echo exit code next; exit 3"]);
    world.config["process"]["terminal"] = json!(true);
    let out = world.run();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("/dev/pts/0\r\n") && stdout.contains("exit code next\r\n"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
    let leftovers: Vec<_> = std::fs::read_dir(world.root()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "the console socket was left behind: {leftovers:?}"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_time_namespace_takes_its_offsets() {
    let mut world = World::new("timens", &[]);
    world.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    world.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1_000_000, "nanosecs": 0}});
    run_checks(&mut world, &["uptime-min=1000000"]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn no_pivot_moves_the_root_and_chroots() {
    let mut world = World::new("nopivot", &[]);
    world.config["process"]["args"] = json!(checker(&[
        "hostname=peapod",
        "mount=/proc:proc",
        "missing=/work"
    ]));
    world.write_config();
    let bundle = world.bundle();
    let out = world.oci(&[
        "run",
        "--no-pivot",
        "--bundle",
        bundle.to_str().unwrap(),
        &world.id,
    ]);
    assert_checks_passed(&out);
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn linux_devices_are_created_and_usable() {
    let mut world = World::new("devices", &[]);
    world.config["linux"]["devices"] =
        json!([{"path": "/dev/peapod-null", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]);
    world.config["process"]["args"] = json!([
        "sh",
        "-c",
        "echo x > /dev/peapod-null && /checker dev=/dev/peapod-null:c:1:3 uid=0"
    ]);
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok dev=/dev/peapod-null:c:1:3"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn personality_linux32_is_applied() {
    let mut world = World::new("personality", &[]);
    world.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    run_checks(&mut world, &["file=/proc/self/personality:00000008"]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn start_container_hooks_run_inside_and_their_failure_fails_start() {
    let mut world = World::new("starthook", &["true"]);
    // Runs in the container's namespaces: it sees the container's hostname.
    world.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "hostname > /tmp/seen"]}]});
    world.config["root"]["readonly"] = json!(false);
    world.config["process"]["args"] = json!(["sh", "-c", "cat /tmp/seen"]);
    world.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/tmp");
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "peapod\n");
    world.assert_nothing_left();

    let mut world = World::new("starthook-fail", &["true"]);
    world.config["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    let out = world.run();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    // Said on stderr even though init had already reported "created".
    assert!(
        text(&out).contains("startContainer hook /bin/false failed"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn spec_writes_a_config_that_runs_and_refuses_to_overwrite() {
    let world = World::new("spec", &["true"]);
    let dir = world.tmp.path().join("bundle");
    let out = world.oci(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["hostname"], "peapod");
    config["process"]["args"] = json!(["true"]);
    config["linux"]["cgroupsPath"] = json!(world.cgroup_path());
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let out = world.oci(&["run", "--bundle", dir.to_str().unwrap(), &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    let again = world.oci(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already exists"), "{}", text(&again));
    world.assert_nothing_left();
}

#[test]
fn features_lists_what_the_runtime_supports() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peapod-oci"))
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success());
    let features: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(features["ociVersionMin"], "1.0.0");
    let namespaces = features["linux"]["namespaces"].as_array().unwrap();
    assert_eq!(namespaces.len(), 8);
    assert_eq!(features["linux"]["seccomp"]["enabled"], true);
    assert!(
        features["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("CAP_SYS_ADMIN"))
    );
}
