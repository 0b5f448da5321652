//! Kubernetes manifests as plain data: a [`KubePod`] is the plan of one pod that `kube
//! play` makes (its containers as ordinary [`CreateOptions`], probes included), and that
//! `kube generate` writes back from a pod's records. Translating YAML to and from these
//! plans is `peapod-kube`'s work; this module only holds the shapes and the verbs the CLI
//! calls, so that the engine does not compile the Kubernetes API types.
//!
//! The verbs need the pod API (issue 13's pod core) and, until it is wired, answer
//! [`Error::Unsupported`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::container::CreateOptions;
use crate::error::{Error, Result};

/// One pod to make: from a Pod manifest, or one replica of a Deployment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KubePod {
    /// The pod's name (`metadata.name`; `<deployment>-<n>` for replica `n` from 0).
    pub name: String,
    /// `spec.hostname` (Kubernetes' default, the pod's name, when `None`).
    pub hostname: Option<String>,
    /// `metadata.labels` (a Deployment's: its template's).
    pub labels: BTreeMap<String, String>,
    /// Published ports in `-p` syntax (`[HOST_IP:]HOST_PORT:CONTAINER_PORT/PROTO`), from
    /// the containers' `ports[].hostPort` (published at the pod level).
    pub ports: Vec<String>,
    /// `spec.restartPolicy` (Kubernetes' default: `Always`).
    pub restart_policy: KubeRestartPolicy,
    /// `spec.volumes` that the containers mount.
    pub volumes: Vec<KubeVolume>,
    /// `spec.initContainers`: run one after another, each to completion, before the
    /// containers start.
    pub init_containers: Vec<CreateOptions>,
    /// `spec.containers`, each with its probes in [`CreateOptions::probes`] and its name in
    /// [`CreateOptions::name`] (`<pod>-<container>`, as podman names them).
    pub containers: Vec<CreateOptions>,
}

/// `spec.restartPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum KubeRestartPolicy {
    /// Restart after every exit (the containers' `--restart always`).
    #[default]
    Always,
    /// Restart after a non-zero exit (`--restart on-failure`).
    OnFailure,
    /// Never restart (`--restart no`).
    Never,
}

impl KubeRestartPolicy {
    /// Kubernetes' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KubeRestartPolicy::Always => "Always",
            KubeRestartPolicy::OnFailure => "OnFailure",
            KubeRestartPolicy::Never => "Never",
        }
    }
}

/// One `spec.volumes` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KubeVolume {
    /// `hostPath`: mounted as a bind mount of `path`.
    HostPath {
        /// The volume's name in the manifest.
        name: String,
        /// The absolute host path.
        path: String,
        /// `hostPath.type`: what must be there (or be made) before the pod starts.
        kind: HostPathType,
    },
    /// `emptyDir`: an engine volume made for the pod (and removed with it by `kube down`).
    EmptyDir {
        /// The volume's name in the manifest.
        name: String,
        /// The engine volume's name: `<pod>-<name>`.
        volume: String,
    },
}

impl KubeVolume {
    /// The volume's name in the manifest.
    pub fn name(&self) -> &str {
        match self {
            KubeVolume::HostPath { name, .. } | KubeVolume::EmptyDir { name, .. } => name,
        }
    }
}

/// `hostPath.type` (Kubernetes' "hostPath" volume documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostPathType {
    /// `""`: no check.
    #[default]
    Unset,
    /// `DirectoryOrCreate`: made (mode 0755) if missing.
    DirectoryOrCreate,
    /// `Directory`: must be a directory.
    Directory,
    /// `FileOrCreate`: made empty (mode 0644) if missing.
    FileOrCreate,
    /// `File`: must be a file.
    File,
    /// `Socket`: must be a unix socket.
    Socket,
    /// `CharDevice`.
    CharDevice,
    /// `BlockDevice`.
    BlockDevice,
}

impl HostPathType {
    /// Kubernetes' spelling (`""` for [`HostPathType::Unset`]).
    pub fn as_str(self) -> &'static str {
        match self {
            HostPathType::Unset => "",
            HostPathType::DirectoryOrCreate => "DirectoryOrCreate",
            HostPathType::Directory => "Directory",
            HostPathType::FileOrCreate => "FileOrCreate",
            HostPathType::File => "File",
            HostPathType::Socket => "Socket",
            HostPathType::CharDevice => "CharDevice",
            HostPathType::BlockDevice => "BlockDevice",
        }
    }

    /// From Kubernetes' spelling; `None` if unknown.
    pub fn parse(text: &str) -> Option<Self> {
        [
            HostPathType::Unset,
            HostPathType::DirectoryOrCreate,
            HostPathType::Directory,
            HostPathType::FileOrCreate,
            HostPathType::File,
            HostPathType::Socket,
            HostPathType::CharDevice,
            HostPathType::BlockDevice,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}

/// `kube play`'s options.
#[derive(Clone, Debug, Default)]
pub struct KubePlayOptions {
    /// Start the pods (`--start`, default true); else only create them.
    pub start: bool,
    /// Replace pods of the same names (`--replace`): `kube down` them first.
    pub replace: bool,
}

/// What `kube play` made.
#[derive(Clone, Debug, Default, Serialize)]
pub struct KubePlayReport {
    /// Per pod: its name and id, and its containers' ids.
    pub pods: Vec<PlayedPod>,
}

/// One pod that `kube play` made.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlayedPod {
    /// The pod's name.
    pub name: String,
    /// The pod's id.
    pub id: String,
    /// Its containers' ids (init containers first).
    pub containers: Vec<String>,
}

/// The `kube` verbs of an [`Engine`].
impl Engine {
    /// `kube play`: makes (and by default starts) each planned pod, its emptyDir volumes
    /// and its containers; all or nothing (a failure removes what this call made).
    ///
    /// # Errors
    /// Until the pod core is wired: always [`Error::Unsupported`].
    // STUB(kube): wire to the pod API when merging issue 13's pod core.
    pub fn kube_play(&self, pods: &[KubePod], opts: &KubePlayOptions) -> Result<KubePlayReport> {
        let _ = (pods, opts);
        Err(Error::Unsupported(
            "kube play: pods are not wired into the engine yet".into(),
        ))
    }

    /// `kube down`: stops and removes the planned pods (by name), their containers and
    /// their emptyDir volumes; pods that are not there are skipped. Returns the names of
    /// the pods removed.
    ///
    /// # Errors
    /// Until the pod core is wired: always [`Error::Unsupported`].
    // STUB(kube): wire to the pod API when merging issue 13's pod core.
    pub fn kube_down(&self, pods: &[KubePod]) -> Result<Vec<String>> {
        let _ = pods;
        Err(Error::Unsupported(
            "kube down: pods are not wired into the engine yet".into(),
        ))
    }

    /// `kube generate`: the plan of an existing pod (name, hostname, labels, ports,
    /// restart policy, volumes, containers' create options and probes), for
    /// `peapod_kube::generate`.
    ///
    /// # Errors
    /// Until the pod core is wired: always [`Error::Unsupported`].
    // STUB(kube): wire to the pod API when merging issue 13's pod core.
    pub fn kube_plan(&self, pod: &str) -> Result<KubePod> {
        Err(Error::Unsupported(format!(
            "kube generate {pod}: pods are not wired into the engine yet"
        )))
    }
}
