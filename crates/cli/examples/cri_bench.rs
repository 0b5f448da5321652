//! The CRI part of `cargo xtask bench clients` (run by it; it needs a containerd with the
//! CRI plugin and the `busybox` and `pause` fixtures imported into namespace `k8s.io`):
//!
//! - `cri_bench config DIR NAME=BINARY…` prints the CRI plugin's config (TOML) with those
//!   runtime handlers, for containerd's config file;
//! - `cri_bench run SOCKET RUNS NAME…` does, `RUNS` times (after 3 warm-up rounds) and
//!   round-robin over the handlers, what a kubelet does for a pod of one container:
//!   RunPodSandbox (host network), CreateContainer and StartContainer of busybox `true`,
//!   StopPodSandbox, RemovePodSandbox; it prints one `NAME MILLISECONDS` line per timed pod.

#[path = "../tests/clients/cri_client.rs"]
mod cri_client;

use std::time::Instant;

use anyhow::{Context, Result, bail};
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, CreateContainerRequest, ImageSpec, LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption, PodSandboxConfig,
    PodSandboxMetadata, RemovePodSandboxRequest, RunPodSandboxRequest, StartContainerRequest,
    StopPodSandboxRequest,
};

use cri_client::{Cri, cri_plugin_toml};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((verb, [dir, handlers @ ..])) if verb == "config" => {
            let handlers = handlers
                .iter()
                .map(|h| h.split_once('=').context("a handler is NAME=BINARY"))
                .collect::<Result<Vec<_>>>()?;
            println!("{}", cri_plugin_toml(dir, &handlers));
            Ok(())
        }
        Some((verb, [socket, runs, handlers @ ..])) if verb == "run" && !handlers.is_empty() => {
            let runs: usize = runs.parse().context("RUNS is a number")?;
            let mut cri = Cri::connect(socket.into()).map_err(anyhow::Error::msg)?;
            for round in 0..runs + 3 {
                for handler in handlers {
                    let started = Instant::now();
                    pod(&mut cri, handler, round)?;
                    if round >= 3 {
                        println!("{handler} {:.3}", started.elapsed().as_secs_f64() * 1000.0);
                    }
                }
            }
            Ok(())
        }
        _ => bail!("usage: cri_bench config DIR NAME=BINARY... | run SOCKET RUNS NAME..."),
    }
}

/// One pod of one busybox `true` container under `handler`, started and removed.
fn pod(cri: &mut Cri, handler: &str, round: usize) -> Result<()> {
    let config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: format!("bench-{handler}-{round}"),
            uid: format!("bench-{handler}-{round}"),
            namespace: "bench".to_owned(),
            attempt: 0,
        }),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: "/peapod-bench/cri".to_owned(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let sandbox = RunPodSandboxRequest {
        config: Some(config.clone()),
        runtime_handler: handler.to_owned(),
    };
    let pod_id = cri
        .rt
        .block_on(cri.client.run_pod_sandbox(sandbox))
        .with_context(|| format!("RunPodSandbox ({handler})"))?
        .into_inner()
        .pod_sandbox_id;
    let container = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: "true".to_owned(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: "docker.io/library/busybox:latest".to_owned(),
            ..Default::default()
        }),
        command: vec!["true".to_owned()],
        ..Default::default()
    };
    let create = CreateContainerRequest {
        pod_sandbox_id: pod_id.clone(),
        config: Some(container),
        sandbox_config: Some(config),
    };
    let container_id = cri
        .rt
        .block_on(cri.client.create_container(create))
        .with_context(|| format!("CreateContainer ({handler})"))?
        .into_inner()
        .container_id;
    let start = StartContainerRequest { container_id };
    cri.rt
        .block_on(cri.client.start_container(start))
        .with_context(|| format!("StartContainer ({handler})"))?;
    let stop = StopPodSandboxRequest {
        pod_sandbox_id: pod_id.clone(),
    };
    cri.rt
        .block_on(cri.client.stop_pod_sandbox(stop))
        .with_context(|| format!("StopPodSandbox ({handler})"))?;
    let remove = RemovePodSandboxRequest {
        pod_sandbox_id: pod_id,
    };
    cri.rt
        .block_on(cri.client.remove_pod_sandbox(remove))
        .with_context(|| format!("RemovePodSandbox ({handler})"))?;
    Ok(())
}
