//! A CRI runtime client (`k8s-cri`'s protos over tonic, to containerd's unix socket) and
//! the CRI plugin's config, shared by the CRI tests (`cri.rs`) and the CRI part of `cargo
//! xtask bench clients` (`examples/cri_bench.rs`).

use std::path::PathBuf;

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

/// containerd's CRI plugin config (TOML) with `handlers` (name, runtime binary), each a
/// runc shim (`io.containerd.runc.v2`) whose runtime keeps its state under `dir/NAME`:
/// the `pause` fixture as sandbox image, the native snapshotter, CNI configs from
/// `dir/cni`, no streaming server port, and `restrict_oom_score_adj` (the sandbox's default
/// -998 needs CAP_SYS_RESOURCE, which these machines lack for every runtime).
pub(crate) fn cri_plugin_toml(dir: &str, handlers: &[(&str, &str)]) -> String {
    let mut toml = format!(
        r#"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/pause:latest"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{dir}/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
"#
    );
    for (handler, binary) in handlers {
        let table = format!(r#"plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}"#);
        toml.push_str(&format!(
            "    [{table}]\n      runtime_type = \"io.containerd.runc.v2\"\n      \
             [{table}.options]\n        BinaryName = \"{binary}\"\n        \
             Root = \"{dir}/{handler}\"\n"
        ));
    }
    toml
}

/// A CRI runtime client over containerd's unix socket, on a current-thread tokio runtime:
/// call as `cri.rt.block_on(cri.client.run_pod_sandbox(request))`.
pub(crate) struct Cri {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) client: RuntimeServiceClient<Channel>,
}

impl Cri {
    /// Connects to the CRI socket `socket`.
    pub(crate) fn connect(socket: PathBuf) -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot make a tokio runtime: {e}"))?;
        let shown = socket.display().to_string();
        let channel = rt
            .block_on(
                tonic::transport::Endpoint::from_static("http://[::]:50051")
                    .connect_with_connector(tower::service_fn(move |_| {
                        let socket = socket.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(socket).await?;
                            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                        }
                    })),
            )
            .map_err(|e| format!("cannot connect to the CRI socket {shown}: {e}"))?;
        Ok(Self {
            rt,
            client: RuntimeServiceClient::new(channel),
        })
    }
}
