//! `kubectl apply --dry-run=client` takes what `peapod kube generate` writes (issue 13), with
//! Kubernetes' own schema: Debian's kubectl (`kubernetes-client`, 1.20) against a stub API
//! server ([`stub`]) serving the official OpenAPI document of the same release
//! (`api/openapi-spec/swagger.json` of Debian's `kubernetes` source), both put in place by
//! `cargo xtask deps` under [`KUBECTL_DIR`]. A control proves the validation is real: the
//! same manifest with one misspelled field, or one value of the wrong type, is refused by
//! the same kubectl through the same stub.
//!
//! Privileged (`cargo xtask test`): the pod is made by `kube play` in a private engine, whose
//! image store needs root. Nothing is left: the pod goes, the stub stops, kubectl's caches
//! live in the test's temp dir.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed test setup should panic

mod openapi;
mod stub;
/// The container tests' engine harness (private root, busybox loaded, leak checks).
#[path = "../containers/support.rs"]
#[allow(dead_code)]
mod support;

/// The image tests' registry harness (the engine harness refers to it).
#[path = "../../../image/tests/support/mod.rs"]
mod registry_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{Engine, IMAGE, text};

/// Where `cargo xtask deps` puts Debian's kubectl (`kubectl`) and Kubernetes' OpenAPI
/// document (`swagger.json`); `PEAPOD_KUBECTL_DIR` overrides it.
const KUBECTL_DIR: &str = "/usr/local/lib/peapod-kubectl";

/// kubectl pointed at a stub API server, its kubeconfig and caches in a temp dir.
struct Kubectl {
    binary: PathBuf,
    dir: tempfile::TempDir,
    server: stub::ApiServer,
}

impl Kubectl {
    fn new() -> Self {
        let from = std::env::var_os("PEAPOD_KUBECTL_DIR")
            .map_or_else(|| PathBuf::from(KUBECTL_DIR), PathBuf::from);
        let binary = from.join("kubectl");
        let swagger = std::fs::read_to_string(from.join("swagger.json"));
        assert!(
            binary.is_file() && swagger.is_ok(),
            "no kubectl and swagger.json in {}: run `cargo xtask deps` as root",
            from.display()
        );
        let (document, definitions) = openapi::encode(&swagger.unwrap()).unwrap();
        assert!(definitions > 500, "{definitions} definitions");
        let server = stub::ApiServer::start(document);
        let dir = tempfile::Builder::new()
            .prefix("peapod-kubectl-test-")
            .tempdir()
            .unwrap();
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stub\n  cluster: {{server: '{}'}}\n\
             users:\n- name: stub\n  user: {{}}\ncontexts:\n- name: stub\n  context: {{cluster: stub, user: stub, namespace: default}}\n\
             current-context: stub\n",
            server.url()
        );
        std::fs::write(dir.path().join("kubeconfig"), config).unwrap();
        Self {
            binary,
            dir,
            server,
        }
    }

    /// `kubectl apply --dry-run=client -f FILE`, bounded in time.
    fn apply(&self, file: &Path) -> Output {
        let mut child = Command::new(&self.binary)
            .env_clear()
            .env("HOME", self.dir.path())
            .env("PATH", "/usr/bin:/bin")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(["--request-timeout=20s", "apply", "--dry-run=client", "-f"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > until {
                let _ = child.kill();
                panic!("kubectl ran for more than 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }
}

fn manifest(e: &Engine) -> String {
    let data = e.tmp.path().join("data");
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: kubectl-rich
  labels: {{app: rich, tier: front}}
spec:
  hostname: richhost
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  volumes:
  - name: data
    hostPath: {{path: {data}, type: DirectoryOrCreate}}
  - name: scratch
    emptyDir: {{}}
  containers:
  - name: web
    image: {IMAGE}
    command: [httpd]
    args: [-f, -p, "$(PORT)", -h, /www]
    workingDir: /www
    env:
    - {{name: PORT, value: "8080"}}
    - {{name: GREETING, value: "hello $$(PORT)"}}
    ports:
    - {{containerPort: 8080, hostPort: 18613, hostIP: 127.0.0.1}}
    - {{containerPort: 5353, hostPort: 18614, protocol: UDP}}
    resources:
      limits: {{memory: 128Mi, cpu: 500m}}
      requests: {{cpu: 250m}}
    volumeMounts:
    - {{name: data, mountPath: /www, readOnly: true}}
    - {{name: scratch, mountPath: /scratch}}
    securityContext:
      runAsUser: 1000
      runAsGroup: 100
      capabilities: {{add: [NET_ADMIN], drop: [ALL]}}
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
    livenessProbe:
      httpGet: {{path: /healthz, port: 8080, httpHeaders: [{{name: X-Probe, value: "1"}}]}}
      initialDelaySeconds: 5
      failureThreshold: 2
    readinessProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 2
    startupProbe:
      exec: {{command: [cat, /scratch/flag]}}
  - name: sidecar
    image: {IMAGE}
    command: [sh, -c, "sleep 1000"]
    resources: {{limits: {{memory: 64Mi}}}}
    securityContext: {{privileged: true}}
    volumeMounts: [{{name: scratch, mountPath: /scratch}}]
    tty: true
    stdin: true
"#,
        data = data.display()
    )
}

#[test]
#[ignore = "root: cargo xtask test"]
fn kubectl_dry_run_accepts_kube_generate_and_refuses_a_broken_copy() {
    let kubectl = Kubectl::new();
    let e = Engine::new();
    let played = e.tmp.path().join("played.yaml");
    std::fs::write(&played, manifest(&e)).unwrap();
    e.ok(&["kube", "play", "--start=false", played.to_str().unwrap()]);
    let generated = e.ok(&["kube", "generate", "kubectl-rich"]);
    for part in [
        "hostPort: 18614",
        "GREETING",
        "memory: 128Mi",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "emptyDir",
        "hostPath",
        "NET_ADMIN",
        "privileged: true",
        "name: sidecar",
        "workingDir: /www",
        // As the file had them: `$(VAR)` unexpanded, the hostPath's name and type.
        "- $(PORT)\n",
        "value: hello $$(PORT)\n",
        "type: DirectoryOrCreate\n    name: data\n",
    ] {
        assert!(generated.contains(part), "{part} not in:\n{generated}");
    }
    let file = kubectl.dir.path().join("generated.yaml");
    std::fs::write(&file, &generated).unwrap();
    let out = kubectl.apply(&file);
    assert!(out.status.success(), "kubectl: {}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pod/kubectl-rich created (dry run)\n",
        "{}",
        text(&out)
    );
    // kubectl fetched the schema and asked for the object, which is "not found": created.
    let requests = kubectl.server.requests();
    for wanted in [
        "GET /openapi/v2",
        "GET /api/v1/namespaces/default/pods/kubectl-rich",
    ] {
        assert!(
            requests.iter().any(|r| r == wanted),
            "{wanted} not in {requests:#?}\n{}",
            text(&out)
        );
    }

    // The controls: one misspelled field, one value of the wrong type, each refused naming it.
    let controls = [
        (
            generated.replacen("workingDir:", "workinDir:", 1),
            "unknown field \"workinDir\" in io.k8s.api.core.v1.Container",
        ),
        (
            generated.replacen("hostPort: 18614", "hostPort: \"18614\"", 1),
            "io.k8s.api.core.v1.ContainerPort.hostPort: got \"string\", expected \"integer\"",
        ),
    ];
    for (broken, expected) in controls {
        assert_ne!(broken, generated, "the control changed nothing");
        std::fs::write(&file, &broken).unwrap();
        let out = kubectl.apply(&file);
        assert!(!out.status.success(), "accepted: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{expected}: {}", text(&out));
    }

    e.ok(&["kube", "down", played.to_str().unwrap()]);
    e.assert_clean();
}
