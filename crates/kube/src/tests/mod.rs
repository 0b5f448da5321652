//! Manifests of our own, good and bad; the generate → parse round trip in [`round_trip`].

mod round_trip;

use peapod_engine::container::{MountSpec, ProbeAction, RestartPolicy};
use peapod_engine::kube::{HostPathType, KubePod, KubeRestartPolicy, KubeVolume};

use crate::{KubeError, ParseOptions, parse};

const FULL: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  hostname: webhost
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  securityContext: {runAsUser: 7}
  volumes:
  - name: data
    hostPath: {path: /srv/data, type: DirectoryOrCreate}
  - name: scratch
    emptyDir: {}
  initContainers:
  - name: prep
    image: busybox
    command: [sh, -c, "echo ready > /scratch/flag"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  containers:
  - name: httpd
    image: docker.io/library/busybox:latest
    command: [httpd]
    args: [-f, -p, "$(PORT)", -h, /www, "$$(PORT)"]
    workingDir: /www
    env:
    - {name: PORT, value: "8080"}
    - {name: URL, value: "http://localhost:$(PORT)/"}
    - {name: EMPTY}
    ports:
    - {name: http, containerPort: 8080, hostPort: 18080}
    - {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: 127.0.0.1}
    - {containerPort: 9000}
    resources:
      limits: {memory: 128Mi, cpu: 500m}
      requests: {cpu: 250m}
    volumeMounts:
    - {name: data, mountPath: /www, readOnly: true}
    - {name: scratch, mountPath: /scratch}
    securityContext:
      runAsUser: 1000
      runAsGroup: 100
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
    livenessProbe:
      httpGet: {path: /healthz, port: http, httpHeaders: [{name: X-Probe, value: "1"}]}
      initialDelaySeconds: 5
      failureThreshold: 2
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 2
      successThreshold: 2
    startupProbe:
      exec: {command: [cat, /scratch/flag]}
  - name: client
    image: busybox
    tty: true
    stdin: true
"#;

fn one(yaml: &str) -> KubePod {
    let mut parsed = parse("test.yaml", yaml, &ParseOptions::default()).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.pods.len(), 1);
    parsed.pods.remove(0)
}

fn error(yaml: &str) -> String {
    parse("test.yaml", yaml, &ParseOptions::default())
        .map(|p| format!("parsed: {:?}", p.pods))
        .unwrap_err_or_message()
}

trait ErrText {
    fn unwrap_err_or_message(self) -> String;
}

impl ErrText for Result<String, KubeError> {
    fn unwrap_err_or_message(self) -> String {
        match self {
            Ok(s) => panic!("expected an error, got {s}"),
            Err(e) => e.to_string(),
        }
    }
}

#[test]
fn a_full_pod_becomes_its_plan() {
    let pod = one(FULL);
    assert_eq!(pod.name, "web");
    assert_eq!(pod.hostname.as_deref(), Some("webhost"));
    assert_eq!(pod.labels.get("tier").map(String::as_str), Some("front"));
    assert_eq!(pod.restart_policy, KubeRestartPolicy::OnFailure);
    assert_eq!(pod.ports, ["18080:8080/tcp", "127.0.0.1:5353:53/udp"]);
    assert_eq!(
        pod.volumes,
        [
            KubeVolume::HostPath {
                name: "data".into(),
                path: "/srv/data".into(),
                kind: HostPathType::DirectoryOrCreate
            },
            KubeVolume::EmptyDir {
                name: "scratch".into(),
                volume: "web-scratch".into()
            },
        ]
    );
    let [prep] = pod.init_containers.as_slice() else {
        panic!()
    };
    assert_eq!(prep.name.as_deref(), Some("web-prep"));
    assert_eq!(prep.restart, Some(RestartPolicy::No));
    assert!(prep.probes.is_empty());
    assert!(
        matches!(&prep.mounts[..], [MountSpec::Volume { name: Some(n), .. }] if n == "web-scratch")
    );
    let [httpd, client] = pod.containers.as_slice() else {
        panic!()
    };
    assert_eq!(httpd.name.as_deref(), Some("web-httpd"));
    assert_eq!(httpd.image, "docker.io/library/busybox:latest");
    assert_eq!(httpd.config.entrypoint, Some(vec!["httpd".to_owned()]));
    // $(VAR) expanded from the container's env, $$ escapes it.
    assert_eq!(
        httpd.config.cmd,
        ["-f", "-p", "8080", "-h", "/www", "$(PORT)"]
    );
    assert_eq!(
        httpd.config.env,
        ["PORT=8080", "URL=http://localhost:8080/", "EMPTY="]
    );
    // The text as written is kept for `kube generate`.
    let source = httpd.kube.as_ref().unwrap();
    assert_eq!(source.command, Some(vec!["httpd".to_owned()]));
    assert_eq!(
        source.args.as_deref().unwrap(),
        ["-f", "-p", "$(PORT)", "-h", "/www", "$$(PORT)"]
    );
    assert_eq!(
        source.env,
        ["PORT=8080", "URL=http://localhost:$(PORT)/", "EMPTY="]
    );
    assert_eq!(client.kube.as_ref().unwrap(), &Default::default());
    assert_eq!(httpd.config.workdir.as_deref(), Some("/www"));
    assert_eq!(httpd.resources.memory, Some(128 << 20));
    assert_eq!(httpd.resources.nano_cpus, Some(500_000_000));
    assert_eq!(httpd.resources.cpu_shares, Some(256));
    assert_eq!(httpd.restart, Some(RestartPolicy::OnFailure { max: 0 }));
    assert_eq!(httpd.config.user.as_deref(), Some("1000:100"));
    assert_eq!(httpd.config.cap_add, ["NET_ADMIN"]);
    assert_eq!(httpd.config.cap_drop, ["ALL"]);
    assert!(httpd.config.read_only && !httpd.config.privileged && httpd.no_new_privileges);
    assert_eq!(
        httpd.mounts,
        [
            MountSpec::Bind {
                source: "/srv/data".into(),
                destination: "/www".into(),
                readonly: true
            },
            MountSpec::Volume {
                name: Some("web-scratch".into()),
                destination: "/scratch".into(),
                readonly: false
            },
        ]
    );
    let liveness = httpd.probes.liveness.as_ref().unwrap();
    assert_eq!(
        liveness.action,
        ProbeAction::HttpGet {
            host: None,
            port: 8080,
            path: "/healthz".into(),
            headers: vec![("X-Probe".into(), "1".into())]
        }
    );
    assert_eq!(
        (liveness.initial_delay_seconds, liveness.failure_threshold),
        (5, 2)
    );
    // Kubernetes' defaults where the manifest says nothing.
    assert_eq!(
        (
            liveness.period_seconds,
            liveness.timeout_seconds,
            liveness.success_threshold
        ),
        (10, 1, 1)
    );
    let readiness = httpd.probes.readiness.as_ref().unwrap();
    assert_eq!(
        readiness.action,
        ProbeAction::TcpSocket {
            host: None,
            port: 8080
        }
    );
    assert_eq!(
        (
            readiness.period_seconds,
            readiness.success_threshold,
            readiness.failure_threshold
        ),
        (2, 2, 3)
    );
    let startup = httpd.probes.startup.as_ref().unwrap();
    assert_eq!(
        startup.action,
        ProbeAction::Exec {
            command: vec!["cat".into(), "/scratch/flag".into()]
        }
    );
    assert_eq!(client.config.entrypoint, None);
    assert!(client.config.cmd.is_empty());
    assert!(client.config.tty && client.stdin);
    // The pod's user for a container without its own; the pod's grace period for all.
    assert_eq!(client.config.user.as_deref(), Some("7"));
    assert_eq!(prep.config.user.as_deref(), Some("7"));
    assert!(
        pod.init_containers
            .iter()
            .chain(&pod.containers)
            .all(|c| c.stop_timeout == Some(5))
    );
    assert_eq!(client.restart, Some(RestartPolicy::OnFailure { max: 0 }));
}

#[test]
fn deployments_make_one_pod_per_replica_in_a_stream() {
    let yaml = r"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default, labels: {team: a, v: '1'}}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, v: '2'}}
    spec:
      containers: [{name: srv, image: busybox, args: [sleep, '1000']}]
---
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec: {containers: [{name: c, image: busybox}], restartPolicy: Never}
";
    let parsed = parse("d.yaml", yaml, &ParseOptions::default()).unwrap();
    let names: Vec<_> = parsed.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["api-0", "api-1", "api-2", "solo"]);
    assert_eq!(
        parsed.pods[1].labels.get("v").map(String::as_str),
        Some("2")
    );
    assert_eq!(
        parsed.pods[1].containers[0].name.as_deref(),
        Some("api-1-srv")
    );
    assert_eq!(
        parsed.pods[1].containers[0].restart,
        Some(RestartPolicy::Always)
    );
    assert_eq!(
        parsed.pods[3].containers[0].restart,
        Some(RestartPolicy::No)
    );
    let zero = yaml.replace("replicas: 3", "replicas: 0");
    assert_eq!(
        parse("d.yaml", &zero, &ParseOptions::default())
            .unwrap()
            .pods
            .len(),
        1
    );
}

#[test]
fn unsupported_fields_are_named_errors_or_lenient_warnings() {
    let yaml = r"
apiVersion: v1
kind: Pod
metadata: {name: p, annotations: {a: b}, creationTimestamp: null}
spec:
  nodeSelector: {disk: ssd}
  containers:
  - name: c
    image: busybox
    lifecycle: {preStop: {exec: {command: [true]}}}
    imagee: typo
    resources: {limits: {memory: 1Gi, ephemeral-storage: 1Gi}, requests: {memory: 1Gi}}
    env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    livenessProbe: {grpc: {port: 1}, terminationGracePeriodSeconds: 3}
status: {}
";
    let err = error(yaml);
    for field in [
        "metadata.annotations",
        "spec.nodeSelector",
        "spec.containers[0].lifecycle",
        "spec.containers[0].imagee",
        "spec.containers[0].resources.limits.ephemeral-storage",
        "spec.containers[0].resources.requests.memory",
        "spec.containers[0].env[0].valueFrom",
        "spec.containers[0].livenessProbe.grpc",
        "spec.containers[0].livenessProbe.terminationGracePeriodSeconds",
    ] {
        assert!(err.contains(field), "{field} not in {err}");
    }
    // Empty values say nothing: not reported.
    assert!(
        !err.contains("creationTimestamp") && !err.contains("status"),
        "{err}"
    );
    assert!(err.contains("--lenient"), "{err}");
    // Lenient: the same fields are warnings, the rest is used; the probe left with no
    // handler is still an error (it would check nothing).
    let lenient = ParseOptions { lenient: true };
    let err = parse("t.yaml", yaml, &lenient).unwrap_err().to_string();
    assert!(
        err.contains("livenessProbe: needs exactly one of exec, httpGet and tcpSocket"),
        "{err}"
    );
    let without_probe = yaml.replace(
        "    livenessProbe: {grpc: {port: 1}, terminationGracePeriodSeconds: 3}\n",
        "",
    );
    let parsed = parse("t.yaml", &without_probe, &lenient).unwrap();
    assert_eq!(parsed.warnings.len(), 7, "{:?}", parsed.warnings);
    assert!(
        parsed
            .warnings
            .iter()
            .any(|w| w
                == "t.yaml: Pod \"p\": unsupported field spec.containers[0].lifecycle: ignored")
    );
    let c = &parsed.pods[0].containers[0];
    assert_eq!(c.resources.memory, Some(1 << 30));
    assert_eq!(c.config.env, ["A="]);
}

#[test]
fn init_containers_take_no_probes() {
    let yaml = r"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: i, image: busybox, readinessProbe: {exec: {command: [true]}}}]
  containers: [{name: c, image: busybox}]
";
    assert!(error(yaml).contains("spec.initContainers[0].readinessProbe"));
}

#[test]
fn other_kinds_are_refused_or_skipped() {
    let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n";
    let err = error(yaml);
    assert!(err.contains("document 1: kind \"Service\""), "{err}");
    let err = error("apiVersion: apps/v1\nkind: Pod\nmetadata: {name: p}\n");
    assert!(err.contains("(\"apps/v1\") is not supported"), "{err}");
    let parsed = parse("t.yaml", yaml, &ParseOptions { lenient: true }).unwrap();
    assert!(parsed.pods.is_empty());
    assert_eq!(parsed.warnings.len(), 1);
}

#[test]
fn malformed_yaml_names_the_document_and_place() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: b}]}\n---\nmetadata: {name: [unclosed\n";
    let err = error(yaml);
    assert!(
        err.starts_with("test.yaml: document 2: not valid YAML:"),
        "{err}"
    );
    assert!(err.contains("line"), "{err}");
    let err = error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 3}\n");
    assert!(err.contains("not a valid Pod"), "{err}");
}

#[test]
fn alias_bombs_are_refused() {
    let mut yaml = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, next) in ('a'..='i').zip('b'..='j') {
        yaml.push_str(&format!("{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let started = std::time::Instant::now();
    let err = error(&yaml);
    assert!(
        err.contains("not valid YAML") && err.contains("repetition limit"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn bad_values_are_named() {
    let pod = |containers: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  volumes: [{{name: v, emptyDir: {{}}}}]\n  containers:\n{containers}"
        )
    };
    let cases = [
        ("  - {name: c}\n", "spec.containers[0].image: required"),
        (
            "  - {name: c, image: b, ports: [{containerPort: 0}]}\n",
            "spec.containers[0].ports[0].containerPort: 0 is not a port",
        ),
        (
            "  - {name: c, image: b, ports: [{containerPort: 80, hostPort: 70000}]}\n",
            "hostPort: 70000 is not a port",
        ),
        (
            "  - {name: c, image: b, ports: [{containerPort: 80, protocol: SCTP}]}\n",
            "\"SCTP\" is not TCP or UDP",
        ),
        (
            "  - {name: c, image: b, volumeMounts: [{name: w, mountPath: /w}]}\n",
            "volumeMounts[0].name: no volume \"w\"",
        ),
        (
            "  - {name: c, image: b, volumeMounts: [{name: v, mountPath: rel}]}\n",
            "mountPath: not an absolute path",
        ),
        (
            "  - {name: c, image: b, resources: {limits: {memory: lots}}}\n",
            "limits.memory: \"lots\" is not",
        ),
        (
            "  - {name: c, image: b, resources: {limits: {cpu: 1}, requests: {cpu: 2}}}\n",
            "requests.cpu: more than limits.cpu",
        ),
        (
            "  - {name: c, image: b}\n  - {name: c, image: b}\n",
            "spec.containers[1].name: \"c\" is used twice",
        ),
        (
            "  - {name: 'bad name', image: b}\n",
            "spec.containers[0].name: invalid container name",
        ),
        (
            "  - {name: c, image: b, securityContext: {runAsGroup: 5}}\n",
            "runAsGroup: needs runAsUser",
        ),
        (
            "  - {name: c, image: b, livenessProbe: {httpGet: {port: web}}}\n",
            "livenessProbe.httpGet.port: no port named \"web\"",
        ),
        (
            "  - {name: c, image: b, livenessProbe: {httpGet: {port: 80, scheme: HTTPS}}}\n",
            "only HTTP",
        ),
        (
            "  - {name: c, image: b, livenessProbe: {tcpSocket: {port: 80, host: db.local}}}\n",
            "\"db.local\" is not an IP address",
        ),
        (
            "  - {name: c, image: b, livenessProbe: {exec: {command: [x]}, successThreshold: 2}}\n",
            "must be 1",
        ),
        (
            "  - {name: c, image: b, readinessProbe: {exec: {command: [x]}, periodSeconds: 0}}\n",
            "periodSeconds: 0 is less than 1",
        ),
        (
            "  - {name: c, image: b, readinessProbe: {exec: {command: [x]}, tcpSocket: {port: 1}}}\n",
            "needs exactly one",
        ),
    ];
    for (containers, expected) in cases {
        let err = error(&pod(containers));
        assert!(err.contains(expected), "{containers}: {err}");
        assert!(err.starts_with("test.yaml: Pod \"p\": "), "{err}");
    }
    let elsewhere = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-system}\nspec: {containers: [{name: c, image: b}]}\n";
    assert!(
        error(elsewhere).contains("metadata.namespace: \"kube-system\": peapod has one namespace")
    );
    let no_name = "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c, image: b}]}\n";
    assert!(error(no_name).contains("metadata.name: required"));
    let twice = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: b}]}\n";
    assert!(error(&format!("{twice}---\n{twice}")).contains("made twice"));
}

#[test]
fn deployment_rules() {
    let huge = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1000000000, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: b}]}}}\n";
    assert!(error(huge).contains("spec.replicas: 1000000000: at most 64 pods"));
    let d = |spec: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n{spec}")
    };
    let template = "  template:\n    metadata: {labels: {app: a}}\n    spec: {containers: [{name: c, image: b, ports: [{containerPort: 80, hostPort: 8080}]}]}\n";
    let err = error(&d(&format!(
        "  selector: {{matchLabels: {{app: b}}}}\n{template}"
    )));
    assert!(
        err.contains("spec.selector.matchLabels: app=b does not match"),
        "{err}"
    );
    let err = error(&d(&format!(
        "  replicas: 2\n  selector: {{matchLabels: {{app: a}}}}\n{template}"
    )));
    assert!(
        err.contains("spec.replicas: 2 replicas would each publish host port 8080:80/tcp"),
        "{err}"
    );
    let err = error(&d(&format!(
        "  selector: {{matchLabels: {{app: a}}}}\n{}",
        template.replace("spec: {", "spec: {restartPolicy: Never, ")
    )));
    assert!(err.contains("spec.template.spec.restartPolicy"), "{err}");
    let err = error(&d(&format!(
        "  selector: {{matchLabels: {{app: a}}}}\n{}",
        template.replace("image: b", "image: b, lifecycle: {x: 1}")
    )));
    assert!(
        err.contains("spec.template.spec.containers[0].lifecycle"),
        "{err}"
    );
    let err = error(&d(&format!(
        "  selector: {{matchLabels: {{app: a}}}}\n{}",
        template.replace("hostPort: 8080", "hostPort: -1")
    )));
    assert!(
        err.contains("spec.template.spec.containers[0].ports[0].hostPort"),
        "{err}"
    );
}
