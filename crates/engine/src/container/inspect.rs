//! `ps` and `inspect`: containers listed (with docker's filters) and described in docker's
//! `inspect` shape where it applies.

use serde_json::{Value, json};

use super::{ContainerRecord, Containers, MountSpec, State};
use crate::error::{Error, Result};
use crate::time::rfc3339;

/// What `ps` lists.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// `-a`: stopped ones too.
    pub all: bool,
    /// `--filter KEY=VALUE`: `id`, `name`, `label` (`KEY` or `KEY=VALUE`), `status`,
    /// `exited`, `ancestor`, `pod` (a pod's name, id or id prefix: its members, the infra
    /// included); several values of one key match any, different keys all.
    pub filters: Vec<(String, String)>,
    /// `-n N`: the N most recent; `-l` is `-n 1`.
    pub last: Option<usize>,
}

/// The filters `ps` knows.
const FILTERS: &[&str] = &["id", "name", "label", "status", "exited", "ancestor", "pod"];

/// Whether `record` passes `key=value`; `pods` maps the pods' ids to their names.
fn filter_matches(
    record: &ContainerRecord,
    key: &str,
    value: &str,
    pods: &std::collections::BTreeMap<String, String>,
) -> Result<bool> {
    Ok(match key {
        "id" => record.id.starts_with(value),
        "name" => record.name.contains(value),
        "label" => match value.split_once('=') {
            Some((k, v)) => record.config.labels.get(k).is_some_and(|x| x == v),
            None => record.config.labels.contains_key(value),
        },
        "status" => record.state.as_str() == value,
        "exited" => {
            record.state == State::Exited
                && record.exit_code.map(|c| c.to_string()).as_deref() == Some(value)
        }
        "ancestor" => record.image_name == value || record.image_id.contains(value),
        "pod" => record.config.pod.as_ref().is_some_and(|id| {
            !value.is_empty()
                && (id.starts_with(value) || pods.get(id).is_some_and(|name| name == value))
        }),
        _ => return Err(unknown_filter(key, value)),
    })
}

fn unknown_filter(key: &str, value: &str) -> Error {
    Error::InvalidFlag {
        flag: "--filter",
        value: format!("{key}={value}"),
        why: format!("unknown filter (known: {})", FILTERS.join(", ")),
    }
}

impl Containers<'_> {
    /// `ps`: containers, newest first, reconciled with their monitors.
    ///
    /// # Errors
    /// [`Error::InvalidFlag`] for an unknown filter; database errors.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerRecord>> {
        if let Some((k, v)) = opts
            .filters
            .iter()
            .find(|(k, _)| !FILTERS.contains(&k.as_str()))
        {
            return Err(unknown_filter(k, v));
        }
        let pods = if opts.filters.iter().any(|(k, _)| k == "pod") {
            self.engine.pods().names()?
        } else {
            std::collections::BTreeMap::new()
        };
        let mut out = Vec::new();
        let mut records = self.engine.db.containers()?;
        records.reverse();
        for record in records {
            let record = self.reconcile(record)?;
            if !opts.all && opts.last.is_none() && !record.state.is_live() {
                continue;
            }
            let mut keep = true;
            let mut keys: Vec<&str> = opts.filters.iter().map(|(k, _)| k.as_str()).collect();
            keys.dedup();
            for key in keys {
                let mut any = false;
                for (_, v) in opts.filters.iter().filter(|(k, _)| k == key) {
                    any |= filter_matches(&record, key, v, &pods)?;
                }
                keep &= any;
            }
            if keep {
                out.push(record);
            }
        }
        if let Some(n) = opts.last {
            out.truncate(n);
        }
        Ok(out)
    }

    /// `inspect`: docker's shape (`Id`, `Name`, `State`, `Config`, `HostConfig`, `Mounts`,
    /// …) with what peapod has.
    ///
    /// # Errors
    /// [`Error::NoSuchContainer`]; database errors.
    pub fn inspect(&self, key: &str) -> Result<Value> {
        let r = self.get(key)?;
        let paths = self.engine.paths(&r.id);
        let monitor = crate::monitor::MonitorState::load(&paths.run);
        let config: Value = std::fs::read(paths.dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let process = &config["process"];
        let args: Vec<Value> = process["args"].as_array().cloned().unwrap_or_default();
        let o = &r.config;
        let mounts: Vec<Value> = o
            .mounts
            .iter()
            .map(|m| match m {
                MountSpec::Bind { source, destination, readonly } => json!({
                    "Type": "bind", "Source": source, "Destination": destination, "RW": !readonly, "Mode": "", "Propagation": "rprivate"}),
                MountSpec::Volume { name, destination, readonly } => json!({
                    "Type": "volume", "Name": name, "Source": self.engine.root.join("volumes").join(name.as_deref().unwrap_or("")).join("_data"),
                    "Destination": destination, "Driver": "local", "RW": !readonly, "Mode": "", "Propagation": ""}),
                MountSpec::Tmpfs { destination, options } => json!({
                    "Type": "tmpfs", "Source": "", "Destination": destination, "RW": true, "Mode": options.join(","), "Propagation": ""}),
            })
            .collect();
        let time = |t: Option<i64>| t.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), rfc3339);
        Ok(json!({
            "Id": r.id,
            "Created": rfc3339(r.created),
            "Path": args.first().cloned().unwrap_or(Value::Null),
            "Args": args.get(1..).map(<[Value]>::to_vec).unwrap_or_default(),
            "State": {
                "Status": r.state.as_str(),
                "Running": matches!(r.state, State::Running | State::Paused),
                "Paused": r.state == State::Paused,
                "Restarting": r.state == State::Restarting,
                "OOMKilled": r.oom_killed,
                "Dead": false,
                "Pid": r.pid,
                "ExitCode": r.exit_code.unwrap_or(0),
                "Error": monitor.as_ref().and_then(|m| m.error.clone()).unwrap_or_default(),
                "StartedAt": time(r.started),
                "FinishedAt": time(r.finished),
                "Health": monitor.as_ref().and_then(|m| m.health.clone()),
                "Probes": monitor.as_ref().and_then(|m| m.probes.clone()),
            },
            "Image": r.image_id,
            "ResolvConfPath": paths.dir.join("resolv.conf"),
            "HostnamePath": paths.dir.join("hostname"),
            "HostsPath": paths.dir.join("hosts"),
            "LogPath": paths.log(),
            "Name": format!("/{}", r.name),
            "RestartCount": r.restart_count,
            "Driver": "overlay",
            "Platform": "linux",
            "HostConfig": {
                "AutoRemove": o.autoremove,
                "Binds": o.mounts.iter().filter_map(|m| match m {
                    MountSpec::Bind { source, destination, readonly } => Some(format!("{source}:{destination}:{}", if *readonly { "ro" } else { "rw" })),
                    _ => None,
                }).collect::<Vec<_>>(),
                "NetworkMode": o.network.as_str(),
                "RestartPolicy": {"Name": o.restart_policy().to_string().split(':').next().unwrap_or("no"), "MaximumRetryCount": match o.restart_policy() { super::RestartPolicy::OnFailure { max } => max, _ => 0 }},
                "Privileged": o.config.privileged,
                "ReadonlyRootfs": o.config.read_only,
                "CapAdd": o.config.cap_add,
                "CapDrop": o.config.cap_drop,
                "Memory": o.resources.memory.unwrap_or(0),
                "MemorySwap": o.resources.memory_swap.unwrap_or(0),
                "NanoCpus": o.resources.nano_cpus.unwrap_or(0),
                "CpuShares": o.resources.cpu_shares.unwrap_or(0),
                "PidsLimit": o.resources.pids_limit.unwrap_or(0),
                "Ulimits": o.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
                "Init": o.init,
                "Runtime": o.runtime.clone().unwrap_or_else(|| "peapod".into()),
                "CgroupParent": o.cgroup_parent.clone().unwrap_or_default(),
                "SecurityOpt": if o.no_new_privileges { vec!["no-new-privileges"] } else { Vec::new() },
                "LogConfig": {"Type": "k8s-file", "Config": {"max-size": o.log_max_size.unwrap_or(10 << 20).to_string(), "max-file": o.log_max_files.unwrap_or(3).to_string()}},
            },
            "Mounts": mounts,
            "NetworkSettings": self.network_settings(&r)?,
            "Config": {
                "Hostname": config["hostname"],
                "User": o.config.user.clone().unwrap_or_default(),
                "Tty": o.config.tty,
                "OpenStdin": o.stdin,
                "Env": process["env"],
                "Cmd": o.config.cmd,
                "Image": r.image_name,
                "WorkingDir": process["cwd"],
                "Entrypoint": o.config.entrypoint,
                "Labels": o.labels,
                "StopSignal": o.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
                "StopTimeout": o.stop_timeout.unwrap_or(10),
                "Healthcheck": o.health.as_ref().map(|h| json!({"Test": h.test, "Interval": h.interval, "Timeout": h.timeout, "Retries": h.retries, "StartPeriod": h.start_period})),
            },
        }))
    }

    /// `rename OLD NEW`.
    ///
    /// # Errors
    /// [`Error::NameInUse`], [`Error::InvalidName`], [`Error::NoSuchContainer`].
    pub fn rename(&self, key: &str, name: &str) -> Result<()> {
        let record = self.get(key)?;
        let name = super::names::validate(name)?;
        self.engine.db.rename(&record.id, name)?;
        crate::events::record(self.engine, "rename", &record);
        Ok(())
    }
}

impl Containers<'_> {
    /// `logs`: the container's log as `opts` selects, to `sink`; with `follow`, new
    /// entries as they come until the container stops.
    ///
    /// # Errors
    /// [`Error::NoSuchContainer`]; I/O errors reading the log.
    pub fn logs(
        &self,
        key: &str,
        opts: &crate::logs::ReadOptions,
        follow: bool,
        sink: &mut impl FnMut(crate::logs::Stream, &[u8]),
    ) -> Result<()> {
        let record = self.get(key)?;
        let path = self.engine.paths(&record.id).log();
        let result = if follow {
            crate::logs::follow(&path, opts, || self.is_live(&record.id), sink)
        } else {
            crate::logs::read(&path, opts, sink)
        };
        result.map_err(|e| Error::Monitor {
            name: record.name.clone(),
            why: format!("cannot read its log {}: {e}", path.display()),
        })
    }

    /// Whether container `id` runs (running, paused or restarting) as its monitor says; a
    /// container gone or unreadable does not (for followers of its log).
    pub(crate) fn is_live(&self, id: &str) -> bool {
        self.engine
            .db
            .container(id)
            .ok()
            .flatten()
            .and_then(|r| self.reconcile(r).ok())
            .is_some_and(|r| r.state.is_live())
    }
}
