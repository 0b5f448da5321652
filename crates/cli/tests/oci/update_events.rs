//! runc's `update` and `events` (issue 11: the CLI surface containerd's shim and go-runc
//! call): resources changed live from flags and from `--resources` JSON, read back through
//! `events --stats` and met by the container; stats and OOM events as runc prints them.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{World, text, wait_for_status};

/// `events --stats`: one JSON line, runc's stats event.
fn stats(world: &World) -> Value {
    let out = world.oci(&["events", "--stats", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    let event: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["type"], "stats", "{event}");
    assert_eq!(event["id"], world.id.as_str(), "{event}");
    event["data"].clone()
}

/// Execs a shell that starts three more processes: whether all the forks succeeded.
fn three_more_processes_start(world: &World) -> bool {
    let script = "sleep 1 & sleep 1 & sleep 1 & wait";
    let out = world.oci(&["exec", &world.id, "sh", "-c", script]);
    let forked = out.status.success();
    assert!(
        forked || text(&out).contains("can't fork"),
        "{}",
        text(&out)
    );
    forked
}

#[test]
#[ignore = "root: cargo xtask test"]
fn update_from_flags_and_from_resources_json_applies_live() {
    let world = World::new("update", &["sleep", "600"]);
    world.run_detached();
    let before = stats(&world);
    assert_eq!(before["pids"]["current"], 1, "{before}");
    assert_eq!(before["pids"]["limit"], 0, "unlimited: {before}");

    let out = world.oci(&["update", "--memory", "64m", "--pids-limit", "20", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    let after = stats(&world);
    assert_eq!(after["memory"]["usage"]["limit"], 64 << 20, "{after}");
    assert_eq!(after["pids"]["limit"], 20, "{after}");

    // containerd's shim: `update --resources -` with OCI JSON on stdin; a flag overrides it.
    let mut update = Command::new(env!("CARGO_BIN_EXE_peapod-oci"))
        .arg("--root")
        .arg(world.root())
        .args(["update", "--resources", "-", "--memory", "48M", &world.id])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let resources = json!({"memory": {"limit": 32 << 20}, "pids": {"limit": 4}});
    update
        .stdin
        .take()
        .unwrap()
        .write_all(resources.to_string().as_bytes())
        .unwrap();
    let out = update.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let after = stats(&world);
    assert_eq!(after["memory"]["usage"]["limit"], 48 << 20, "{after}");
    assert_eq!(after["pids"]["limit"], 4, "{after}");
    // Met at once: init, the exec'd shell and three more are over 4, not over 10.
    assert!(!three_more_processes_start(&world));
    let out = world.oci(&["update", "--pids-limit", "10", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(three_more_processes_start(&world));
    world.delete_force_leaving_nothing();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn update_refuses_bad_input_and_a_stopped_container_clearly() {
    let world = World::new("update-bad", &["true"]);
    world.write_config();
    let bundle = world.bundle();
    let out = world.oci(&["create", "--bundle", bundle.to_str().unwrap(), &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    let resources = world.tmp.path().join("resources.json");
    for (content, expected) in [
        ("{not json", "invalid resources JSON"),
        ("[1]", "expected an object"),
        (r#"{"memory": {"limit": "lots"}}"#, "invalid resources"),
    ] {
        std::fs::write(&resources, content).unwrap();
        let out = world.oci(&[
            "update",
            "--resources",
            resources.to_str().unwrap(),
            &world.id,
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(expected), "{expected}: {}", text(&out));
    }
    let out = world.oci(&["update", "--memory", "12q", &world.id]);
    assert!(
        !out.status.success() && text(&out).contains("unknown unit"),
        "{}",
        text(&out)
    );
    let out = world.oci(&["start", &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for_status(&world, "stopped");
    let out = world.oci(&["update", "--pids-limit", "10", &world.id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is stopped; update needs it"),
        "{}",
        text(&out)
    );
    world.delete_force_leaving_nothing();
}

/// Without `--stats`, `events` prints a stats event every `--interval`, an oom event when
/// the OOM killer strikes in the container, and exits once the container has stopped.
#[test]
#[ignore = "root: cargo xtask test"]
fn events_stream_stats_and_oom_until_the_container_stops() {
    let script = "sleep 1; x=$(head -c 64m /dev/zero | tr '\\0' a); sleep 600";
    let mut world = World::new("events", &["sh", "-c", script]);
    world.config["linux"]["resources"]["memory"] =
        json!({"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024});
    world.run_detached();
    let mut events = Command::new(env!("CARGO_BIN_EXE_peapod-oci"))
        .arg("--root")
        .arg(world.root())
        .args(["events", "--interval", "200ms", &world.id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut seen = Vec::new();
    let next = |seen: &mut Vec<Value>| {
        let line = lines.recv_timeout(Duration::from_secs(10));
        let line = line.unwrap_or_else(|e| panic!("no event in 10 s ({e}); saw {seen:?}"));
        let event: Value = serde_json::from_str(&line).unwrap();
        seen.push(event.clone());
        event
    };
    while next(&mut seen)["type"] != "oom" {}
    assert!(
        seen.iter()
            .any(|e| e["type"] == "stats" && e["data"]["pids"]["current"].is_u64()),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap()["id"], world.id.as_str());
    // Whichever process the OOM killer took, stop what is left: events ends with it.
    let out = world.oci(&["kill", "--all", &world.id, "KILL"]);
    assert!(out.status.success(), "{}", text(&out));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = events.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events did not end with the container"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "events: {status:?}");
    world.delete_force_leaving_nothing();
}
