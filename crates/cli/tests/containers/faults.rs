//! Faults: a monitor or a container process killed, a reboot (an empty runroot), many
//! containers at once. After each, the state reconciles and removal leaves nothing.

use std::time::Duration;

use crate::support::{Engine, IMAGE, text};

fn pid_of(e: &Engine, name: &str, field: &str) -> i32 {
    let doc: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", name])).unwrap();
    match field {
        "monitor" => {
            let id = doc[0]["Id"].as_str().unwrap().to_owned();
            let state =
                std::fs::read(e.runroot().join("containers").join(id).join("state.json")).unwrap();
            let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
            i32::try_from(state["monitor_pid"].as_i64().unwrap()).unwrap()
        }
        _ => i32::try_from(doc[0]["State"]["Pid"].as_i64().unwrap()).unwrap(),
    }
}

fn kill9(pid: i32) {
    assert!(pid > 1, "not a pid to kill: {pid}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_killed_monitor_or_container_process_reconciles_to_exited() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "lost", IMAGE, "sleep", "1000"]);
    e.wait_for(
        "lost",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    kill9(pid_of(&e, "lost", "monitor"));
    e.wait_for(
        "lost",
        "{{.State.Status}} {{.State.ExitCode}}",
        "exited 255",
        Duration::from_secs(10),
    );
    // It can be started again, then removed.
    e.ok(&["start", "lost"]);
    e.wait_for(
        "lost",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    kill9(pid_of(&e, "lost", "pid"));
    e.wait_for(
        "lost",
        "{{.State.Status}} {{.State.ExitCode}}",
        "exited 137",
        Duration::from_secs(10),
    );
    e.ok(&["rm", "lost"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn after_a_reboot_running_containers_show_exited_and_start_again() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "before", IMAGE, "sleep", "1000"]);
    e.wait_for(
        "before",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    // A reboot: every process gone, mounts gone, the runroot (a tmpfs) empty.
    let (monitor, init) = (pid_of(&e, "before", "monitor"), pid_of(&e, "before", "pid"));
    kill9(monitor);
    kill9(init);
    let merged = e.root().join("containers");
    for entry in std::fs::read_dir(&merged).unwrap().flatten() {
        let _ = nix::mount::umount2(
            &entry.path().join("merged"),
            nix::mount::MntFlags::MNT_DETACH,
        );
    }
    let run = e.runroot();
    std::fs::remove_dir_all(&run).unwrap();
    e.wait_for(
        "before",
        "{{.State.Status}}",
        "exited",
        Duration::from_secs(10),
    );
    e.ok(&["start", "before"]);
    e.wait_for(
        "before",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    assert_eq!(e.ok(&["exec", "before", "echo", "back"]), "back\n");
    e.ok(&["rm", "-f", "before"]);
    e.assert_clean();
}

fn parallel(e: &Engine, n: usize, args: impl Fn(usize) -> Vec<String>) {
    let children: Vec<_> = (0..n)
        .map(|i| {
            let a = args(i);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            e.cmd(&a)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn thirty_two_at_once_run_and_are_removed_without_a_leak() {
    let e = Engine::new();
    parallel(&e, 32, |i| {
        [
            "run",
            "-d",
            "--name",
            &format!("c{i}"),
            IMAGE,
            "sleep",
            "1000",
        ]
        .map(String::from)
        .to_vec()
    });
    let names = e.ok(&["ps", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 32, "{names:?}");
    parallel(&e, 32, |i| {
        ["rm", "-f", &format!("c{i}")].map(String::from).to_vec()
    });
    e.assert_clean();
    parallel(&e, 32, |i| {
        ["run", "--rm", IMAGE, "echo", &i.to_string()]
            .map(String::from)
            .to_vec()
    });
    e.assert_clean();
}
