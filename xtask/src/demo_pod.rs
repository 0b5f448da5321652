//! The pod part of `cargo xtask demo`: the seed's picture of a pod. A web server and a client
//! that reaches it over `localhost` live in one pod (one network namespace, one hostname, held
//! by the infra process), shown with `pod ps`, `pod inspect` and `pod stats`, then removed as
//! one unit.

use anyhow::{Result, bail};

use crate::demo_engine::{Peapod, section};

const POD: &str = "demo-pod";

/// Runs the pod demo on `image` (busybox, loaded already).
pub(crate) fn run(p: &Peapod, image: &str) -> Result<()> {
    section("a pod: two containers, one IP and hostname, held by the infra process");
    p.show(&["pod", "create", "--name", POD, "--memory", "64m"])?;
    p.show(&[
        "run",
        "-d",
        "--pod",
        POD,
        "--name",
        "demo-web",
        image,
        "sh",
        "-c",
        "mkdir /www && echo 'hello over localhost' > /www/index.html && exec httpd -f -p 8080 -h /www",
    ])?;
    let fetch = "for i in $(seq 50); do wget -q -O - http://localhost:8080/ && exit 0; sleep 0.1; done; exit 1";
    p.show(&[
        "run",
        "--rm",
        "--pod",
        POD,
        image,
        "sh",
        "-c",
        &format!("echo \"client on $(hostname):\"; {fetch}"),
    ])?;
    p.show(&["pod", "ps"])?;
    p.show(&[
        "ps",
        "-a",
        "--format",
        "table {{.Names}}\t{{.Image}}\t{{.Status}}",
    ])?;
    p.show(&[
        "pod",
        "inspect",
        "--format",
        "{{.Name}}: {{.State}}, infra pid {{.InfraPid}}, shares {{join .SharedNamespaces \",\"}}, cgroup {{.CgroupPath}}",
        POD,
    ])?;
    p.show(&["pod", "top", POD, "pid", "args"])?;
    p.show(&["pod", "stats", "--no-stream", POD])?;
    p.show(&["pod", "rm", "-f", POD])?;

    section("the same pod from a Kubernetes manifest: kube play, kube generate, kube down");
    let manifest = p.dir().join("pod.yaml");
    std::fs::write(&manifest, kube_manifest(image))?;
    println!("\n$ cat pod.yaml\n{}", kube_manifest(image).trim_end());
    let manifest = manifest.to_str().unwrap_or_default().to_owned();
    p.show(&["kube", "play", &manifest])?;
    p.show(&["pod", "ps"])?;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !p.quiet(&["logs", "demo-pod-client"])?.contains("hello") {
        if std::time::Instant::now() > until {
            bail!("the manifest's client logged nothing in 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    p.show(&["logs", "--tail", "1", "demo-pod-client"])?;
    p.show(&["kube", "generate", POD])?;
    p.show(&["kube", "down", &manifest])?;
    let left = p.quiet(&["pod", "ls", "-q"])?;
    if !left.trim().is_empty() {
        bail!("pods left: {left}");
    }
    Ok(())
}

/// The demo's pod as a Kubernetes Pod: a web server and a client that fetches from it over
/// localhost, the server's readiness checked by an httpGet probe the monitor runs itself.
fn kube_manifest(image: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {POD}
spec:
  containers:
  - name: web
    image: {image}
    command: [sh, -c, 'mkdir /www && echo hello over localhost > /www/index.html && exec httpd -f -p 8080 -h /www']
    readinessProbe:
      httpGet: {{path: /, port: 8080}}
      periodSeconds: 1
  - name: client
    image: {image}
    command: [sh, -c, 'while true; do wget -q -O - http://localhost:8080/; sleep 1; done']
"
    )
}
