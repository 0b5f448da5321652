//! runc compatibility (issue 7): inputs real callers send (docker, containerd's CRI plugin,
//! podman) that runc 1.1 accepts, and its answers they rely on.

use std::path::Path;

use serde_json::json;

use crate::support::{
    World, assert_checks_passed, checker, namespace_holder, run_checks, text, wait_for_status,
};

/// docker 20.10 sends every resource it knows, unset ones as 0 (`blockIO.weight`, the
/// realtime CPU pair); runc reads 0 as "not set". On cgroup v2 a realtime value or a leaf
/// weight would be refused, so 0 must not count as one there either.
#[test]
#[ignore = "root: cargo xtask test"]
fn dockers_zero_resources_are_not_set() {
    let mut world = World::new("dockerres", &["true"]);
    world.config["linux"]["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "blockIO": {"weight": 0, "leafWeight": 0, "weightDevice": [{"major": 8, "minor": 0, "weight": 0, "leafWeight": 0}]},
        "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": ""},
        "memory": {"disableOOMKiller": false, "swappiness": u64::MAX},
        "pids": {"limit": 0}
    });
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
}

/// containerd's CRI plugin sends `kill --all ID 9` after a container exited and needs exit
/// 0; its shim recognises "container not running" from a plain kill.
#[test]
#[ignore = "root: cargo xtask test"]
fn killing_a_stopped_container_answers_as_runc() {
    let world = World::new("killstopped", &["true"]);
    world.run_detached();
    wait_for_status(&world, "stopped");
    let out = world.oci(&["kill", "--all", &world.id, "9"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = world.oci(&["kill", &world.id, "KILL"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("container not running"),
        "{}",
        text(&out)
    );
    let out = world.oci(&["delete", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
}

/// SIGKILL to a paused container thaws it, as runc does: a frozen process cannot die.
#[test]
#[ignore = "root: cargo xtask test"]
fn sigkill_to_a_paused_container_kills_it() {
    let world = World::new("killpaused", &["sleep", "1000"]);
    world.run_detached();
    assert!(world.oci(&["pause", &world.id]).status.success());
    assert_eq!(world.state()["status"], "paused");
    let out = world.oci(&["kill", &world.id, "KILL"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for_status(&world, "stopped");
    let out = world.oci(&["delete", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
}

/// Config leniencies of runc that engines rely on: any ociVersion, an rlimit listed twice
/// (the last one wins, as runc sets them in order), a capability this runtime does not know
/// (ignored with a warning: a newer engine may name newer ones).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_config_runc_runs_runs() {
    let mut world = World::new("lenient", &["sh", "-c", "ulimit -n"]);
    world.config["ociVersion"] = json!("1.0.2-dev");
    world.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
        {"type": "RLIMIT_NOFILE", "hard": 512, "soft": 512}
    ]);
    world.config["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_FROM_THE_FUTURE"));
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "512");
    assert_warned_of_the_future_capability(&out);
    world.assert_nothing_left();
}

/// runc brings `lo` up in every network namespace it creates (containerd's default and
/// `podman run --network none` rely on it): 127.0.0.1 and ::1 then carry traffic.
#[test]
#[ignore = "root: cargo xtask test"]
fn loopback_is_up_in_a_new_network_namespace() {
    let mut world = World::new("loopback", &[]);
    run_checks(&mut world, &["loopback=127.0.0.1", "loopback=::1"]);
}

/// `hostname` with a uts namespace joined by path is set in that namespace, as runc and
/// crun do; the host's stays as it was.
#[test]
#[ignore = "root: cargo xtask test"]
fn the_hostname_is_set_in_a_uts_namespace_joined_by_path() {
    let mut world = World::new("joinuts", &[]);
    let host = nix::unistd::gethostname().unwrap();
    let (mut holder, path) = namespace_holder("uts");
    let namespaces = world.config["linux"]["namespaces"].as_array_mut().unwrap();
    namespaces.retain(|ns| ns["type"] != "uts");
    namespaces.push(json!({"type": "uts", "path": path}));
    world.config["hostname"] = json!("joined");
    world.config["domainname"] = json!("joined.example");
    world.config["process"]["args"] =
        json!(checker(&["hostname=joined", "domainname=joined.example"]));
    let out = world.run();
    let seen = std::process::Command::new("nsenter")
        .args([&format!("--uts={path}"), "hostname"])
        .output()
        .unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_checks_passed(&out);
    assert_eq!(String::from_utf8_lossy(&seen.stdout).trim(), "joined");
    assert_eq!(nix::unistd::gethostname().unwrap(), host);
    world.assert_nothing_left();
}

/// `memory.kernelTCP` is written where the kernel has the file (cgroup v1); what a host
/// cannot apply and runc goes on without (`memory.kernel` everywhere, kernelTCP and
/// swappiness on v2) is a warning on stderr and in the `--log` file, never silently dropped.
#[test]
#[ignore = "root: cargo xtask test"]
fn ignored_resources_warn_on_the_log_and_kernel_tcp_is_written() {
    let mut world = World::new("kerneltcp", &["sleep", "100"]);
    world.config["linux"]["resources"]["memory"] =
        json!({"kernel": 1 << 20, "kernelTCP": 64 << 20, "swappiness": 10});
    world.write_config();
    let log = world.tmp.path().join("log.json");
    let bundle = world.bundle();
    let out = world.oci(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        &world.id,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let tcp = Path::new("/sys/fs/cgroup/memory")
        .join(world.cgroup_path().trim_start_matches('/'))
        .join("memory.kmem.tcp.limit_in_bytes");
    let v1 = tcp.exists();
    let written = v1.then(|| std::fs::read_to_string(&tcp).unwrap());
    assert!(
        world
            .oci(&["delete", "--force", &world.id])
            .status
            .success()
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    let warned: Vec<String> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["level"] == "warning")
        .map(|l| l["msg"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec!["linux.resources.memory.kernel is ignored"];
    if v1 {
        assert_eq!(written.as_deref().map(str::trim), Some("67108864"));
    } else {
        expected.extend([
            "linux.resources.memory.swappiness is ignored",
            "linux.resources.memory.kernelTCP is ignored",
        ]);
    }
    assert_eq!(warned.len(), expected.len(), "{warned:?}\n{}", text(&out));
    for (got, want) in warned.iter().zip(expected) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: linux.resources.memory.kernel"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

/// runc pauses a created container too (and resuming it gives a created one back).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_created_container_can_be_paused_and_resumed() {
    let world = World::new("pausecreated", &["sleep", "100"]);
    world.write_config();
    let bundle = world.bundle();
    let out = world.oci(&["create", "--bundle", bundle.to_str().unwrap(), &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    for (verb, status) in [
        ("pause", "paused"),
        ("resume", "created"),
        ("start", "running"),
    ] {
        let out = world.oci(&[verb, &world.id]);
        assert!(out.status.success(), "{verb}: {}", text(&out));
        assert_eq!(world.state()["status"], status, "after {verb}");
    }
    world.delete_force_leaving_nothing();
}

/// `exec --process FILE` (containerd's way) reads capabilities as create does: a name this
/// runtime does not know is ignored with a warning, as runc ignores it.
#[test]
#[ignore = "root: cargo xtask test"]
fn exec_of_a_process_file_with_an_unknown_capability_runs() {
    let world = World::new("execcaps", &["sleep", "100"]);
    world.run_detached();
    let file = world.tmp.path().join("process.json");
    let caps = json!(["CAP_KILL", "CAP_FROM_THE_FUTURE"]);
    let process = json!({
        "args": ["echo", "hi"], "cwd": "/", "user": {"uid": 0, "gid": 0},
        "env": ["PATH=/bin"],
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}
    });
    std::fs::write(&file, process.to_string()).unwrap();
    let out = world.oci(&["exec", "--process", file.to_str().unwrap(), &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert_warned_of_the_future_capability(&out);
    world.delete_force_leaving_nothing();
}

fn assert_warned_of_the_future_capability(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = "warning: ignoring unknown capabilities: CAP_FROM_THE_FUTURE";
    assert!(stderr.contains(warning), "{}", text(out));
}

/// runc makes every process it starts lead a new session, terminal or not (criu refuses
/// to checkpoint a container whose init's session leader is outside it): init is session
/// 1 in its pid namespace, and an exec'd process leads its own.
#[test]
#[ignore = "root: cargo xtask test"]
fn init_and_exec_lead_their_own_sessions() {
    let world = World::new(
        "oci-session",
        &["sh", "-c", "cut -d' ' -f6 /proc/1/stat; sleep 100"],
    );
    world.run_detached();
    let out = world.oci(&[
        "exec",
        &world.id,
        "sh",
        "-c",
        "echo $(cut -d' ' -f6 /proc/1/stat) $(cut -d' ' -f6 /proc/self/stat) $$",
    ]);
    let words: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(words.len(), 3, "{}", text(&out));
    assert_eq!(words[0], "1", "init's session: {}", text(&out));
    assert_eq!(
        words[1],
        words[2],
        "exec's session is not its own: {}",
        text(&out)
    );
    world.delete_force_leaving_nothing();
}

/// Stdio that is the host's /dev/null becomes the container's /dev/null, as runc makes it
/// (criu cannot checkpoint a file of the host's /dev): still the null device, on another
/// mount than the host's.
#[test]
#[ignore = "root: cargo xtask test"]
fn stdio_on_the_hosts_dev_null_becomes_the_containers() {
    use std::os::unix::fs::MetadataExt;
    let world = World::new("oci-devnull", &["sleep", "100"]);
    // `oci` gives the runtime (and so the container) the host's /dev/null as stdin.
    world.run_detached();
    let pid = world.state()["pid"].as_i64().unwrap();
    let mnt_id = |fdinfo: &str| {
        std::fs::read_to_string(fdinfo)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:").map(|v| v.trim().to_owned()))
            .unwrap()
    };
    let host_null = std::fs::File::open("/dev/null").unwrap();
    let host = mnt_id(&format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(&host_null)
    ));
    let stdin = std::fs::metadata(format!("/proc/{pid}/fd/0")).unwrap();
    assert_eq!(stdin.rdev(), nix::sys::stat::makedev(1, 3));
    assert_ne!(mnt_id(&format!("/proc/{pid}/fdinfo/0")), host);
    world.delete_force_leaving_nothing();
}
