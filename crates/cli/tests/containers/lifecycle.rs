//! The verbs as an operator uses them: foreground and detached runs, logs, exec, stop,
//! start again, restart, rename, pause, rm; volumes and bind mounts; limits.

use std::time::Duration;

use crate::support::{Engine, IMAGE, text};

#[test]
#[ignore = "root: cargo xtask test"]
fn run_in_the_foreground_gives_the_output_and_the_exit_code() {
    let e = Engine::new();
    assert_eq!(e.ok(&["run", "--rm", IMAGE, "echo", "hello"]), "hello\n");
    let out = e.run(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // A large output arrives whole.
    let out = e.ok(&["run", "--rm", IMAGE, "sh", "-c", "seq 1 50000"]);
    assert_eq!(out.lines().count(), 50000);
    assert_eq!(out.lines().last(), Some("50000"));
    // stdin with -i.
    let mut child = e.cmd(&["run", "--rm", "-i", IMAGE, "sh", "-c", "tr a-z A-Z"]);
    child
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = child.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"peas in a pod\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PEAS IN A POD\n");
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_detached_container_is_listed_logged_execed_stopped_started_and_removed() {
    let e = Engine::new();
    let id = e.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    e.wait_for(
        "ticker",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    let ps = e.ok(&["ps", "--format", "{{.Names}} {{.State}} {{.ID}}"]);
    assert_eq!(ps.trim(), format!("ticker running {}", &id[..12]));
    let json: serde_json::Value = serde_json::from_str(&e.ok(&["ps", "--format", "json"])).unwrap();
    assert_eq!(json[0]["Names"], "ticker");
    // The log holds what it printed.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while e.ok(&["logs", "ticker"]) != "ready\n" {
        assert!(std::time::Instant::now() < until, "no log line");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(e.ok(&["logs", "-t", "ticker"]).contains(" ready"));
    // exec: output, exit code, environment, user.
    assert_eq!(e.ok(&["exec", "ticker", "echo", "inside"]), "inside\n");
    assert_eq!(
        e.run(&["exec", "ticker", "sh", "-c", "exit 4"])
            .status
            .code(),
        Some(4)
    );
    assert_eq!(
        e.ok(&["exec", "-e", "PEA=green", "ticker", "sh", "-c", "echo $PEA"]),
        "green\n"
    );
    assert_eq!(
        e.ok(&["exec", "-u", "nobody", "ticker", "id", "-un"]),
        "nobody\n"
    );
    assert_eq!(
        e.run(&["exec", "ticker", "nosuch"]).status.code(),
        Some(127)
    );
    // pause / unpause.
    e.ok(&["pause", "ticker"]);
    assert_eq!(e.inspect("ticker", "{{.State.Status}}"), "paused");
    e.ok(&["unpause", "ticker"]);
    assert_eq!(e.inspect("ticker", "{{.State.Status}}"), "running");
    // stop: the trap makes it exit 0 on SIGTERM.
    e.ok(&["stop", "ticker"]);
    assert_eq!(
        e.inspect("ticker", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    assert_eq!(e.ok(&["ps", "-q"]), "");
    // Started again, restarted, renamed, waited on.
    e.ok(&["start", "ticker"]);
    e.wait_for(
        "ticker",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    e.ok(&["restart", "-t", "5", "ticker"]);
    e.wait_for(
        "ticker",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    e.ok(&["rename", "ticker", "tocker"]);
    assert_eq!(e.run(&["inspect", "ticker"]).status.code(), Some(125));
    e.ok(&["kill", "-s", "TERM", "tocker"]);
    assert_eq!(e.ok(&["wait", "tocker"]).trim(), "0");
    e.ok(&["rm", "tocker"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn rm_refuses_a_running_container_unless_forced() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "busy", IMAGE, "sleep", "1000"]);
    let out = e.run(&["rm", "busy"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("busy is running"),
        "{}",
        text(&out)
    );
    e.ok(&["rm", "-f", "busy"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn volumes_keep_data_and_binds_and_tmpfs_mount_where_asked() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "pods:/data",
        IMAGE,
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "-v",
            "pods:/data:ro",
            IMAGE,
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    let out = e.run(&[
        "run",
        "--rm",
        "-v",
        "pods:/data:ro",
        IMAGE,
        "sh",
        "-c",
        "echo x > /data/g",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "pods\n");
    let host = e.tmp.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("h"), "from host").unwrap();
    let bind = format!("{}:/h:ro", host.display());
    assert_eq!(
        e.ok(&["run", "--rm", "-v", &bind, IMAGE, "cat", "/h/h"]),
        "from host"
    );
    let mounts = e.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m",
        IMAGE,
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts",
    ]);
    assert!(mounts.contains("tmpfs"), "{mounts}");
    // A volume in use cannot be removed; unused, it can.
    e.ok(&[
        "create",
        "--name",
        "holder",
        "-v",
        "pods:/data",
        IMAGE,
        "true",
    ]);
    let out = e.run(&["volume", "rm", "pods"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        text(&out)
    );
    e.ok(&["rm", "holder"]);
    e.ok(&["volume", "rm", "pods"]);
    // An anonymous volume goes with `rm -v`.
    e.ok(&["create", "--name", "anon", "-v", "/cache", IMAGE, "true"]);
    assert_eq!(e.ok(&["volume", "ls", "-q"]).lines().count(), 1);
    e.ok(&["rm", "-v", "anon"]);
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn limits_and_identity_flags_reach_the_container() {
    let e = Engine::new();
    let out = e.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=1000:1000",
        "--hostname",
        "peapod-host",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "-e",
        "A=1",
        IMAGE,
        "sh",
        "-c",
        "ulimit -n; hostname; pwd; id -un; echo $A",
    ]);
    assert_eq!(out, "1000\npeapod-host\n/tmp\nnobody\n1\n");
    // Memory and pids limits, read from the container's cgroup on the host (v2 or v1).
    let id = e.ok(&[
        "run",
        "-d",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let cgroup = format!("{}/{}", e.cgroup.trim_start_matches('/'), id.trim());
    let read = |candidates: &[String]| -> String {
        candidates
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_else(|| panic!("none of {candidates:?}"))
            .trim()
            .to_owned()
    };
    let memory = read(&[
        format!("/sys/fs/cgroup/{cgroup}/memory.max"),
        format!("/sys/fs/cgroup/memory/{cgroup}/memory.limit_in_bytes"),
    ]);
    assert_eq!(memory, "67108864");
    let pids = read(&[
        format!("/sys/fs/cgroup/{cgroup}/pids.max"),
        format!("/sys/fs/cgroup/pids/{cgroup}/pids.max"),
    ]);
    assert_eq!(pids, "50");
    e.ok(&["rm", "-f", id.trim()]);
    // Read-only root, and docker's default capabilities (no NET_ADMIN).
    let out = e.run(&["run", "--rm", "--read-only", IMAGE, "touch", "/x"]);
    assert_ne!(out.status.code(), Some(0));
    let caps = e.ok(&["run", "--rm", IMAGE, "grep", "CapEff", "/proc/self/status"]);
    assert!(caps.contains("00000000a80425fb"), "{caps}");
    e.assert_clean();
}
