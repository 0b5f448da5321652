//! A pod's members seen and driven one by one: `pod logs -f` follows them all, `ps --pod`
//! and `ps --filter pod=` show who is in which pod, and a member's own `--restart no`
//! beats its pod's policy.

use std::io::BufRead as _;
use std::process::Stdio;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text};

/// A member that prints `NAME0` and `NAME1` at once, `NAME2` once `/sig/NAME` exists, and
/// exits once `/sig/end` does (`/sig` is `dir`, bound in).
fn start_member(e: &Engine, pod: &str, name: &str, dir: &std::path::Path) {
    let script = format!(
        "echo {name}0; echo {name}1; \
         until [ -e /sig/{name} ]; do sleep 0.05; done; echo {name}2; \
         until [ -e /sig/end ]; do sleep 0.05; done"
    );
    let bind = format!("{}:/sig", dir.display());
    e.ok(&[
        "run", "-d", "--pod", pod, "--name", name, "-v", &bind, IMAGE, "sh", "-c", &script,
    ]);
}

/// Waits (bounded) until `logs NAME` holds `line`.
fn wait_logged(e: &Engine, name: &str, line: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    while !e.ok(&["logs", name]).lines().any(|l| l == line) {
        assert!(Instant::now() < until, "{name} did not print {line}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The next line from the follower (10 s at most).
fn next_line(lines: &Receiver<String>) -> String {
    lines
        .recv_timeout(Duration::from_secs(10))
        .expect("pod logs -f printed no next line in 10 s")
}

#[test]
#[ignore = "root: cargo xtask test"]
fn pod_logs_follow_interleaves_members_as_they_write_and_ends_when_all_exit() {
    let e = Engine::new();
    e.ok(&["pod", "create", "--name", "podx-logs"]);
    let sig = e.tmp.path().join("sig");
    std::fs::create_dir(&sig).unwrap();
    start_member(&e, "podx-logs", "podxa", &sig);
    start_member(&e, "podx-logs", "podxb", &sig);
    wait_logged(&e, "podxa", "podxa1");
    wait_logged(&e, "podxb", "podxb1");
    // `--tail 1` of each, oldest member first; then lines as they come, whoever writes.
    let mut follower = e
        .cmd(&["pod", "logs", "-f", "--tail", "1", "podx-logs"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(next_line(&lines), "podxa podxa1");
    assert_eq!(next_line(&lines), "podxb podxb1");
    // The younger member writes first: its line comes first.
    std::fs::write(sig.join("podxb"), "").unwrap();
    assert_eq!(next_line(&lines), "podxb podxb2");
    std::fs::write(sig.join("podxa"), "").unwrap();
    assert_eq!(next_line(&lines), "podxa podxa2");
    // Nothing more until both have exited; then the follower ends by itself.
    assert_eq!(
        lines.recv_timeout(Duration::from_millis(300)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(follower.try_wait().unwrap().is_none(), "ended too soon");
    std::fs::write(sig.join("end"), "").unwrap();
    let until = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = follower.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = follower.kill();
            panic!("pod logs -f still follows after both members exited");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "pod logs -f: {status:?}");
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(5)),
        Err(RecvTimeoutError::Disconnected),
        "lines after the members' last ones"
    );
    for name in ["podxa", "podxb"] {
        assert_eq!(e.inspect(name, "{{.State.Status}}"), "exited");
    }
    // Without -f: every line, member after member; `-c` one member; an unknown one refused.
    assert_eq!(
        e.ok(&["pod", "logs", "podx-logs"]),
        "podxa podxa0\npodxa podxa1\npodxa podxa2\npodxb podxb0\npodxb podxb1\npodxb podxb2\n"
    );
    assert_eq!(
        e.ok(&["pod", "logs", "-f", "-c", "podxb", "-n", "1", "podx-logs"]),
        "podxb podxb2\n"
    );
    let out = e.run(&["pod", "logs", "-c", "nope", "podx-logs"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such container: nope in pod podx-logs"),
        "{}",
        text(&out)
    );
    e.ok(&["pod", "rm", "-f", "podx-logs"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn ps_pod_shows_each_containers_pod_and_filter_pod_keeps_its_members() {
    let e = Engine::new();
    let pod_id = e
        .ok(&["pod", "create", "--name", "podx-ps"])
        .trim()
        .to_owned();
    e.ok(&[
        "run", "-d", "--pod", "podx-ps", "--name", "podx-in", IMAGE, "sleep", "1000",
    ]);
    e.ok(&["run", "-d", "--name", "podx-out", IMAGE, "sleep", "1000"]);
    let infra = format!("{}-infra", &pod_id[..12]);
    // The table: two more columns, the pod's short id and name (empty outside a pod).
    let table = e.ok(&["ps", "--pod"]);
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("POD ID") && header.trim_end().ends_with("PODNAME"),
        "{table}"
    );
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {table}"))
            .to_owned()
    };
    let inside = row("podx-in");
    assert!(
        inside.contains(&pod_id[..12]) && inside.trim_end().ends_with("podx-ps"),
        "{table}"
    );
    assert!(!row("podx-out").contains("podx-ps"), "{table}");
    assert!(!e.ok(&["ps"]).contains("PODNAME"));
    // JSON carries the pod (its full id) always.
    let list: serde_json::Value = serde_json::from_str(&e.ok(&["ps", "--format", "json"])).unwrap();
    let entry = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["Names"] == name)
            .unwrap_or_else(|| panic!("no {name} in {list}"))
            .clone()
    };
    assert_eq!(entry("podx-in")["Pod"], pod_id.as_str());
    assert_eq!(entry("podx-in")["PodName"], "podx-ps");
    assert_eq!(entry("podx-out")["Pod"], "");
    assert_eq!(entry("podx-out")["PodName"], "");
    // `--filter pod=` by name, id or id prefix: the pod's containers, its infra included.
    let filtered = |value: &str| {
        let mut names: Vec<String> = e
            .ok(&[
                "ps",
                "--filter",
                &format!("pod={value}"),
                "--format",
                "{{.Names}}",
            ])
            .lines()
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    };
    let members = vec![infra.clone(), "podx-in".to_owned()];
    assert_eq!(filtered("podx-ps"), members);
    assert_eq!(filtered(&pod_id), members);
    assert_eq!(filtered(&pod_id[..6]), members);
    assert!(filtered("nope").is_empty());
    assert!(filtered("podx").is_empty(), "a name matches whole");
    // With other filters: keys all, values of one key any.
    let both = e.ok(&[
        "ps",
        "--filter",
        "pod=podx-ps",
        "--filter",
        "name=podx",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(both, "podx-in\n");
    e.ok(&["pod", "rm", "-f", "podx-ps"]);
    e.ok(&["rm", "-f", "podx-out"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_members_own_restart_no_beats_its_pods_always() {
    let e = Engine::new();
    e.ok(&["pod", "create", "--name", "podx-rs", "--restart", "always"]);
    // No --restart of its own: the pod's `always`.
    e.ok(&[
        "run",
        "-d",
        "--pod",
        "podx-rs",
        "--name",
        "podx-again",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    // An explicit `no`: it stays exited.
    e.ok(&[
        "run",
        "-d",
        "--pod",
        "podx-rs",
        "--restart",
        "no",
        "--name",
        "podx-once",
        IMAGE,
        "true",
    ]);
    crate::probes::wait_until(&e, "podx-again", "{{.RestartCount}}", |n| {
        n.parse::<u32>().is_ok_and(|n| n >= 2)
    });
    assert_eq!(
        e.inspect("podx-once", "{{.State.Status}} {{.RestartCount}}"),
        "exited 0"
    );
    let policy = "{{.HostConfig.RestartPolicy.Name}}";
    assert_eq!(e.inspect("podx-again", policy), "always");
    assert_eq!(e.inspect("podx-once", policy), "no");
    // Outside a pod, no --restart is `no`.
    e.ok(&["create", "--name", "podx-alone", IMAGE, "true"]);
    assert_eq!(e.inspect("podx-alone", policy), "no");
    e.ok(&["rm", "podx-alone"]);
    e.ok(&["pod", "rm", "-f", "podx-rs"]);
    e.assert_clean();
}
