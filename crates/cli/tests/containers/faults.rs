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
    // The pinned network namespace is a mount under the runroot.
    let pins = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for pin in pins
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(run.to_str().unwrap()))
    {
        nix::mount::umount2(pin, nix::mount::MntFlags::MNT_DETACH).unwrap();
    }
    std::fs::remove_dir_all(&run).unwrap();
    // Its veth goes with its namespace, in the background.
    e.wait_clean();
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

/// Runs `args` with a pause at `point`, waits (bounded) until it says it got there, and
/// kills it with SIGKILL.
fn kill_at(e: &Engine, point: &str, args: &[&str]) {
    use std::io::BufRead;
    let mut child = e
        .cmd(args)
        .env("_PEAPOD_TEST_PAUSE_AT", point)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("paused at") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let got = rx.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        got.ok().as_deref(),
        Some(format!("paused at {point}").as_str()),
        "{args:?} never reached {point}"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn peapod_killed_in_the_middle_of_run_or_rm_leaves_a_state_rm_clears() {
    let e = Engine::new();
    for point in [
        "create:row",
        "create:mounted",
        "create:config",
        "start:mounted",
        "start:monitor",
    ] {
        kill_at(
            &e,
            point,
            &["run", "-d", "--name", "victim", IMAGE, "sleep", "1000"],
        );
        // Whatever is left shows in ps and goes with rm -f.
        let listed = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
        assert!(listed.starts_with("victim "), "{point}: {listed}");
        e.ok(&["rm", "-f", "victim"]);
        e.assert_clean();
    }
    for point in ["remove:claimed", "remove:files"] {
        e.ok(&["run", "-d", "--name", "victim", IMAGE, "sleep", "1000"]);
        kill_at(&e, point, &["rm", "-f", "victim"]);
        e.ok(&["rm", "-f", "victim"]);
        e.assert_clean();
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_full_disk_under_the_upper_dir_fails_cleanly() {
    let e = Engine::new();
    // Containers' directories (upper dirs) on a small tmpfs; the database and images stay
    // where they are.
    let containers = e.root().join("containers");
    std::fs::create_dir_all(&containers).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &containers,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=16m,mode=0700"),
    )
    .unwrap();
    let out = e.run(&[
        "run",
        "--name",
        "filler",
        IMAGE,
        "dd",
        "if=/dev/zero",
        "of=/big",
        "bs=1M",
        "count=64",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No space left"),
        "{}",
        text(&out)
    );
    // The disk is full: a new container fails clearly (or runs, if it fits) and either way
    // leaves nothing once removed.
    let out = e.run(&[
        "run",
        "--rm",
        "-v",
        "/scratch",
        IMAGE,
        "sh",
        "-c",
        "echo x > /y",
    ]);
    if !out.status.success() {
        assert!(matches!(out.status.code(), Some(1 | 125)), "{}", text(&out));
    }
    e.ok(&["rm", "-f", "filler"]);
    let left: Vec<_> = std::fs::read_dir(&containers).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
    nix::mount::umount2(&containers, nix::mount::MntFlags::MNT_DETACH).unwrap();
    e.ok(&["volume", "prune"]);
    e.assert_clean();
}
