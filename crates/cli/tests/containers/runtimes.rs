//! `--runtime runc` and `--runtime crun`: the engine drives another OCI runtime through
//! runc's command line (`run --detach`, `exec`, `kill`, `pause`, `delete`). crun 1.8 runs
//! where it can (cgroup v2, the test guest) and is refused with a clear error on a hybrid
//! host whose cgroup2 mount holds controllers (this machine), which crun does not support.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text};
use crate::tmux::Tmux;

/// `runc --root <our runroot>/runtime-runc ARGS`: what runc itself knows.
fn runc(e: &Engine, args: &[&str]) -> std::process::Output {
    Command::new("runc")
        .arg("--root")
        .arg(e.runroot().join("runtime-runc"))
        .args(args)
        .output()
        .expect("runc (cargo xtask deps)")
}

/// Asserts the runtime's own state directory (`runc`, `crun`) holds no container.
fn runtime_has_nothing(e: &Engine, runtime: &str) {
    let left: Vec<_> = std::fs::read_dir(e.runroot().join(format!("runtime-{runtime}")))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{runtime} state left: {left:?}");
}

#[test]
#[ignore = "root: cargo xtask test"]
fn runc_runs_in_the_foreground_and_detached_with_exec_pause_stop_and_rm() {
    let e = Engine::new();
    // In the foreground, removed after: output, exit code.
    let out = e.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(e.count(), 0);
    runtime_has_nothing(&e, "runc");
    // Detached: runc holds it, exec and pause go through runc, stop ends it.
    let id = e.ok(&[
        "run",
        "-d",
        "--runtime",
        "runc",
        "--name",
        "via-runc",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    e.wait_for(
        "via-runc",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    let state = runc(&e, &["state", id]);
    assert!(state.status.success(), "runc state: {}", text(&state));
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(state["status"], "running");
    let until = Instant::now() + Duration::from_secs(10);
    while e.ok(&["logs", "via-runc"]) != "ready\n" {
        assert!(Instant::now() < until, "no log line");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(e.ok(&["exec", "via-runc", "echo", "inside"]), "inside\n");
    let out = e.run(&["exec", "via-runc", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(
        e.ok(&["exec", "-e", "PEA=pod", "via-runc", "sh", "-c", "echo $PEA"]),
        "pod\n"
    );
    e.ok(&["pause", "via-runc"]);
    assert_eq!(e.inspect("via-runc", "{{.State.Status}}"), "paused");
    let state: serde_json::Value =
        serde_json::from_slice(&runc(&e, &["state", id]).stdout).unwrap();
    assert_eq!(state["status"], "paused");
    e.ok(&["unpause", "via-runc"]);
    assert_eq!(e.inspect("via-runc", "{{.State.Status}}"), "running");
    // Its trap answers SIGTERM at once: stop takes far less than its 10 s.
    let began = Instant::now();
    e.ok(&["stop", "via-runc"]);
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(
        e.inspect("via-runc", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    e.ok(&["rm", "via-runc"]);
    runtime_has_nothing(&e, "runc");
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn runc_gives_run_it_and_exec_it_a_terminal() {
    let e = Engine::new();
    let t = Tmux::new();
    let run = e.cmd(&[
        "run",
        "-it",
        "--runtime",
        "runc",
        "--name",
        "runc-tty",
        IMAGE,
        "sh",
    ]);
    t.open("run", 80, 24, &run);
    t.wait_screen("run", &["/ #"]);
    t.type_line("run", "stty size; echo via runc");
    t.wait_screen(
        "run",
        &["/ # stty size; echo via runc", "24 80", "via runc", "/ #"],
    );
    t.open("exec", 70, 20, &e.cmd(&["exec", "-it", "runc-tty", "sh"]));
    t.wait_screen("exec", &["/ #"]);
    t.type_line("exec", "stty size; exit 4");
    assert_eq!(t.wait_exit("exec"), 4);
    t.wait_screen("exec", &["/ # stty size; exit 4", "20 70"]);
    t.type_line("run", "exit 5");
    assert_eq!(t.wait_exit("run"), 5);
    e.ok(&["rm", "runc-tty"]);
    t.close();
    runtime_has_nothing(&e, "runc");
    e.assert_clean();
}

/// Whether crun refuses this host: hybrid cgroups (v1 controllers, cgroup2 at `unified`)
/// with controllers in the cgroup2 mount.
fn crun_refuses_this_host() -> bool {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let unified = std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers");
    !v2 && unified.is_ok_and(|c| !c.trim().is_empty())
}

/// crun runs containers where it can (cgroup v2: run --rm, -d + exec + pause + stop + rm),
/// and is refused up front, naming crun and the cause, with nothing made, where it cannot.
#[test]
#[ignore = "root: cargo xtask test"]
fn crun_runs_where_it_can_and_is_refused_clearly_where_it_cannot() {
    let e = Engine::new();
    let run_rm = [
        "run",
        "--rm",
        "--runtime",
        "crun",
        IMAGE,
        "sh",
        "-c",
        "echo via crun; exit 3",
    ];
    if crun_refuses_this_host() {
        for args in [
            &run_rm[..],
            &["create", "--runtime", "crun", "--name", "crun-c", IMAGE],
        ] {
            let out = e.run(args);
            assert_eq!(out.status.code(), Some(125), "{}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("crun") && err.contains("hybrid") && err.contains("cgroup2"),
                "{err}"
            );
            assert_eq!(e.count(), 0, "{err}");
        }
        e.assert_clean();
        return;
    }
    let out = e.run(&run_rm);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via crun\n");
    assert_eq!(e.count(), 0);
    e.ok(&[
        "run",
        "-d",
        "--runtime",
        "crun",
        "--name",
        "via-crun",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    e.wait_for(
        "via-crun",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    let out = e.run(&["exec", "via-crun", "sh", "-c", "echo inside; exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "inside\n");
    e.ok(&["pause", "via-crun"]);
    assert_eq!(e.inspect("via-crun", "{{.State.Status}}"), "paused");
    e.ok(&["unpause", "via-crun"]);
    e.ok(&["stop", "via-crun"]);
    assert_eq!(
        e.inspect("via-crun", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    e.ok(&["rm", "via-crun"]);
    runtime_has_nothing(&e, "crun");
    e.assert_clean();
}
