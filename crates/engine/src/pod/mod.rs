//! **Pods**: a few containers that live together. They share the pod's network namespace (one
//! IP and port space: `localhost` between them), IPC and UTS namespaces (one hostname), and
//! with `--share pid` one PID namespace; their cgroups nest in the pod's, which carries the
//! pod-wide limits; ports are published at the pod level.
//!
//! Who holds what: the pod's **infra container** is a row of the `containers` table (named
//! `<pod id>-infra`, shown by `ps -a` and `pod inspect`) whose process is not from an image but
//! this program re-executed as `PROGRAM __peapod-infra RUNDIR READYFD` ([`infra`]): it joins the
//! pod's network namespace (made and pinned by the engine under `RUNROOT/netns/<infra id>`, as
//! a container's is, with the pod's veth, address and published ports), creates the IPC, UTS
//! and (with `--share pid`) PID namespaces, pins each by a bind mount under
//! `RUNROOT/pods/<pod id>/ns/`, sets the hostname, and then sleeps, reaping zombies when it is
//! PID 1 of the shared PID namespace. It holds its run directory's `monitor.lock` for its whole
//! life, so the engine sees it alive or lost as it sees a container's monitor. Member
//! containers' `config.json` join those pinned namespaces by path. The engine signals the
//! infra through a pidfd after checking the process's start time against the one it recorded
//! (a pid alone may have been reused).
//!
//! A pod's state is computed from its infra and members on every read: `created` (nothing
//! started yet), `running` (everything runs), `degraded` (some run, some do not, or the infra
//! died while members run), `paused`, `exited`.

mod create;
pub(crate) mod infra;
mod inspect;
mod kube_play;
mod lifecycle;
mod logs;
pub(crate) mod member;
mod ports;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use create::INFRA_IMAGE;
pub use inspect::{PodMember, PodReport};
pub use lifecycle::MemberResults;

use crate::container::{NetworkMode, Resources, RestartPolicy};
use crate::engine::Engine;

/// The first argument that makes a program a pod's infra process (see
/// [`crate::monitor::dispatch`]).
pub const INFRA_ARG: &str = "__peapod-infra";

/// The namespaces a pod's containers share (`--share`; default `net,ipc,uts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Share {
    /// The network namespace (one IP, `localhost` between members).
    pub net: bool,
    /// System V IPC and POSIX message queues.
    pub ipc: bool,
    /// The hostname.
    pub uts: bool,
    /// One PID namespace, the infra as its PID 1.
    pub pid: bool,
}

impl Default for Share {
    fn default() -> Self {
        Self {
            net: true,
            ipc: true,
            uts: true,
            pid: false,
        }
    }
}

impl Share {
    /// Parses podman's `--share` value: a comma list replaces the default (`net,ipc`), a list
    /// of `+name`s adds to it (`+pid`). `cgroup` is accepted (the pod's cgroup is always the
    /// parent of its containers').
    ///
    /// # Errors
    /// [`crate::Error::InvalidFlag`] naming an unknown namespace.
    pub fn parse(text: &str) -> crate::Result<Share> {
        let adding = text.split(',').all(|t| t.trim().starts_with('+'));
        let mut share = if adding {
            Share::default()
        } else {
            Share {
                net: false,
                ipc: false,
                uts: false,
                pid: false,
            }
        };
        for item in text.split(',').map(|t| t.trim().trim_start_matches('+')) {
            match item {
                "net" => share.net = true,
                "ipc" => share.ipc = true,
                "uts" => share.uts = true,
                "pid" => share.pid = true,
                "cgroup" | "" => {}
                other => {
                    return Err(crate::Error::InvalidFlag {
                        flag: "--share",
                        value: text.to_owned(),
                        why: format!(
                            "unknown namespace {other:?} (expected net, ipc, uts, pid or cgroup)"
                        ),
                    });
                }
            }
        }
        Ok(share)
    }

    /// As `--share` writes it (`net,ipc,uts`).
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.net, "net"),
            (self.ipc, "ipc"),
            (self.uts, "uts"),
            (self.pid, "pid"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect()
    }

    fn any(&self) -> bool {
        self.net || self.ipc || self.uts || self.pid
    }
}

/// Everything `pod create` takes, stored with the pod.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PodCreateOptions {
    /// `--name` (default: a generated `adjective_name`).
    pub name: Option<String>,
    /// `--hostname` (default: the pod's name).
    pub hostname: Option<String>,
    /// `--label KEY=VALUE`.
    pub labels: BTreeMap<String, String>,
    /// `--share`.
    pub share: Share,
    /// `--infra=false`: no infra container, so nothing can be shared.
    pub infra: bool,
    /// `--network`: the pod's (its members may not have one of their own).
    pub network: NetworkMode,
    /// `-p`, published at the pod level.
    pub publish: Vec<String>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--add-host NAME:IP`.
    pub add_hosts: Vec<String>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// Pod-wide `--memory`, `--cpus`, `--pids-limit` on the pod's cgroup.
    pub resources: Resources,
    /// `--cgroup-parent` (default [`crate::container::DEFAULT_CGROUP_PARENT`]).
    pub cgroup_parent: Option<String>,
    /// `--restart`: the restart policy of every container of the pod that has none of its
    /// own (each member's monitor applies it).
    pub restart: RestartPolicy,
    /// `spec.volumes` of the manifest `kube play` made the pod from (their names and
    /// hostPath types, which its members' mounts do not keep), for `kube generate`; empty
    /// for a pod not made from a manifest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kube_volumes: Vec<crate::kube::KubeVolume>,
}

impl Default for PodCreateOptions {
    fn default() -> Self {
        Self {
            name: None,
            hostname: None,
            labels: BTreeMap::new(),
            share: Share::default(),
            infra: true,
            network: NetworkMode::default(),
            publish: Vec::new(),
            ip: None,
            dns: Vec::new(),
            dns_search: Vec::new(),
            add_hosts: Vec::new(),
            aliases: Vec::new(),
            resources: Resources::default(),
            cgroup_parent: None,
            restart: RestartPolicy::No,
            kube_volumes: Vec::new(),
        }
    }
}

/// A pod's state as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PodState {
    /// Nothing of it has run yet.
    Created,
    /// Its infra and every member run.
    Running,
    /// Some of it runs and some does not (a member exited, or the infra died).
    Degraded,
    /// Its members are paused.
    Paused,
    /// Nothing of it runs.
    Exited,
}

impl PodState {
    /// podman's words: `Created`, `Running`, `Degraded`, `Paused`, `Exited`.
    pub fn as_str(self) -> &'static str {
        match self {
            PodState::Created => "Created",
            PodState::Running => "Running",
            PodState::Degraded => "Degraded",
            PodState::Paused => "Paused",
            PodState::Exited => "Exited",
        }
    }
}

impl std::fmt::Display for PodState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pod as the engine records it.
#[derive(Clone, Debug, Serialize)]
pub struct PodRecord {
    /// 64 hex digits.
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// Unix nanoseconds.
    pub created: i64,
    /// Its infra container's id (`None` with `--infra=false`).
    pub infra_id: Option<String>,
    /// The create options (the hostname filled in).
    pub config: PodCreateOptions,
}

impl PodRecord {
    /// The first 12 hex digits.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    /// The pod's cgroup (`PARENT/pod-<id>`); its members' cgroups nest in it.
    pub fn cgroup_path(&self) -> String {
        let parent = self
            .config
            .cgroup_parent
            .as_deref()
            .unwrap_or(crate::container::DEFAULT_CGROUP_PARENT);
        format!("{}/pod-{}", parent.trim_end_matches('/'), self.id)
    }

    /// The hostname its members see.
    pub fn hostname(&self) -> &str {
        self.config.hostname.as_deref().unwrap_or(&self.name)
    }
}

/// The pod verbs of an [`Engine`]: `engine.pods()`.
#[derive(Debug)]
pub struct Pods<'e> {
    pub(crate) engine: &'e Engine,
}

/// Where a pod's pinned namespaces live: `RUNROOT/pods/<id>/ns/<ipc|uts|pid>`.
pub(crate) fn ns_dir(runroot: &std::path::Path, pod_id: &str) -> PathBuf {
    runroot.join("pods").join(pod_id).join("ns")
}

impl Pods<'_> {
    /// The pod of `key` (name, id or unique id prefix).
    ///
    /// # Errors
    /// [`crate::Error::NoSuchPod`], [`crate::Error::AmbiguousPod`], database errors.
    pub fn get(&self, key: &str) -> crate::Result<PodRecord> {
        let row = self.engine.db.find_pod(key)?;
        decode(row)
    }

    /// Every pod's name by its id (for `ps --pod`).
    ///
    /// # Errors
    /// Database errors.
    pub fn names(&self) -> crate::Result<BTreeMap<String, String>> {
        Ok(self
            .engine
            .db
            .pods()?
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect())
    }

    /// Whether a pod of this name or id exists (`pod exists`).
    ///
    /// # Errors
    /// Database errors.
    pub fn exists(&self, key: &str) -> crate::Result<bool> {
        match self.engine.db.find_pod(key) {
            Ok(_) => Ok(true),
            Err(crate::Error::NoSuchPod(_) | crate::Error::AmbiguousPod(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn decode(row: crate::db::PodRow) -> crate::Result<PodRecord> {
    let config = serde_json::from_str(&row.config).map_err(crate::Error::json(format!(
        "the record of pod {}",
        row.name
    )))?;
    Ok(PodRecord {
        id: row.id,
        name: row.name,
        created: row.created,
        infra_id: row.infra_id,
        config,
    })
}
