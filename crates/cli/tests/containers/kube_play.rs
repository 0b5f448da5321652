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

/// A pod of hostPath (with a type) and emptyDir volumes whose args and env use `$(VAR)`.
fn volumes_manifest(data: &std::path::Path) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: kubegen-rt
  labels: {{app: kubegen}}
spec:
  volumes:
  - name: data
    hostPath: {{path: {data}, type: DirectoryOrCreate}}
  - name: scratch
    emptyDir: {{}}
  containers:
  - name: writer
    image: {IMAGE}
    command: [sh, -c]
    args: ['echo "port=$(PORT) url=$URL literal=$LITERAL" > /data/out.tmp && mv /data/out.tmp /data/out && echo shared > /scratch/flag && exec sleep 1000']
    env:
    - {{name: PORT, value: "8080"}}
    - {{name: URL, value: "http://localhost:$(PORT)/"}}
    - {{name: LITERAL, value: "$$(PORT)"}}
    volumeMounts:
    - {{name: data, mountPath: /data}}
    - {{name: scratch, mountPath: /scratch}}
  - name: reader
    image: {IMAGE}
    command: [sh, -c, 'until [ -f /scratch/flag ]; do sleep 0.1; done; cat /scratch/flag > /data/seen.tmp && mv /data/seen.tmp /data/seen; exec sleep 1000']
    volumeMounts:
    - {{name: scratch, mountPath: /scratch, readOnly: true}}
    - {{name: data, mountPath: /data}}
"#,
        data = data.display()
    )
}

/// Waits (bounded) until the file at `path` holds `want`.
fn wait_for_file(path: &std::path::Path, want: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < until,
            "{}: {got:?}, not {want:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The plan a manifest's text parses to, as JSON (for comparing two texts).
fn plan(text: &str) -> serde_json::Value {
    let parsed = peapod_kube::parse("test.yaml", text, &Default::default()).unwrap();
    assert_eq!(parsed.pods.len(), 1);
    serde_json::to_value(&parsed.pods[0]).unwrap()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn generate_gives_back_volume_names_and_types_and_unexpanded_args() {
    let e = Engine::new();
    let data = e.tmp.path().join("kubegen-data");
    let original = volumes_manifest(&data);
    let file = e.tmp.path().join("kubegen.yaml");
    std::fs::write(&file, &original).unwrap();
    let file = file.to_str().unwrap();
    e.ok(&["kube", "play", file]);
    // The running container got the expanded text (as the kubelet expands it); the emptyDir
    // is shared; the hostPath directory was made.
    let out = "port=8080 url=http://localhost:8080/ literal=$(PORT)\n";
    wait_for_file(&data.join("out"), out);
    wait_for_file(&data.join("seen"), "shared\n");

    let generated = e.ok(&["kube", "generate", "kubegen-rt"]);
    for part in [
        "type: DirectoryOrCreate\n    name: data\n",
        "emptyDir: {}\n    name: scratch\n",
        "$(PORT)",
        "localhost:$(PORT)/",
    ] {
        assert!(generated.contains(part), "{part:?} not in:\n{generated}");
    }
    assert!(!generated.contains("-bind-"), "{generated}");
    // The generated text reads back to the plan the original file read to.
    assert_eq!(plan(&generated), plan(&original), "{generated}");

    // And plays: the same pod again, from the generated file.
    e.ok(&["kube", "down", file]);
    assert_eq!(e.ok(&["pod", "ls", "-q"]), "");
    for f in ["out", "seen"] {
        std::fs::remove_file(data.join(f)).unwrap();
    }
    let again = e.tmp.path().join("kubegen-again.yaml");
    std::fs::write(&again, &generated).unwrap();
    let again = again.to_str().unwrap();
    e.ok(&["kube", "play", again]);
    wait_for_file(&data.join("out"), out);
    wait_for_file(&data.join("seen"), "shared\n");
    assert_eq!(e.ok(&["kube", "generate", "kubegen-rt"]), generated);

    // A plain member (no manifest behind it) gets a generated volume name, and its
    // command is written as it runs.
    let extra = e.tmp.path().join("kubegen-extra");
    std::fs::create_dir(&extra).unwrap();
    e.ok(&[
        "run",
        "-d",
        "--pod",
        "kubegen-rt",
        "--name",
        "kubegen-extra",
        "-v",
        &format!("{}:/extra", extra.display()),
        IMAGE,
        "sh",
        "-c",
        "exec sleep 1000 # $(PORT)",
    ]);
    let with_extra = e.ok(&["kube", "generate", "kubegen-rt"]);
    assert!(
        with_extra.contains("    name: kubegen-extra-bind-2\n")
            && with_extra.contains("type: DirectoryOrCreate")
            && with_extra.contains("# $$(PORT)"),
        "{with_extra}"
    );
    e.ok(&["kube", "down", again]);
    e.assert_clean();
}
