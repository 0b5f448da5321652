//! `--runtime runc`: the engine drives another OCI runtime through runc's command line
//! (`run --detach`, `exec`, `kill`, `pause`, `delete`). crun is not tested: Debian's crun
//! 1.8 refuses this host's hybrid cgroups and a config.json whose ociVersion is 1.2.

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

/// Asserts runc's own state directory holds no container.
fn runc_has_nothing(e: &Engine) {
    let left: Vec<_> = std::fs::read_dir(e.runroot().join("runtime-runc"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "runc state left: {left:?}");
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
    runc_has_nothing(&e);
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
    runc_has_nothing(&e);
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
    runc_has_nothing(&e);
    e.assert_clean();
}
