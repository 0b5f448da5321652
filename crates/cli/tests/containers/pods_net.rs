//! A pod on a bridge network, in a fake host: one address for its containers, ports published
//! at the pod level and changed while it runs (nothing restarted), a clash between pods
//! refused, and nothing left after `pod rm -f`.

use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text};

/// What `nc ADDR PORT` from the fake host's own network reads (a `--network host` container).
fn ask(e: &Engine, port: &str) -> String {
    let out = e.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        IMAGE,
        "nc",
        "-w",
        "2",
        "127.0.0.1",
        port,
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asks until the answer is `want` (the server may still be starting), bounded.
fn ask_until(e: &Engine, port: &str, want: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let got = ask(e, port);
        if got == want {
            return;
        }
        assert!(Instant::now() < until, "port {port}: {got:?}, not {want:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_bridged_pods_ports_change_while_it_runs_and_nothing_restarts() {
    let e = Engine::new();
    e.ok(&[
        "pod",
        "create",
        "--name",
        "webpod",
        "--network",
        "bridge",
        "-p",
        "18081:8080",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--pod",
        "webpod",
        "--name",
        "srv",
        IMAGE,
        "sh",
        "-c",
        "while true; do echo port-a | nc -l -p 8080; done & \
             while true; do echo port-b | nc -l -p 9090; done",
    ]);
    let pod_ip = e.ok(&["pod", "inspect", "--format", "{{.IPAddress}}", "webpod"]);
    assert!(pod_ip.trim().starts_with("10.90."), "{pod_ip}");
    // The member has the pod's address.
    let addr = e.ok(&["exec", "srv", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(addr.contains(pod_ip.trim()), "{addr}");
    ask_until(&e, "18081", "port-a\n");
    let pids = || {
        (
            e.ok(&["pod", "inspect", "--format", "{{.InfraPid}}", "webpod"]),
            e.ok(&["inspect", "--format", "{{.State.Pid}}", "srv"]),
        )
    };
    let before = pids();
    // Added while it runs.
    let listed = e.ok(&["pod", "port", "add", "webpod", "18082:9090"]);
    assert_eq!(listed, "18081:8080\n18082:9090\n");
    ask_until(&e, "18082", "port-b\n");
    ask_until(&e, "18081", "port-a\n");
    // A host port the pod has, or another pod wants, is refused with nothing changed.
    let out = e.run(&["pod", "port", "add", "webpod", "18082:8080"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("publishes that host port already"),
        "{}",
        text(&out)
    );
    let out = e.run(&[
        "pod",
        "create",
        "--name",
        "other",
        "--network",
        "bridge",
        "-p",
        "18082:80",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("18082"),
        "{}",
        text(&out)
    );
    assert_eq!(e.ok(&["pod", "ls", "-q"]).lines().count(), 1);
    // Removed while it runs: gone, the other stays.
    let listed = e.ok(&["pod", "port", "rm", "webpod", "18082:9090"]);
    assert_eq!(listed, "18081:8080\n");
    let until = Instant::now() + Duration::from_secs(10);
    while !ask(&e, "18082").is_empty() {
        assert!(Instant::now() < until, "port 18082 still answers");
        std::thread::sleep(Duration::from_millis(100));
    }
    ask_until(&e, "18081", "port-a\n");
    assert_eq!(pids(), before, "something restarted");
    let out = e.run(&["pod", "port", "rm", "webpod", "18083:9090"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not publish it"),
        "{}",
        text(&out)
    );
    e.ok(&["pod", "rm", "-f", "webpod"]);
    let links = e.host.links();
    assert!(!links.contains("pp"), "veths left: {links}");
    let rules = std::process::Command::new("ip")
        .args(["netns", "exec", &e.host.name, "nft", "list", "ruleset"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(
        !rules.contains("18081") && !rules.contains("chain c-"),
        "rules left: {rules}"
    );
    e.assert_clean();
}
