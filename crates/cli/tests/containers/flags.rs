//! The `run` flags that shape a container, each seen from inside it.

use std::time::Duration;

use crate::support::{Engine, IMAGE, text};

#[test]
#[ignore = "root: cargo xtask test"]
fn entrypoint_env_file_labels_and_stop_signal() {
    let e = Engine::new();
    let env = e.tmp.path().join("env");
    std::fs::write(&env, "# comment\nPEA=green\n\nPOD=two\n").unwrap();
    let env = env.to_string_lossy().into_owned();
    let out = e.ok(&[
        "run",
        "--rm",
        "--env-file",
        &env,
        "-e",
        "POD=three",
        "--entrypoint",
        "sh",
        IMAGE,
        "-c",
        "echo $PEA $POD",
    ]);
    assert_eq!(out, "green three\n");
    // Labels: listed, filtered on.
    e.ok(&[
        "create", "--name", "l1", "--label", "tier=web", IMAGE, "true",
    ]);
    e.ok(&[
        "create", "--name", "l2", "--label", "tier=db", IMAGE, "true",
    ]);
    assert_eq!(
        e.ok(&[
            "ps",
            "-a",
            "--filter",
            "label=tier=web",
            "--format",
            "{{.Names}}"
        ]),
        "l1\n"
    );
    assert_eq!(
        e.ok(&[
            "ps",
            "-a",
            "--filter",
            "label=tier",
            "--format",
            "{{.Names}}"
        ])
        .lines()
        .count(),
        2
    );
    assert_eq!(
        e.ok(&["ps", "-a", "--filter", "name=l2", "--format", "{{.Names}}"]),
        "l2\n"
    );
    assert_eq!(
        e.ok(&["ps", "-a", "--filter", "status=created", "-q"])
            .lines()
            .count(),
        2
    );
    let out = e.run(&["ps", "--filter", "color=red"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    e.ok(&["rm", "l1", "l2"]);
    // --stop-signal: the container's trap sees SIGUSR1 and exits 0 at once.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "sig",
        "--stop-signal",
        "USR1",
        "--stop-timeout",
        "30",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' USR1; while true; do sleep 0.1; done",
    ]);
    e.wait_for(
        "sig",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    let started = std::time::Instant::now();
    e.ok(&["stop", "sig"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stop waited for the timeout"
    );
    assert_eq!(e.inspect("sig", "{{.State.ExitCode}}"), "0");
    // A container ignoring SIGTERM is killed after -t.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "deaf",
        IMAGE,
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ]);
    e.wait_for(
        "deaf",
        "{{.State.Status}}",
        "running",
        Duration::from_secs(10),
    );
    e.ok(&["stop", "-t", "1", "deaf"]);
    assert_eq!(e.inspect("deaf", "{{.State.ExitCode}}"), "137");
    e.ok(&["rm", "sig", "deaf"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn init_privileged_and_security_options() {
    let e = Engine::new();
    // --init: PID 1 is the init, the command its child.
    let out = e.ok(&[
        "run",
        "--rm",
        "--init",
        IMAGE,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    ]);
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("/run/peapod-init")),
        "{out}"
    );
    assert_ne!(lines.next(), Some("1"), "{out}");
    // The default seccomp profile denies unshare without CAP_SYS_ADMIN; unconfined lets the
    // kernel decide (still EPERM without the capability); --privileged allows it.
    let out = e.run(&["run", "--rm", IMAGE, "unshare", "-n", "true"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    e.ok(&[
        "run",
        "--rm",
        "--privileged",
        IMAGE,
        "unshare",
        "-n",
        "true",
    ]);
    e.ok(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        IMAGE,
        "unshare",
        "-n",
        "true",
    ]);
    let caps = e.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        IMAGE,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(caps.contains("0000000000000000"), "{caps}");
    // A docker-format profile file that denies mkdir.
    let profile = e.tmp.path().join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = e.run(&["run", "--rm", "--security-opt", &opt, IMAGE, "mkdir", "/x"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out)
    );
    e.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        IMAGE,
        "mkdir",
        "/x",
    ]);
    // no-new-privileges shows in /proc/self/status.
    let out = e.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        IMAGE,
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert!(out.contains('1'), "{out}");
    // A bad profile is refused before anything is made.
    std::fs::write(&profile, "{not json").unwrap();
    let out = e.run(&["run", "--rm", "--security-opt", &opt, IMAGE, "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("seccomp"),
        "{}",
        text(&out)
    );
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn logs_select_by_tail_and_time_and_rotate_at_their_cap() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "--name",
        "talk",
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2",
    ]);
    assert_eq!(e.ok(&["logs", "--tail", "2", "talk"]), "line 5\n");
    let out = e.run(&["logs", "talk"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "line 1\nline 2\nline 3\nline 4\nline 5\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    assert_eq!(e.ok(&["logs", "--since", "1h", "talk"]).lines().count(), 5);
    assert_eq!(e.ok(&["logs", "--until", "1h", "talk"]), "");
    let stamped = e.ok(&["logs", "-t", "--tail", "2", "talk"]);
    assert!(
        stamped.len() > 30 && stamped.ends_with(" line 5\n"),
        "{stamped}"
    );
    let out = e.run(&["logs", "--since", "yesterday-ish", "talk"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    // -f follows until the container exits.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3; do echo tick $i; sleep 0.3; done",
    ]);
    assert_eq!(e.ok(&["logs", "-f", "slow"]), "tick 1\ntick 2\ntick 3\n");
    // A log capped at 100 KiB × 2 files stays under it while 1 MiB is written.
    e.ok(&["run", "--name", "chatty", "--log-opt", "max-size=100k", "--log-opt", "max-file=2", IMAGE, "sh", "-c",
        "i=0; while [ $i -lt 20000 ]; do echo 0123456789012345678901234567890123456789; i=$((i+1)); done"]);
    let id = e.inspect("chatty", "{{.Id}}");
    let dir = e.root().join("containers").join(&id);
    let total: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().starts_with("ctr.log"))
        .map(|f| f.metadata().unwrap().len())
        .sum();
    assert!(total <= 2 * 100 * 1024 + 4096, "{total} bytes of log");
    let last = e.ok(&["logs", "--tail", "1", "chatty"]);
    assert_eq!(last, "0123456789012345678901234567890123456789\n");
    e.ok(&["rm", "talk", "slow", "chatty"]);
    e.assert_clean();
}
