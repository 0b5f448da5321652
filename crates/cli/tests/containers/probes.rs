//! Kubernetes' probes run by the monitor (no curl in the image, no daemon): busybox
//! `httpd` in a container made through the engine API (no `run` flag sets probes; `kube
//! play` will), watched through `peapod inspect`'s `State.Probes` and `RestartCount`.

use std::time::{Duration, Instant};

use peapod_engine::container::{CreateOptions, Probe, ProbeAction, Probes, RestartPolicy};

use crate::support::{Engine, IMAGE};

/// A probe every second; exec probes get a long timeout, as the VM guest is slow to exec.
fn probe(action: ProbeAction, failure_threshold: u32) -> Probe {
    let timeout = if matches!(action, ProbeAction::Exec { .. }) {
        20
    } else {
        5
    };
    Probe {
        period_seconds: 1,
        timeout_seconds: timeout,
        failure_threshold,
        ..Probe::new(action)
    }
}

fn http(path: &str) -> ProbeAction {
    ProbeAction::HttpGet {
        host: None,
        port: 8080,
        path: path.into(),
        headers: Vec::new(),
    }
}

/// Creates and starts `name` running `script` under `sh -c`, with `probes`.
fn start(e: &Engine, name: &str, script: &str, probes: Probes) {
    let engine = peapod_engine::Engine::open(&peapod_engine::EngineOptions {
        root: e.root(),
        runroot: e.runroot(),
        monitor_program: Some(env!("CARGO_BIN_EXE_peapod").into()),
    })
    .unwrap();
    let mut opts = CreateOptions {
        image: IMAGE.into(),
        name: Some(name.into()),
        cgroup_parent: Some(e.cgroup.clone()),
        restart: Some(RestartPolicy::Always),
        probes,
        ..CreateOptions::default()
    };
    opts.config.cmd = vec!["sh".into(), "-c".into(), script.into()];
    let containers = engine.containers();
    let created = containers.create(&opts).unwrap();
    containers.start(&created.id, false).unwrap();
}

/// Waits (bounded) until `inspect --format TEMPLATE` satisfies `ok`; its last value.
pub(crate) fn wait_until(
    e: &Engine,
    name: &str,
    template: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let out = e.run(&["inspect", "--format", template, name]);
        let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && ok(&got) {
            return got;
        }
        assert!(
            Instant::now() < until,
            "{name}: {template} is {got:?} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const SERVE: &str =
    "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www";

#[test]
#[ignore = "root: cargo xtask test"]
fn a_failing_liveness_probe_restarts_the_container_and_counts() {
    let e = Engine::new();
    let liveness = |path: &str, failures| Probes {
        liveness: Some(probe(http(path), failures)),
        ..Probes::default()
    };
    start(&e, "sick", SERVE, liveness("/missing", 2));
    // Room for a slow start (the VM guest) before httpd listens.
    start(&e, "well", SERVE, liveness("/index.html", 5));
    let restarts = wait_until(&e, "sick", "{{.RestartCount}}", |n| {
        n.parse::<u32>().is_ok_and(|n| n >= 1)
    });
    let kills = e.inspect("sick", "{{.State.Probes.LivenessKills}}");
    assert!(
        kills.parse::<u32>().unwrap() >= restarts.parse::<u32>().unwrap(),
        "{kills} kills, {restarts} restarts"
    );
    let log = e.inspect("sick", "{{json .State.Probes.Log}}");
    assert!(log.contains("HTTP probe failed with status 404"), "{log}");
    assert!(
        log.contains("liveness probe failed 2 times in a row: the container is killed"),
        "{log}"
    );
    // The healthy one: three successes in a row, and never restarted.
    wait_until(&e, "well", "{{json .State.Probes.Log}}", |log| {
        log.matches("HTTP 200 OK").count() >= 3
    });
    assert_eq!(
        e.inspect("well", "{{.RestartCount}} {{.State.Probes.LivenessKills}}"),
        "0 0"
    );
    e.ok(&["rm", "-f", "sick", "well"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_readiness_probe_flips_ready_both_ways() {
    let e = Engine::new();
    let readiness = Probe {
        success_threshold: 1,
        ..probe(http("/ready.html"), 1)
    };
    let probes = Probes {
        readiness: Some(readiness),
        ..Probes::default()
    };
    start(&e, "web", SERVE, probes);
    wait_until(&e, "web", "{{json .State.Probes.Log}}", |log| {
        log.contains("status 404")
    });
    assert_eq!(
        e.inspect("web", "{{.State.Probes.Started}} {{.State.Probes.Ready}}"),
        "true false"
    );
    e.ok(&["exec", "web", "cp", "/www/index.html", "/www/ready.html"]);
    wait_until(&e, "web", "{{.State.Probes.Ready}}", |r| r == "true");
    e.ok(&["exec", "web", "rm", "/www/ready.html"]);
    wait_until(&e, "web", "{{.State.Probes.Ready}}", |r| r == "false");
    // Readiness never restarts anything.
    assert_eq!(
        e.inspect("web", "{{.RestartCount}} {{.State.Status}}"),
        "0 running"
    );
    e.ok(&["rm", "-f", "web"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn an_exec_startup_probe_gates_tcp_readiness_and_liveness() {
    let e = Engine::new();
    let tcp = ProbeAction::TcpSocket {
        host: None,
        port: 8080,
    };
    let probes = Probes {
        startup: Some(probe(
            ProbeAction::Exec {
                command: vec!["cat".into(), "/tmp/started".into()],
            },
            1000,
        )),
        readiness: Some(probe(tcp.clone(), 1)),
        liveness: Some(probe(tcp, 2)),
    };
    // httpd in the background: killing it fails the TCP probes, not the container.
    start(
        &e,
        "gated",
        "mkdir -p /www && httpd -p 8080 -h /www && exec sleep 1000",
        probes,
    );
    wait_until(&e, "gated", "{{json .State.Probes.Log}}", |log| {
        log.matches("\"startup\"").count() >= 2
    });
    let log = e.inspect("gated", "{{json .State.Probes.Log}}");
    assert!(
        !log.contains("readiness") && !log.contains("liveness"),
        "gated: {log}"
    );
    assert!(
        log.contains("No such file"),
        "the exec probe's output: {log}"
    );
    assert_eq!(
        e.inspect("gated", "{{.State.Probes.Started}} {{.State.Probes.Ready}}"),
        "false false"
    );
    e.ok(&["exec", "gated", "touch", "/tmp/started"]);
    wait_until(
        &e,
        "gated",
        "{{.State.Probes.Started}} {{.State.Probes.Ready}}",
        |s| s == "true true",
    );
    let log = e.inspect("gated", "{{json .State.Probes.Log}}");
    assert!(log.contains("connected to port 8080"), "{log}");
    // The server goes: not ready, then killed by liveness, restarted, gated again.
    e.ok(&["exec", "gated", "killall", "httpd"]);
    wait_until(&e, "gated", "{{.RestartCount}}", |n| {
        n.parse::<u32>().is_ok_and(|n| n >= 1)
    });
    let log = e.inspect("gated", "{{json .State.Probes.Log}}");
    assert!(log.contains("cannot connect to 127.0.0.1:8080"), "{log}");
    // The new run is gated again: its startup probe passes (the file is still in the
    // container's upper layer), then it is ready again (the script started httpd anew).
    // Every restart was a liveness kill.
    let template = "{{.RestartCount}} {{.State.Probes.LivenessKills}} {{.State.Probes.Started}} {{.State.Probes.Ready}}";
    wait_until(&e, "gated", template, |s| {
        let words: Vec<&str> = s.split(' ').collect();
        words.len() == 4 && words[0] == words[1] && words[2..] == ["true", "true"]
    });
    let log: Vec<serde_json::Value> =
        serde_json::from_str(&e.inspect("gated", "{{json .State.Probes.Log}}")).unwrap();
    let killed = log
        .iter()
        .rposition(|r| {
            r["Output"]
                .as_str()
                .unwrap()
                .contains("the container is killed")
        })
        .expect("the kill is logged");
    assert!(
        log[killed..]
            .iter()
            .any(|r| r["Probe"] == "startup" && r["Success"] == true),
        "no startup probe after the restart: {log:#?}"
    );
    e.ok(&["rm", "-f", "gated"]);
    e.assert_clean();
}
