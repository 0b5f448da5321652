//! Attack tests for issue 8's classes: each replays, as an attacker would, an input that
//! known runtime CVEs and bug reports used, and asserts the runtime refuses it or stays safe.

use serde_json::json;

use crate::support::{World, text};

/// A bundle's own symlinks never lead the runtime out of it: a rootfs that is a symlink to
/// `/` (an unpacked archive can carry one) is refused as runc refuses it, and so is a
/// relative bind source that leads out of the bundle.
#[test]
#[ignore = "root: cargo xtask test"]
fn bundle_symlinks_out_of_the_bundle_are_refused() {
    let world = World::new(
        "rootfs-link",
        &["sh", "-c", "echo pwned > /etc/peapod-pwned"],
    );
    let rootfs = world.bundle().join("rootfs");
    std::fs::rename(&rootfs, world.bundle().join("image")).unwrap();
    std::os::unix::fs::symlink("/", &rootfs).unwrap();
    let out = world.run();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("invalid rootfs rootfs"),
        "{}",
        text(&out)
    );
    assert!(!std::path::Path::new("/etc/peapod-pwned").exists());
    world.assert_nothing_left();

    let mut world = World::new("bind-link", &["cat", "/mnt/hostname"]);
    std::os::unix::fs::symlink("/etc", world.bundle().join("data")).unwrap();
    world.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt", "type": "bind", "source": "data", "options": ["rbind", "ro"]}));
    let out = world.run();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("invalid bind source data for /mnt: it leads out of the bundle"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

/// A pid file in the bundle (containerd's layout) is written without following a symlink
/// planted at its temporary name: the file it points to is untouched.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_symlink_at_the_pid_files_temporary_name_is_not_followed() {
    let world = World::new("pidfile-link", &["sleep", "30"]);
    let victim = world.tmp.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, world.bundle().join("init.peapod-tmp")).unwrap();
    world.write_config();
    let bundle = world.bundle();
    let pid_file = bundle.join("init.pid");
    let out = world.oci(&[
        "run",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        &world.id,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid, world.state()["pid"].to_string());
    let out = world.oci(&["delete", "--force", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
}

/// The runtime spec: changes to config.json after create have no effect. `exec`, `kill` and
/// `delete` use what create recorded: with the pid namespace gone from the config and a
/// seccomp rule added, exec'd processes still get the container's pid namespace and no
/// rule; with the config deleted, they all still work.
#[test]
#[ignore = "root: cargo xtask test"]
fn changes_to_config_json_after_create_have_no_effect() {
    let mut world = World::new("config-edit", &["sleep", "60"]);
    world.run_detached();
    world.config["linux"]["namespaces"] =
        json!([{"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    world.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
    world.config["process"]["env"] = json!(["PATH=/nowhere"]);
    world.write_config();
    let script = "echo pid=$$; mkdir /tmp/made && echo made";
    let out = world.oci(&["exec", &world.id, "sh", "-c", script]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}", text(&out)));
    assert!(
        pid < 10,
        "exec ran outside the container's pid namespace: {}",
        text(&out)
    );
    assert!(stdout.contains("made\n"), "{}", text(&out));

    std::fs::remove_file(world.bundle().join("config.json")).unwrap();
    let out = world.oci(&["exec", &world.id, "sh", "-c", "echo $$"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = world.oci(&["kill", &world.id, "KILL"]);
    assert!(out.status.success(), "{}", text(&out));
    crate::support::wait_for_status(&world, "stopped");
    let out = world.oci(&["delete", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
}

/// A hook that writes more than a pipe holds to stderr is drained while it runs: `run`
/// completes (the hook's timeout only bounds the test: before, the hook blocked on its full
/// pipe until that timeout killed it).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_hook_with_a_flood_of_stderr_does_not_hang_the_runtime() {
    let mut world = World::new("hook-flood", &["true"]);
    let flood = json!({"path": "/bin/sh", "timeout": 20,
        "args": ["sh", "-c", "head -c 262144 /dev/zero | tr '\\0' x >&2"]});
    world.config["hooks"] =
        json!({"createRuntime": [flood], "poststart": [flood], "poststop": [flood]});
    let started = std::time::Instant::now();
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    world.assert_nothing_left();
}

/// No fixed-size limit in the runtime's own messages: annotations of 100 KiB and 4 MiB
/// (past one packet and one socket buffer; runc and crun run 64 MiB, which works too but
/// takes a debug build seconds of JSON) reach the hooks whole, in the state on their stdin,
/// both from the runtime (createRuntime) and through init (createContainer).
#[test]
#[ignore = "root: cargo xtask test"]
fn large_annotations_reach_the_hooks_whole() {
    for size in [100 << 10, 4 << 20] {
        let mut world = World::new("big-annotation", &["true"]);
        world.config["annotations"] = json!({"big": "a".repeat(size)});
        let count = |name: &str| {
            let file = world.bundle().join(name);
            json!({"path": "/bin/sh", "args": ["sh", "-c", format!("wc -c > {}", file.display())]})
        };
        world.config["hooks"] = json!({
            "createRuntime": [count("runtime.len")],
            "createContainer": [count("container.len")],
        });
        let out = world.run();
        assert!(out.status.success(), "{size} bytes: {}", text(&out));
        for name in ["runtime.len", "container.len"] {
            let len = std::fs::read_to_string(world.bundle().join(name)).unwrap();
            let len: usize = len.trim().parse().unwrap();
            assert!(len > size && len < size + 1024, "{name}: {len} for {size}");
        }
        world.assert_nothing_left();
    }
}

/// A container that joins another's pid namespace leaves its children alive when its init
/// exits (nobody's pid 1 died): `delete` and `delete --force` kill what is left in its
/// cgroup, as runc and crun do, and remove everything. `run` (which deletes) exits too.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_stopped_container_sharing_a_pid_namespace_is_deleted_with_its_leftovers() {
    let holder = World::new("pidns-holder", &["sleep", "60"]);
    holder.run_detached();
    let pidns = format!("/proc/{}/ns/pid", holder.state()["pid"]);
    for (how, token) in [
        ("delete", "30301"),
        ("delete --force", "30302"),
        ("run", "30303"),
    ] {
        let mut world = World::new(
            "pidns-guest",
            &["sh", "-c", &format!("sleep {token} & exit 0")],
        );
        world.config["linux"]["namespaces"][0] = json!({"type": "pid", "path": pidns});
        if how == "run" {
            let out = world.run();
            assert!(out.status.success(), "{how}: {}", text(&out));
        } else {
            world.run_detached();
            crate::support::wait_for_status(&world, "stopped");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while sleeping(token).is_empty() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{how}: no sleep {token}"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let out = world.oci(
                &how.split(' ')
                    .chain([world.id.as_str()])
                    .collect::<Vec<_>>(),
            );
            assert!(out.status.success(), "{how}: {}", text(&out));
        }
        assert!(!world.root().join(&world.id).exists(), "{how}: state left");
        for dir in crate::support::cgroup_dirs(&world.cgroup_path()) {
            assert!(!dir.exists(), "{how}: cgroup {} left", dir.display());
        }
        assert!(sleeping(token).is_empty(), "{how}: sleep {token} lives on");
    }
    let out = holder.oci(&["delete", "--force", &holder.id]);
    assert!(out.status.success(), "{}", text(&out));
    holder.assert_nothing_left();
}

/// The pids of processes running `sleep TOKEN`.
fn sleeping(token: &str) -> Vec<String> {
    let wanted = format!("sleep\0{token}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted.as_bytes())
        })
        .collect()
}

/// A runtime killed (SIGKILL) at any step of create, start, exec or delete leaves nothing
/// that `delete --force` cannot clear: afterwards no state, cgroup, process or mount is left
/// and the id can be created again. Each verb is killed at increasing delays, so that the
/// kills land before, during and after each of its steps (create's createRuntime hook
/// sleeps at first, to hold it in the middle for a while).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_runtime_killed_at_any_step_leaves_nothing_delete_force_cannot_clear() {
    let mut world = World::new("killed", &["sleep", "60"]);
    world.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 0.1"]}]});
    world.write_config();
    let bundle = world.bundle();
    let create = ["create", "--bundle", bundle.to_str().unwrap(), &world.id];
    for delay in [0, 1, 2, 3, 5, 8, 12, 18, 27, 40, 70, 110, 150] {
        killed_after(&world, &create, delay);
        clear_and_reuse(&world, &format!("create killed after {delay} ms"));
    }
    world.config["hooks"] = json!({});
    world.write_config();
    for delay in [0, 1, 3, 6, 12, 24] {
        let exec = ["exec", &world.id, "sh", "-c", "sleep 0.05"];
        let verbs: [&[&str]; 3] = [
            &["start", &world.id],
            &exec,
            &["delete", "--force", &world.id],
        ];
        for verb in verbs {
            let out = world.oci(&create);
            assert!(out.status.success(), "{}", text(&out));
            if verb[0] == "exec" {
                let out = world.oci(&["start", &world.id]);
                assert!(out.status.success(), "{}", text(&out));
            }
            killed_after(&world, verb, delay);
            clear_and_reuse(&world, &format!("{} killed after {delay} ms", verb[0]));
        }
    }
}

/// Starts `peapod-oci ARGS` and SIGKILLs it after `delay_ms`.
fn killed_after(world: &World, args: &[&str], delay_ms: u64) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_peapod-oci"))
        .arg("--root")
        .arg(world.root())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    let _ = child.kill();
    child.wait().unwrap();
}

/// `delete --force` succeeds and leaves nothing; the id is free for a new create.
fn clear_and_reuse(world: &World, when: &str) {
    let out = world.oci(&["delete", "--force", &world.id]);
    assert!(out.status.success(), "{when}: {}", text(&out));
    world.assert_nothing_left();
    let bundle = world.bundle();
    let out = world.oci(&["create", "--bundle", bundle.to_str().unwrap(), &world.id]);
    assert!(
        out.status.success(),
        "{when}: the id is not free: {}",
        text(&out)
    );
    let out = world.oci(&["delete", "--force", &world.id]);
    assert!(out.status.success(), "{when}: {}", text(&out));
    world.assert_nothing_left();
}

/// CVE-2019-16884 class: /proc is trusted only when it is a procfs. A bind of a directory
/// over /proc (with a fake `self/setgroups` saying "deny") is refused, as runc refuses it;
/// and with no procfs in the container at all, a fake `/proc/self/setgroups` in the image
/// changes nothing: the process has exactly its user's groups, none of the runtime's (run
/// under `setpriv --groups 4,27`).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_fake_proc_decides_nothing() {
    let fake = |dir: &std::path::Path| {
        std::fs::create_dir_all(dir.join("self")).unwrap();
        std::fs::write(dir.join("self/setgroups"), "deny\n").unwrap();
    };
    let as_user = |world: &mut World| {
        world.config["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [2000]});
    };
    let mut world = World::new("fake-proc-bind", &["id", "-G"]);
    as_user(&mut world);
    let dir = world.tmp.path().join("fakeproc");
    fake(&dir);
    world.config["mounts"].as_array_mut().unwrap().insert(
        1,
        json!({"destination": "/proc", "type": "bind", "source": dir, "options": ["rbind"]}),
    );
    let out = run_with_groups(&world);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("only a procfs may be mounted on /proc"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();

    let mut world = World::new("fake-proc-image", &["id", "-G"]);
    as_user(&mut world);
    fake(&world.bundle().join("rootfs/proc"));
    let mounts = world.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["destination"] != "/proc");
    world.config["linux"]["maskedPaths"] = json!([]);
    world.config["linux"]["readonlyPaths"] = json!([]);
    let out = run_with_groups(&world);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1000 2000\n",
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

/// `run`s the world's container with the runtime holding supplementary groups 4 and 27.
fn run_with_groups(world: &World) -> std::process::Output {
    world.write_config();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--groups",
        "4,27",
        env!("CARGO_BIN_EXE_peapod-oci"),
        "--root",
    ])
    .arg(world.root())
    .args(["run", "--bundle"])
    .arg(world.bundle())
    .arg(&world.id);
    crate::support::run_to_files(&mut cmd, world.tmp.path())
}

/// CVE-2019-5736, the runtime's own processes: a container process holding CAP_SYS_PTRACE
/// watches for new pids and opens their `/proc/<pid>/exe` while the host runs `exec` into
/// its container, and `run` of containers joining its pid namespace (each puts a runtime
/// process there before the sealed trampoline's exec), in a bounded loop; once they are all
/// gone it tries to reopen every runtime binary it grabbed for writing. None may reopen.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_ptrace_capable_container_never_gets_the_runtime_binary_for_writing() {
    use std::os::unix::fs::MetadataExt;
    let runtime = std::fs::metadata(env!("CARGO_BIN_EXE_peapod-oci")).unwrap();
    let mut world = World::new("exe-grab", &[]);
    let stop = "/stop";
    world.config["process"]["args"] = json!(crate::support::checker(&[&format!(
        "grab-exe={stop}:{}",
        runtime.ino()
    )]));
    for set in ["bounding", "effective", "permitted"] {
        world.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_PTRACE"));
    }
    world.write_config();
    let bundle = world.bundle();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peapod-oci"));
    cmd.arg("--root").arg(world.root());
    cmd.args([
        "run",
        "--detach",
        "--bundle",
        bundle.to_str().unwrap(),
        &world.id,
    ]);
    let out_dir = world.tmp.path().join("attacker");
    std::fs::create_dir(&out_dir).unwrap();
    let out = crate::support::run_to_files(&mut cmd, &out_dir);
    assert!(out.status.success(), "{}", text(&out));

    let mut guest = World::new("exe-grab-guest", &["true"]);
    let pidns = format!("/proc/{}/ns/pid", world.state()["pid"]);
    guest.config["linux"]["namespaces"][0] = json!({"type": "pid", "path": pidns});
    guest.write_config();
    for round in 0..40 {
        let out = world.oci(&["exec", &world.id, "true"]);
        assert!(out.status.success(), "exec {round}: {}", text(&out));
        if round % 4 == 0 {
            let out = guest.run();
            assert!(out.status.success(), "run {round}: {}", text(&out));
        }
    }
    std::fs::write(bundle.join("rootfs").join(&stop[1..]), "").unwrap();
    // No peapod-oci may run meanwhile (the attacker waits for none to): poll its output.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut report = String::new();
    while !report.contains("grab-exe=") {
        assert!(std::time::Instant::now() < deadline, "no verdict: {report}");
        std::thread::sleep(std::time::Duration::from_millis(50));
        report = std::fs::read_to_string(out_dir.join("stdout")).unwrap();
    }
    crate::support::wait_for_status(&world, "stopped");
    assert!(report.contains("ok grab-exe="), "{report}");
    let out = world.oci(&["delete", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
    eprintln!("{report}");
}
