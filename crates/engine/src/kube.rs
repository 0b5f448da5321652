//! Kubernetes manifests as plain data: a [`KubePod`] is the plan of one pod that `kube
//! play` makes (its containers as ordinary [`CreateOptions`], probes included), and that
//! `kube generate` writes back from a pod's records. Translating YAML to and from these
//! plans is `peapod-kube`'s work; this module only holds the shapes and the verbs the CLI
//! calls, so that the engine does not compile the Kubernetes API types.
//!
//! The verbs (`Engine::kube_play`, `kube_down`, `kube_plan`) make and read pods through the
//! pod API ([`crate::pod`]).

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};

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

/// What a manifest said of a container that its [`CreateOptions`] hold only expanded: the
/// kubelet expands `$(VAR)` references in `command`, `args` and `env` values from the
/// container's environment (Kubernetes' "Define Dependent Environment Variables" and
/// "Define a Command and Arguments for a Container"; `$$` is a `$`), so the container runs
/// the expanded text, and `kube generate` writes this text back (when it still expands to
/// what the container runs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubeSource {
    /// `command` as written; `None` when the manifest had none (or an empty one).
    pub command: Option<Vec<String>>,
    /// `args` as written; `None` when the manifest had none (or an empty one).
    pub args: Option<Vec<String>>,
    /// `env` as written, in order, as `NAME=value` (an entry without a value has `NAME=`).
    pub env: Vec<String>,
    /// `volumeMounts`: each `mountPath` and the name of the volume mounted there (two
    /// hostPath volumes may name one path).
    pub volume_mounts: BTreeMap<String, String>,
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

/// `kube play`'s options (default: start, do not replace).
#[derive(Clone, Debug)]
pub struct KubePlayOptions {
    /// Start the pods (`--start`, default true); else only create them.
    pub start: bool,
    /// Replace pods of the same names (`--replace`): `kube down` them first.
    pub replace: bool,
    /// The cgroup the pods' cgroups go under (`--cgroup-parent`; default the engine's).
    pub cgroup_parent: Option<String>,
}

impl Default for KubePlayOptions {
    fn default() -> Self {
        Self {
            start: true,
            replace: false,
            cgroup_parent: None,
        }
    }
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

/// The label on the engine volumes made for a pod's emptyDirs: the pod's name.
pub const POD_LABEL: &str = "io.peapod.kube.pod";

impl Engine {
    /// Makes ready what a planned pod's volumes need, before its containers are created:
    /// each `hostPath` checked (or made) as its `type` says (Kubernetes' "hostPath"
    /// documentation; a made directory is 0755, a made file 0644, no parent made for a
    /// file), then each `emptyDir`'s engine volume, labelled [`POD_LABEL`]. All or nothing:
    /// on failure what this call made is removed. Returns the engine volumes made.
    ///
    /// # Errors
    /// [`Error::KubeVolume`] naming the volume and the cause; volume and I/O errors.
    pub fn kube_prepare_volumes(&self, pod: &KubePod) -> Result<Vec<String>> {
        let mut made = Made::default();
        let result = self.prepare(pod, &mut made);
        if result.is_err() {
            made.undo(self);
        }
        result.map(|()| made.volumes)
    }

    fn prepare(&self, pod: &KubePod, made: &mut Made) -> Result<()> {
        let bad = |volume: &str, why: String| Error::KubeVolume {
            pod: pod.name.clone(),
            volume: volume.to_owned(),
            why,
        };
        // Checks first, so that a wrong type makes nothing.
        for v in &pod.volumes {
            if let KubeVolume::HostPath { name, path, kind } = v {
                check_host_path(path, *kind).map_err(|why| bad(name, why))?;
            }
        }
        for v in &pod.volumes {
            match v {
                KubeVolume::HostPath { name, path, kind } => {
                    let path = std::path::Path::new(path);
                    if path.exists() {
                        continue;
                    }
                    match kind {
                        HostPathType::DirectoryOrCreate => {
                            let missing: Vec<_> = path
                                .ancestors()
                                .take_while(|a| !a.exists())
                                .map(std::path::Path::to_path_buf)
                                .collect();
                            std::fs::DirBuilder::new()
                                .recursive(true)
                                .mode(0o755)
                                .create(path)
                                .map_err(|e| {
                                    bad(name, format!("cannot create {}: {e}", path.display()))
                                })?;
                            made.dirs.extend(missing);
                        }
                        HostPathType::FileOrCreate => {
                            std::fs::OpenOptions::new()
                                .write(true)
                                .create_new(true)
                                .mode(0o644)
                                .open(path)
                                .map_err(|e| {
                                    bad(name, format!("cannot create {}: {e}", path.display()))
                                })?;
                            made.files.push(path.to_path_buf());
                        }
                        _ => {}
                    }
                }
                KubeVolume::EmptyDir { volume, .. } => {
                    let labels = BTreeMap::from([(POD_LABEL.to_owned(), pod.name.clone())]);
                    self.volumes().create(Some(volume), &labels)?;
                    made.volumes.push(volume.clone());
                }
            }
        }
        Ok(())
    }

    /// Removes a pod's emptyDir volumes (`kube down`); those already gone are skipped.
    /// Returns the volumes removed.
    ///
    /// # Errors
    /// [`Error::VolumeInUse`] while a container still uses one; volume errors.
    pub fn kube_remove_volumes(&self, pod: &KubePod) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for v in &pod.volumes {
            if let KubeVolume::EmptyDir { volume, .. } = v {
                match self.volumes().remove(volume) {
                    Ok(()) => removed.push(volume.clone()),
                    Err(Error::NoSuchVolume(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

/// What [`Engine::kube_prepare_volumes`] made, to undo on failure.
#[derive(Default)]
struct Made {
    volumes: Vec<String>,
    /// Directories made, deepest first.
    dirs: Vec<std::path::PathBuf>,
    files: Vec<std::path::PathBuf>,
}

impl Made {
    fn undo(&self, engine: &Engine) {
        for v in &self.volumes {
            let _ = engine.volumes().remove(v);
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Kubernetes' check of a `hostPath` of `kind` (the `…OrCreate` kinds accept a missing
/// path); the reason it fails.
fn check_host_path(path: &str, kind: HostPathType) -> std::result::Result<(), String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match kind {
                HostPathType::Unset
                | HostPathType::DirectoryOrCreate
                | HostPathType::FileOrCreate => Ok(()),
                _ => Err(format!(
                    "{path} does not exist (hostPath type {})",
                    kind.as_str()
                )),
            };
        }
        Err(e) => return Err(format!("cannot stat {path}: {e}")),
    };
    let t = meta.file_type();
    let (ok, what) = match kind {
        HostPathType::Unset => (true, ""),
        HostPathType::DirectoryOrCreate | HostPathType::Directory => (t.is_dir(), "a directory"),
        HostPathType::FileOrCreate | HostPathType::File => (t.is_file(), "a regular file"),
        HostPathType::Socket => (t.is_socket(), "a unix socket"),
        HostPathType::CharDevice => (t.is_char_device(), "a character device"),
        HostPathType::BlockDevice => (t.is_block_device(), "a block device"),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{path} is not {what} (hostPath type {})",
            kind.as_str()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(dir: &std::path::Path) -> Engine {
        Engine::open(&crate::EngineOptions {
            root: dir.join("root"),
            runroot: dir.join("run"),
            monitor_program: None,
        })
        .unwrap()
    }

    fn host(name: &str, path: &std::path::Path, kind: HostPathType) -> KubeVolume {
        KubeVolume::HostPath {
            name: name.into(),
            path: path.to_str().unwrap().into(),
            kind,
        }
    }

    #[test]
    fn volumes_are_made_as_their_types_say_and_all_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = engine(tmp.path());
        let made_dir = tmp.path().join("a/b/c");
        let made_file = tmp.path().join("f");
        let mut pod = KubePod {
            name: "p".into(),
            volumes: vec![
                KubeVolume::EmptyDir {
                    name: "scratch".into(),
                    volume: "p-scratch".into(),
                },
                host("d", &made_dir, HostPathType::DirectoryOrCreate),
                host("f", &made_file, HostPathType::FileOrCreate),
                host("any", &tmp.path().join("nothing"), HostPathType::Unset),
                host("dir", tmp.path(), HostPathType::Directory),
            ],
            ..KubePod::default()
        };
        assert_eq!(engine.kube_prepare_volumes(&pod).unwrap(), ["p-scratch"]);
        assert!(made_dir.is_dir() && made_file.is_file());
        let report = engine.volumes().inspect("p-scratch").unwrap();
        assert_eq!(
            serde_json::to_value(&report).unwrap()["Labels"][POD_LABEL],
            "p"
        );
        assert_eq!(engine.kube_remove_volumes(&pod).unwrap(), ["p-scratch"]);
        assert!(engine.kube_remove_volumes(&pod).unwrap().is_empty());

        // A wrong type: an error naming the volume, and nothing made.
        std::fs::remove_dir_all(tmp.path().join("a")).unwrap();
        std::fs::remove_file(&made_file).unwrap();
        pod.volumes.push(host(
            "sock",
            &made_file.with_file_name("missing"),
            HostPathType::Socket,
        ));
        let err = engine.kube_prepare_volumes(&pod).unwrap_err().to_string();
        assert!(
            err.starts_with("pod p: volume sock: ")
                && err.contains("does not exist (hostPath type Socket)"),
            "{err}"
        );
        pod.volumes.pop();
        pod.volumes
            .push(host("notfile", tmp.path(), HostPathType::File));
        let err = engine.kube_prepare_volumes(&pod).unwrap_err().to_string();
        assert!(
            err.contains("is not a regular file (hostPath type File)"),
            "{err}"
        );
        // A failure after something was made (the emptyDir's volume exists already: made
        // by someone else) undoes what this call made.
        pod.volumes.pop();
        engine
            .volumes()
            .create(Some("p-scratch"), &BTreeMap::new())
            .unwrap();
        pod.volumes.rotate_left(1);
        let err = engine.kube_prepare_volumes(&pod).unwrap_err().to_string();
        assert!(err.contains("p-scratch already exists"), "{err}");
        assert!(
            !tmp.path().join("a").exists() && !made_file.exists(),
            "undone"
        );
        assert_eq!(engine.volumes().list().unwrap().len(), 1, "theirs stays");
    }
}
