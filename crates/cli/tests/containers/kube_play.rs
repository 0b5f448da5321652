//! `kube play`, `kube generate`, `kube down` end to end: a two-container pod whose client
//! reaches the server over localhost, with an httpGet readiness probe and a failing liveness
//! probe run by the monitors; a Deployment's replicas as pods; generate → play round trip;
//! nothing left after `kube down`.

use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text};

fn manifest() -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: duo
  labels: {{app: duo}}
spec:
  restartPolicy: Always
  initContainers:
  - name: prepare
    image: {IMAGE}
    command: [sh, -c, 'echo prepared']
  containers:
  - name: web
    image: {IMAGE}
    command: [sh, -c]
    args: ['mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www']
    readinessProbe:
      httpGet: {{path: /index.html, port: 8080}}
      periodSeconds: 1
  - name: client
    image: {IMAGE}
    command: [sh, -c, 'while true; do wget -q -O - http://localhost:8080/ ; sleep 0.5; done']
    livenessProbe:
      exec: {{command: ['false']}}
      periodSeconds: 1
      timeoutSeconds: 20
      failureThreshold: 1
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: rep}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: rep}}}}
  template:
    metadata: {{labels: {{app: rep}}}}
    spec:
      containers:
      - name: sleeper
        image: {IMAGE}
        command: [sleep, '1000']
"
    )
}

/// Waits (bounded) until `peapod ARGS` prints something `ok` accepts.
fn wait_until(e: &Engine, args: &[&str], ok: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let out = e.run(args);
        let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && ok(&got) {
            return got;
        }
        assert!(Instant::now() < until, "{args:?}: {}", text(&out));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn kube_play_runs_a_pod_with_probes_and_replicas_and_generate_plays_back() {
    let e = Engine::new();
    let file = e.tmp.path().join("duo.yaml");
    std::fs::write(&file, manifest()).unwrap();
    let file = file.to_str().unwrap();
    let played = e.ok(&["kube", "play", file]);
    assert_eq!(played.matches("Pod:\n").count(), 3, "{played}");
    let pods = e.ok(&["pod", "ls", "--format", "{{.Name}}"]);
    let mut names: Vec<&str> = pods.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["duo", "rep-0", "rep-1"]);
    // The init container ran to completion and went; the others run, named as podman names
    // them.
    assert_eq!(e.run(&["inspect", "duo-prepare"]).status.code(), Some(125));
    // Over localhost: the client gets the page.
    wait_until(&e, &["logs", "duo-client"], |l| {
        l.contains("hello-from-web")
    });
    // Readiness by an httpGet the monitor makes itself (no curl in busybox).
    wait_until(
        &e,
        &["inspect", "--format", "{{.State.Probes.Ready}}", "duo-web"],
        |r| r == "true",
    );
    // The failing liveness probe restarts the client, counted.
    wait_until(
        &e,
        &["inspect", "--format", "{{.RestartCount}}", "duo-client"],
        |n| n.parse::<u32>().is_ok_and(|n| n >= 1),
    );
    assert_eq!(e.inspect("duo-web", "{{.RestartCount}}"), "0");
    // generate → down → play of the generated file → generate again: the same manifest.
    let generated = e.ok(&["kube", "generate", "duo"]);
    assert!(
        generated.contains("kind: Pod") && generated.contains("readinessProbe"),
        "{generated}"
    );
    e.ok(&["kube", "down", file]);
    assert_eq!(e.ok(&["pod", "ls", "-q"]), "");
    let again = e.tmp.path().join("again.yaml");
    std::fs::write(&again, &generated).unwrap();
    e.ok(&["kube", "play", again.to_str().unwrap()]);
    wait_until(&e, &["logs", "duo-client"], |l| {
        l.contains("hello-from-web")
    });
    assert_eq!(e.ok(&["kube", "generate", "duo"]), generated);
    // Playing a pod that exists fails and changes nothing; --replace replaces it.
    let out = e.run(&["kube", "play", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"duo\" is already in use"),
        "{}",
        text(&out)
    );
    e.ok(&["kube", "play", "--replace", again.to_str().unwrap()]);
    e.ok(&["kube", "down", again.to_str().unwrap()]);
    e.assert_clean();
}
