//! The Kubernetes node path without a kubelet: containerd's CRI plugin with a runtime
//! handler `peapod` (`io.containerd.runc.v2`, `BinaryName` = peapod-oci), driven by a small
//! CRI client speaking the CRI gRPC API (`k8s-cri`'s protos over tonic) to containerd's
//! socket, as a kubelet does: a pod sandbox (the `pause` fixture), two busybox containers in
//! it talking over localhost, ExecSync, ContainerStatus, ContainerStats, a container that
//! exits and is stopped, StopPodSandbox and RemovePodSandbox. The handler `runc` is the
//! control: the same steps must give the same answers.

use std::collections::HashMap;

use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatsRequest,
    ContainerStatusRequest, CreateContainerRequest, ExecSyncRequest, ImageSpec,
    LinuxContainerResources, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    ListContainersRequest, ListPodSandboxRequest, NamespaceMode, NamespaceOption, PodSandboxConfig,
    PodSandboxMetadata, PodSandboxStatusRequest, RemovePodSandboxRequest, RunPodSandboxRequest,
    StartContainerRequest, StopContainerRequest, StopPodSandboxRequest,
    UpdateContainerResourcesRequest,
};

use crate::containerd::Containerd;
use crate::cri_client::{Cri, cri_plugin_toml};
use crate::support::{PEAPOD_OCI, RUNC};

/// The CRI plugin's config with handlers `runc` and `peapod`, and the pod network's CNI
/// config (written under `dir`).
fn cri_plugin(dir: &str) -> String {
    write_cni_config(dir);
    cri_plugin_toml(dir, &[("runc", RUNC), ("peapod", PEAPOD_OCI)])
}

/// The pod network's bridge: ours alone (a name with our pid), removed by [`Bridge`].
fn bridge_name() -> String {
    format!("pcl{}", std::process::id())
}

/// The CNI config of the pod network, in `dir/cni`: Debian's `bridge` plugin (no gateway,
/// no masquerade: nothing on the host changes but the bridge) with `host-local` addresses
/// kept under `dir`, and `loopback`.
fn write_cni_config(dir: &str) {
    let subnet = format!("10.213.{}.0/24", std::process::id() % 250);
    let config = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "peapod-clients",
        "plugins": [
            {"type": "bridge", "bridge": bridge_name(), "isGateway": false, "ipMasq": false,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                      "dataDir": format!("{dir}/ipam")}},
            {"type": "loopback"}
        ]
    });
    std::fs::create_dir_all(format!("{dir}/cni")).unwrap();
    std::fs::write(format!("{dir}/cni/10-peapod.conflist"), config.to_string()).unwrap();
}

/// Deletes the pod network's bridge when dropped (CNI's `bridge` leaves it); `assert_gone`
/// checks it.
struct Bridge;

impl Bridge {
    fn delete() {
        let _ = crate::support::output(std::process::Command::new("ip").args([
            "link",
            "del",
            &bridge_name(),
        ]));
    }

    fn assert_gone(self) {
        Self::delete();
        let links = crate::support::output(std::process::Command::new("ip").args(["-o", "link"]));
        let links = String::from_utf8_lossy(&links.stdout);
        assert!(
            !links.contains(&format!(": {}:", bridge_name())),
            "bridge left: {links}"
        );
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        Self::delete();
    }
}

/// Calls a CRI method and unwraps its answer, naming the call if it fails.
macro_rules! cri {
    ($cri:expr, $method:ident, $request:expr) => {{
        let cri: &mut Cri = &mut *$cri;
        let request = $request;
        match cri.rt.block_on(cri.client.$method(request)) {
            Ok(answer) => answer.into_inner(),
            Err(status) => panic!("CRI {}: {status}", stringify!($method)),
        }
    }};
}

/// A container of the pod: its name and command.
fn container(
    cri: &mut Cri,
    pod_id: &str,
    pod_config: &PodSandboxConfig,
    name: &str,
    command: &[&str],
) -> String {
    let config = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.to_owned(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: "docker.io/library/busybox:latest".to_owned(),
            ..Default::default()
        }),
        command: command.iter().map(|c| (*c).to_owned()).collect(),
        log_path: format!("{name}.log"),
        ..Default::default()
    };
    let created = cri!(
        cri,
        create_container,
        CreateContainerRequest {
            pod_sandbox_id: pod_id.to_owned(),
            config: Some(config),
            sandbox_config: Some(pod_config.clone()),
        }
    );
    let id = created.container_id;
    cri!(
        cri,
        start_container,
        StartContainerRequest {
            container_id: id.clone(),
        }
    );
    id
}

/// The container's state and exit code, as ContainerStatus reports them.
fn status(cri: &mut Cri, id: &str) -> (i32, i32) {
    let answer = cri!(
        cri,
        container_status,
        ContainerStatusRequest {
            container_id: id.to_owned(),
            verbose: false,
        }
    );
    let status = answer.status.unwrap_or_default();
    (status.state, status.exit_code)
}

/// What a kubelet does with one pod, under `handler`; returns what the pod showed, for
/// comparing handlers.
fn pod_lifecycle(
    cri: &mut Cri,
    containerd: &Containerd,
    (handler, network): (&str, NamespaceMode),
    port: u16,
) -> Vec<String> {
    let mut seen = Vec::new();
    let pod_config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: format!("pod-{handler}"),
            uid: format!("uid-{handler}-{}", std::process::id()),
            namespace: "peapod".to_owned(),
            attempt: 0,
        }),
        log_directory: containerd
            .path(&format!("logs-{handler}"))
            .display()
            .to_string(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: format!("{}/pod-{handler}", containerd.cgroup_parent),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: network as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        labels: HashMap::new(),
        ..Default::default()
    };
    let pod = cri!(
        cri,
        run_pod_sandbox,
        RunPodSandboxRequest {
            config: Some(pod_config.clone()),
            runtime_handler: handler.to_owned(),
        }
    );
    let pod_id = pod.pod_sandbox_id;
    if network == NamespaceMode::Pod {
        let status = cri!(
            cri,
            pod_sandbox_status,
            PodSandboxStatusRequest {
                pod_sandbox_id: pod_id.clone(),
                verbose: false,
            }
        );
        let ip = status
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .unwrap_or_default();
        assert!(
            ip.starts_with("10.213."),
            "{handler}: the pod has no address on the pod network"
        );
    }
    let server_command = format!("while true; do nc -l -p {port} -e echo hello-pod; done");
    let server = container(
        cri,
        &pod_id,
        &pod_config,
        "server",
        &["sh", "-c", &server_command],
    );
    let client = container(cri, &pod_id, &pod_config, "client", &["sleep", "3600"]);
    // The handler's runtime made them: they are in its state root (the shim's Root option,
    // then the containerd namespace).
    let state = containerd.path(handler).join("k8s.io");
    for id in [&pod_id, &server, &client] {
        assert!(
            state.join(id).join("state.json").exists(),
            "{handler}: {id} not in {state:?}"
        );
    }
    // The client asks the server over localhost (the server may not listen yet).
    let port = port.to_string();
    let answer = crate::support::wait_for(
        "an answer over localhost",
        crate::support::CLIENT_WAIT,
        || {
            let exec = cri!(
                cri,
                exec_sync,
                ExecSyncRequest {
                    container_id: client.clone(),
                    cmd: ["nc", "127.0.0.1", &port].map(str::to_owned).to_vec(),
                    timeout: 10,
                }
            );
            let stdout = String::from_utf8_lossy(&exec.stdout).into_owned();
            if stdout.contains("hello-pod") {
                Ok(stdout)
            } else {
                Err(format!("{exec:?}"))
            }
        },
    );
    seen.push(answer);
    // Both are in the sandbox's IPC namespace; ExecSync returns output and exit code.
    let mut ipc = |id: &str| {
        let exec = cri!(
            cri,
            exec_sync,
            ExecSyncRequest {
                container_id: id.to_owned(),
                cmd: ["sh", "-c", "readlink /proc/self/ns/ipc; exit 5"]
                    .map(str::to_owned)
                    .to_vec(),
                timeout: 10,
            }
        );
        assert_eq!(exec.exit_code, 5, "{handler}: {exec:?}");
        String::from_utf8_lossy(&exec.stdout).into_owned()
    };
    let (server_ipc, client_ipc) = (ipc(&server), ipc(&client));
    assert!(server_ipc.starts_with("ipc:["), "{handler}: {server_ipc}");
    assert_eq!(server_ipc, client_ipc, "{handler}");
    let running = ContainerState::ContainerRunning as i32;
    seen.push(format!(
        "{:?}",
        (status(cri, &server), status(cri, &client))
    ));
    assert_eq!(status(cri, &client).0, running, "{handler}");
    // UpdateContainerResources: the shim's `update --resources -`, applied live; the
    // handler's runtime reads the new limit back (`events --stats`, as runc prints it).
    let resources = LinuxContainerResources {
        memory_limit_in_bytes: 64 << 20,
        ..Default::default()
    };
    cri!(
        cri,
        update_container_resources,
        UpdateContainerResourcesRequest {
            container_id: client.clone(),
            linux: Some(resources),
            ..Default::default()
        }
    );
    let binary = if handler == "runc" { RUNC } else { PEAPOD_OCI };
    let mut events = std::process::Command::new(binary);
    events
        .arg("--root")
        .arg(&state)
        .args(["events", "--stats", &client]);
    let out = crate::support::output(&mut events);
    assert!(
        out.status.success(),
        "{handler}: {}",
        crate::support::text(&out)
    );
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        event["data"]["memory"]["usage"]["limit"],
        64 << 20,
        "{handler}: {event}"
    );
    let stats = cri!(
        cri,
        container_stats,
        ContainerStatsRequest {
            container_id: client.clone(),
        }
    );
    let stats = stats.stats.unwrap_or_default();
    let memory = stats
        .memory
        .and_then(|m| m.working_set_bytes)
        .map(|v| v.value);
    assert!(memory.is_some_and(|m| m > 0), "{handler}: no memory stats");
    assert!(stats.cpu.is_some(), "{handler}: no cpu stats");
    // A container that exits on its own is EXITED with its code, and stopping it (the
    // shim's `kill --all` of a stopped container) succeeds at once.
    let short = container(cri, &pod_id, &pod_config, "short", &["sh", "-c", "exit 3"]);
    let exited = ContainerState::ContainerExited as i32;
    let state = crate::support::wait_for(
        "the short container to exit",
        crate::support::CLIENT_WAIT,
        || {
            let state = status(cri, &short);
            if state.0 == exited {
                Ok(state)
            } else {
                Err(format!("{state:?}"))
            }
        },
    );
    seen.push(format!("{state:?}"));
    cri!(
        cri,
        stop_container,
        StopContainerRequest {
            container_id: short.clone(),
            timeout: 5,
        }
    );
    cri!(
        cri,
        stop_pod_sandbox,
        StopPodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        }
    );
    seen.push(format!(
        "{:?}",
        (status(cri, &server).0, status(cri, &client).0)
    ));
    cri!(
        cri,
        remove_pod_sandbox,
        RemovePodSandboxRequest {
            pod_sandbox_id: pod_id,
        }
    );
    let left = cri!(cri, list_containers, ListContainersRequest { filter: None });
    assert!(left.containers.is_empty(), "{handler}: {left:?}");
    let left = cri!(
        cri,
        list_pod_sandbox,
        ListPodSandboxRequest { filter: None }
    );
    assert!(left.items.is_empty(), "{handler}: {left:?}");
    seen
}

/// The same pod under handlers `runc` and `peapod`, on `network`: equal answers.
fn pods_answer_as_with_runc(name: &str, network: NamespaceMode) {
    let bridge = Bridge;
    let containerd = Containerd::with_plugins(name, "k8s.io", cri_plugin, &["busybox", "pause"]);
    let mut cri = Cri::connect(containerd.path("c.sock")).unwrap();
    // On the host network (NODE), a port of our own.
    let port = 20000 + (std::process::id() % 20000) as u16;
    let with_runc = pod_lifecycle(&mut cri, &containerd, ("runc", network), port);
    let with_peapod = pod_lifecycle(&mut cri, &containerd, ("peapod", network), port + 1);
    assert_eq!(with_runc[0], "hello-pod\n");
    assert_eq!(with_peapod, with_runc, "peapod-oci, then runc");
    drop(cri);
    containerd.finish();
    bridge.assert_gone();
}

/// A pod on the host network (NamespaceMode NODE), as kube-proxy's or a CNI agent's.
#[test]
#[ignore = "root: cargo xtask test"]
fn cri_host_network_pod_with_handler_peapod_answers_as_with_runc() {
    pods_answer_as_with_runc("cri-node", NamespaceMode::Node);
}

/// A pod with its own network namespace (NamespaceMode POD) on a CNI bridge network, as
/// most pods are: its containers talk over the pod's own loopback.
#[test]
#[ignore = "root: cargo xtask test"]
fn cri_pod_network_pod_with_handler_peapod_answers_as_with_runc() {
    pods_answer_as_with_runc("cri-pod", NamespaceMode::Pod);
}
