//! The OCI lifecycle, step by step, with the spec's errors.

use serde_json::json;

use crate::support::{World, assert_checks_passed, text, wait_for_status};

#[test]
#[ignore = "root: cargo xtask test"]
fn run_exits_with_the_container_exit_code_and_leaves_nothing() {
    let world = World::new("run-exit", &["sh", "-c", "exit 7"]);
    let out = world.run();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn create_start_state_kill_delete_step_by_step() {
    let mut world = World::new("lifecycle", &["sleep", "1000"]);
    let pid_file = world.tmp.path().join("pid");
    world.config["annotations"] = json!({"org.example/team": "peas"});
    world.write_config();
    let bundle = world.bundle();
    let out = world.oci(&[
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &world.id,
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let state = world.state();
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], world.id.as_str());
    assert_eq!(
        state["bundle"],
        bundle.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(state["annotations"]["org.example/team"], "peas");
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 1);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());

    // The same id again is refused, and the first container is untouched.
    let again = world.oci(&["create", "--bundle", bundle.to_str().unwrap(), &world.id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again).contains(&format!("container {} already exists", world.id)),
        "{}",
        text(&again)
    );
    assert_eq!(world.state()["status"], "created");

    let out = world.oci(&["start", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(world.state()["status"], "running");

    // start twice, and delete while running, are errors that change nothing.
    let out = world.oci(&["start", &world.id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is running; start needs it created"),
        "{}",
        text(&out)
    );
    let out = world.oci(&["delete", &world.id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is running; delete without --force needs it stopped"),
        "{}",
        text(&out)
    );

    let out = world.oci(&["ps", "--format", "json", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids, vec![pid]);

    let out = world.oci(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], world.id.as_str());
    assert_eq!(list[0]["status"], "running");

    let out = world.oci(&["kill", &world.id, "KILL"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for_status(&world, "stopped");
    assert_eq!(world.state()["pid"], 0);

    let out = world.oci(&["delete", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
    let out = world.oci(&["state", &world.id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains(&format!("container {} does not exist", world.id)));
    // delete --force of a container that is gone succeeds, as runc's does.
    assert!(
        world
            .oci(&["delete", "--force", &world.id])
            .status
            .success()
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn pause_and_resume_freeze_and_thaw() {
    let world = World::new("pause", &["sleep", "1000"]);
    world.run_detached();
    assert_eq!(world.state()["status"], "running");
    let out = world.oci(&["resume", &world.id]);
    assert!(
        text(&out).contains("is running; resume needs it paused"),
        "{}",
        text(&out)
    );
    assert!(world.oci(&["pause", &world.id]).status.success());
    assert_eq!(world.state()["status"], "paused");
    let pid = world.state()["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(stat.contains(") D ") || stat.contains(") S "), "{stat}");
    assert!(world.oci(&["resume", &world.id]).status.success());
    assert_eq!(world.state()["status"], "running");
    let out = world.oci(&["delete", "--force", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn hooks_run_at_their_time_with_the_state_on_stdin() {
    let mut world = World::new("hooks", &["true"]);
    let log = world.tmp.path().join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} $(cat) >> {}", log.display())]});
    // createContainer runs in the container's namespaces (its hostname) before pivot_root,
    // so the host path of the log still resolves.
    let in_container = json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo createContainer $(hostname) >> {}", log.display())]});
    world.config["hooks"] = json!({
        "createRuntime": [hook("createRuntime")],
        "prestart": [hook("prestart")],
        "createContainer": [in_container],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
    });
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    let log = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 5, "{log}");
    let creating = "\"status\":\"creating\"";
    assert!(
        lines[0].starts_with("createRuntime {") && lines[0].contains(creating),
        "{log}"
    );
    assert!(
        lines[1].starts_with("prestart {") && lines[1].contains(creating),
        "{log}"
    );
    assert_eq!(lines[2], "createContainer peapod", "{log}");
    assert!(
        lines[3].starts_with("poststart {") && lines[3].contains("\"status\":\"running\""),
        "{log}"
    );
    let id = format!("\"id\":\"{}\"", world.id);
    assert!(
        lines[4].starts_with("poststop {") && lines[4].contains(&id),
        "{log}"
    );
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let mut world = World::new("hook-fail", &["true"]);
    world.config["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    let out = world.run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("createRuntime hook /bin/false failed"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn exec_runs_in_the_containers_namespaces_and_cgroup_with_its_exit_code() {
    let world = World::new("exec", &["sleep", "1000"]);
    world.run_detached();
    let init = world.state()["pid"].as_i64().unwrap();
    let init_uts = std::fs::read_link(format!("/proc/{init}/ns/uts")).unwrap();
    let uts_inode = init_uts
        .to_string_lossy()
        .trim_start_matches("uts:[")
        .trim_end_matches(']')
        .to_owned();

    let out = world.oci(&[
        "exec",
        "--user",
        "1000:1000",
        "--env",
        "EXTRA=yes",
        "--cwd",
        "/tmp",
        &world.id,
        "/checker",
        "hostname=peapod",
        "uid=1000",
        "gid=1000",
        "env=EXTRA=yes",
        "env=TERM=xterm",
        "cwd=/tmp",
        &format!("ns=uts:{uts_inode}"),
        "status=NoNewPrivs:1",
        "fds=0,1,2",
    ]);
    assert_checks_passed(&out);

    let out = world.oci(&[
        "exec",
        &world.id,
        "sh",
        "-c",
        "cat /proc/self/cgroup; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    let out = world.oci(&["exec", &world.id, "/no/such/program"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "find executable \"/no/such/program\" in the container: no such file or directory"
        ),
        "{}",
        text(&out)
    );

    // Only init is left in the cgroup: exec'd processes were in it and are gone.
    let out = world.oci(&["ps", "--format", "json", &world.id]);
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids, vec![init]);

    assert!(world.oci(&["kill", &world.id, "KILL"]).status.success());
    wait_for_status(&world, "stopped");
    let out = world.oci(&["exec", &world.id, "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is stopped; exec needs it created or running"),
        "{}",
        text(&out)
    );
    assert!(world.oci(&["delete", &world.id]).status.success());
    world.assert_nothing_left();
}
