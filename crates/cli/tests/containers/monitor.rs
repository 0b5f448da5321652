//! What the monitor does on its own: restart policies, healthchecks, the log's rotation.

use std::time::Duration;

use crate::support::{Engine, IMAGE};

#[test]
#[ignore = "root: cargo xtask test"]
fn on_failure_restarts_at_most_n_times_and_always_stops_on_stop() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        IMAGE,
        "sh",
        "-c",
        "exit 3",
    ]);
    e.wait_for(
        "flaky",
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        "exited 2 3",
        Duration::from_secs(20),
    );
    e.ok(&[
        "run",
        "-d",
        "--name",
        "ok",
        "--restart",
        "on-failure",
        IMAGE,
        "true",
    ]);
    e.wait_for(
        "ok",
        "{{.State.Status}} {{.RestartCount}}",
        "exited 0",
        Duration::from_secs(10),
    );
    e.ok(&[
        "run",
        "-d",
        "--name",
        "forever",
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while e
        .inspect("forever", "{{.RestartCount}}")
        .parse::<u32>()
        .unwrap()
        < 2
    {
        assert!(std::time::Instant::now() < until, "no restarts");
        std::thread::sleep(Duration::from_millis(50));
    }
    e.ok(&["stop", "-t", "1", "forever"]);
    e.wait_for(
        "forever",
        "{{.State.Status}}",
        "exited",
        Duration::from_secs(10),
    );
    let count = e.inspect("forever", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        e.inspect("forever", "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {count}")
    );
    for n in ["flaky", "ok", "forever"] {
        e.ok(&["rm", n]);
    }
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn healthchecks_run_without_a_daemon_and_report_their_state() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        IMAGE,
        "sleep",
        "1000",
    ]);
    e.wait_for(
        "checked",
        "{{.State.Health.Status}}",
        "unhealthy",
        Duration::from_secs(15),
    );
    e.ok(&["exec", "checked", "touch", "/tmp/ok"]);
    e.wait_for(
        "checked",
        "{{.State.Health.Status}}",
        "healthy",
        Duration::from_secs(15),
    );
    e.ok(&["rm", "-f", "checked"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn an_oom_kill_is_reported_as_such() {
    let e = Engine::new();
    let out = e.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        IMAGE,
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        crate::support::text(&out)
    );
    assert_eq!(
        e.inspect("hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    e.ok(&["run", "--name", "fine", "-m", "16m", IMAGE, "true"]);
    assert_eq!(e.inspect("fine", "{{.State.OOMKilled}}"), "false");
    // The monitor wrote what happened to the event log.
    let events = std::fs::read_to_string(e.runroot().join("events.log")).unwrap();
    assert!(events.contains("\"action\":\"die\""), "{events}");
    e.ok(&["rm", "hog", "fine"]);
    e.assert_clean();
}

/// `logs -f` follows the log file across the writer's rotations, losing and repeating no
/// line, and ends by itself when the container exits.
#[test]
#[ignore = "root: cargo xtask test"]
fn logs_f_follows_across_rotations_and_ends_when_the_container_exits() {
    use std::io::Read;
    let e = Engine::new();
    // 1000 numbered lines of ~100 bytes, 50 every 0.2 s, into 10 KiB × 5 files: about ten
    // rotations while it is followed (a follower would have to fall 4 files behind to lose
    // a line). It waits a second first, so that `logs -f` follows from the first line.
    let script = "pad=0123456789012345678901234567890123456789012345678901234567890123456789012345678901234; \
                  sleep 1; b=0; while [ $b -lt 20 ]; do i=0; while [ $i -lt 50 ]; do \
                  echo \"$((b*50+i+1)) $pad\"; i=$((i+1)); done; b=$((b+1)); sleep 0.2; done";
    e.ok(&[
        "run",
        "-d",
        "--name",
        "rotating",
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=5",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let mut child = e
        .cmd(&["logs", "-f", "rotating"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("logs -f did not end within 60 s of the container's start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "logs -f: {status}");
    let out = reader.join().unwrap();
    let numbers: Vec<usize> = out
        .lines()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers, (1..=1000).collect::<Vec<_>>());
    assert_eq!(e.inspect("rotating", "{{.State.Status}}"), "exited");
    // It did rotate: the plain `logs` has only what the last five files keep.
    let kept = e.ok(&["logs", "rotating"]).lines().count();
    assert!(kept < 1000, "{kept} lines kept: the log never rotated");
    e.ok(&["rm", "rotating"]);
    e.assert_clean();
}
