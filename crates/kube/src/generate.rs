//! `kube generate`: a pod's plan as a Pod manifest (`v1`), which [`crate::parse`] reads
//! back to the same plan, and `kubectl apply --dry-run=client` accepts. What a manifest
//! cannot say (a pids limit, ulimits, a docker healthcheck…) is named in
//! [`Generated::warnings`], never dropped in silence.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HostPathVolumeSource,
    Pod, PodSpec, ResourceRequirements, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use peapod_engine::container::{CreateOptions, MountSpec, RestartPolicy};
use peapod_engine::kube::{HostPathType, KubePod, KubeRestartPolicy, KubeVolume};

use crate::{KubeError, quantity};

/// A written manifest.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// The Pod manifest (YAML, one document).
    pub yaml: String,
    /// What the plan has that a manifest cannot say, one line each.
    pub warnings: Vec<String>,
}

/// Writes `pod` as a Pod manifest.
///
/// # Errors
/// [`KubeError::Unrepresentable`] for a published port that a manifest cannot express (a
/// range, a port that is not a number); [`KubeError::Write`] if serialising fails.
pub fn generate(pod: &KubePod) -> Result<Generated, KubeError> {
    let mut warnings = Vec::new();
    let mut volumes = pod.volumes.clone();
    let mut containers = Vec::new();
    for (i, opts) in pod
        .init_containers
        .iter()
        .chain(&pod.containers)
        .enumerate()
    {
        let init = i < pod.init_containers.len();
        containers.push((
            init,
            container(pod, opts, init, &mut volumes, &mut warnings)?,
        ));
    }
    let mut ports = pod
        .ports
        .iter()
        .map(|p| port(&pod.name, p))
        .collect::<Result<Vec<_>, _>>()?;
    let (init_containers, mut containers): (Vec<_>, Vec<_>) =
        containers.into_iter().partition(|(init, _)| *init);
    if let Some((_, first)) = containers.first_mut()
        && !ports.is_empty()
    {
        // Published at the pod level: a manifest lists them under the first container.
        first.ports.get_or_insert_with(Vec::new).append(&mut ports);
    }
    let all = || pod.init_containers.iter().chain(&pod.containers);
    let grace = all().find_map(|c| c.stop_timeout);
    if all().any(|c| c.stop_timeout != grace) {
        warnings.push(format!(
            "pod {}: containers' stop timeouts differ: a manifest has one (terminationGracePeriodSeconds): {} written",
            pod.name,
            grace.map_or_else(|| "none".to_owned(), |g| format!("{g}s"))
        ));
    }
    let manifest = Pod {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            labels: (!pod.labels.is_empty()).then(|| pod.labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            hostname: pod.hostname.clone(),
            restart_policy: Some(pod.restart_policy.as_str().to_owned()),
            termination_grace_period_seconds: grace.map(i64::from),
            volumes: (!volumes.is_empty()).then(|| volumes.iter().map(volume).collect()),
            init_containers: (!init_containers.is_empty())
                .then(|| init_containers.into_iter().map(|(_, c)| c).collect()),
            containers: containers.into_iter().map(|(_, c)| c).collect(),
            ..PodSpec::default()
        }),
        status: None,
    };
    let yaml = serde_yaml_ng::to_string(&manifest).map_err(|cause| KubeError::Write {
        pod: pod.name.clone(),
        cause,
    })?;
    Ok(Generated { yaml, warnings })
}

fn volume(v: &KubeVolume) -> Volume {
    match v {
        KubeVolume::HostPath { name, path, kind } => Volume {
            name: name.clone(),
            host_path: Some(HostPathVolumeSource {
                path: path.clone(),
                type_: (*kind != HostPathType::Unset).then(|| kind.as_str().to_owned()),
            }),
            ..Volume::default()
        },
        KubeVolume::EmptyDir { name, .. } => Volume {
            name: name.clone(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    }
}

/// A `-p` spec (`[IP:]HOST:CONTAINER[/PROTO]`) as a container port.
fn port(pod: &str, spec: &str) -> Result<ContainerPort, KubeError> {
    let bad = |why: &str| KubeError::Unrepresentable {
        pod: pod.to_owned(),
        what: format!("published port {spec:?}"),
        why: why.to_owned(),
    };
    let (addr, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    let protocol = match proto {
        "tcp" => "TCP",
        "udp" => "UDP",
        _ => return Err(bad("only tcp and udp ports")),
    };
    let mut parts: Vec<&str> = addr.rsplitn(3, ':').collect();
    parts.reverse();
    let number = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .map(i32::from)
            .ok_or_else(|| bad("a port must be one number (no ranges)"))
    };
    let (host_ip, host, container) = match parts.as_slice() {
        [ip, host, container] => (
            Some((*ip).trim_matches(['[', ']']).to_owned()),
            *host,
            *container,
        ),
        [host, container] => (None, *host, *container),
        _ => {
            return Err(bad(
                "a manifest needs both a host port and a container port",
            ));
        }
    };
    Ok(ContainerPort {
        container_port: number(container)?,
        host_port: Some(number(host)?),
        host_ip: host_ip.filter(|ip| !ip.is_empty()),
        protocol: Some(protocol.to_owned()),
        ..ContainerPort::default()
    })
}

fn container(
    pod: &KubePod,
    opts: &CreateOptions,
    init: bool,
    volumes: &mut Vec<KubeVolume>,
    warnings: &mut Vec<String>,
) -> Result<Container, KubeError> {
    let full = opts.name.clone().unwrap_or_default();
    let name = full
        .strip_prefix(&format!("{}-", pod.name))
        .filter(|n| !n.is_empty())
        .unwrap_or(&full)
        .to_owned();
    let mut warn = |what: &str| {
        warnings.push(format!(
            "container {full}: {what} cannot be written in a manifest: left out"
        ))
    };
    let expected_restart = match (init, pod.restart_policy) {
        (true, _) | (false, KubeRestartPolicy::Never) => RestartPolicy::No,
        (false, KubeRestartPolicy::Always) => RestartPolicy::Always,
        (false, KubeRestartPolicy::OnFailure) => RestartPolicy::OnFailure { max: 0 },
    };
    if opts.restart_policy() != expected_restart {
        warn(&format!(
            "its own restart policy {} (the pod's is {})",
            opts.restart_policy(),
            pod.restart_policy.as_str()
        ));
    }
    let left_out = [
        (opts.resources.pids_limit.is_some(), "a pids limit"),
        (opts.resources.memory_swap.is_some(), "a memory+swap limit"),
        (!opts.ulimits.is_empty(), "ulimits"),
        (opts.health.is_some(), "a healthcheck (not a probe)"),
        (!opts.labels.is_empty(), "container labels"),
        (opts.init, "--init"),
        (opts.stop_signal.is_some(), "a stop signal"),
        (
            !opts.dns.is_empty() || !opts.dns_search.is_empty(),
            "DNS settings",
        ),
        (!opts.add_hosts.is_empty(), "extra hosts"),
    ];
    for (present, what) in left_out {
        if present {
            warn(what);
        }
    }
    let mut security = SecurityContext::default();
    if let Some(user) = &opts.config.user {
        let (u, g) = user
            .split_once(':')
            .map_or((user.as_str(), None), |(u, g)| (u, Some(g)));
        match (u.parse::<i64>(), g.map(str::parse::<i64>)) {
            (Ok(u), None) => security.run_as_user = Some(u),
            (Ok(u), Some(Ok(g))) => {
                security.run_as_user = Some(u);
                security.run_as_group = Some(g);
            }
            _ => warn(&format!("user {user:?} (a manifest takes numeric ids)")),
        }
    }
    if !opts.config.cap_add.is_empty() || !opts.config.cap_drop.is_empty() {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        security.capabilities = Some(Capabilities {
            add: list(&opts.config.cap_add),
            drop: list(&opts.config.cap_drop),
        });
    }
    security.read_only_root_filesystem = opts.config.read_only.then_some(true);
    security.privileged = opts.config.privileged.then_some(true);
    security.allow_privilege_escalation = opts.no_new_privileges.then_some(false);
    let mut mounts = Vec::new();
    for m in &opts.mounts {
        let (vol, destination, readonly) = match m {
            MountSpec::Bind {
                source,
                destination,
                readonly,
            } => {
                // The volume the manifest mounted there, else any of this path.
                let named = opts
                    .kube
                    .as_ref()
                    .and_then(|k| k.volume_mounts.get(destination));
                let of_path = |v: &&KubeVolume, named: Option<&String>| {
                    matches!(v, KubeVolume::HostPath { path, .. } if path == source)
                        && named.is_none_or(|n| n == v.name())
                };
                let known = volumes
                    .iter()
                    .find(|v| of_path(v, named))
                    .or_else(|| volumes.iter().find(|v| of_path(v, None)));
                let name = match known {
                    Some(v) => v.name().to_owned(),
                    None => {
                        let name = format!("{name}-bind-{}", volumes.len());
                        volumes.push(KubeVolume::HostPath {
                            name: name.clone(),
                            path: source.clone(),
                            kind: HostPathType::Unset,
                        });
                        name
                    }
                };
                (name, destination, *readonly)
            }
            MountSpec::Volume {
                name: Some(vname),
                destination,
                readonly,
            } => {
                let known = volumes
                    .iter()
                    .find(|v| matches!(v, KubeVolume::EmptyDir { volume, .. } if volume == vname));
                let Some(v) = known else {
                    warn(&format!(
                        "volume {vname} (not one of the pod's emptyDir volumes)"
                    ));
                    continue;
                };
                (v.name().to_owned(), destination, *readonly)
            }
            MountSpec::Volume {
                name: None,
                destination,
                ..
            }
            | MountSpec::Tmpfs { destination, .. } => {
                warn(&format!("the mount on {destination}"));
                continue;
            }
        };
        mounts.push(VolumeMount {
            name: vol,
            mount_path: destination.clone(),
            read_only: readonly.then_some(true),
            ..VolumeMount::default()
        });
    }
    let mut limits = BTreeMap::new();
    if let Some(m) = opts.resources.memory {
        limits.insert("memory".to_owned(), Quantity(quantity::format_bytes(m)));
    }
    if let Some(n) = opts.resources.nano_cpus {
        limits.insert("cpu".to_owned(), Quantity(quantity::format_nano_cpus(n)));
    }
    let requests = opts.resources.cpu_shares.map(|s| {
        BTreeMap::from([(
            "cpu".to_owned(),
            Quantity(format!("{}m", quantity::milli_for_shares(s))),
        )])
    });
    let resources = (!limits.is_empty() || requests.is_some()).then(|| ResourceRequirements {
        limits: (!limits.is_empty()).then_some(limits),
        requests,
        ..ResourceRequirements::default()
    });
    let (command, args, env) = process(opts);
    let env: Vec<EnvVar> = env
        .iter()
        .map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            EnvVar {
                name: k.to_owned(),
                value: Some(v.to_owned()),
                ..EnvVar::default()
            }
        })
        .collect();
    Ok(Container {
        name,
        image: Some(opts.image.clone()),
        command,
        args,
        working_dir: opts.config.workdir.clone(),
        env: (!env.is_empty()).then_some(env),
        tty: opts.config.tty.then_some(true),
        stdin: opts.stdin.then_some(true),
        resources,
        security_context: (security != SecurityContext::default()).then_some(security),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        startup_probe: opts.probes.startup.as_ref().map(crate::probe::to_manifest),
        liveness_probe: opts.probes.liveness.as_ref().map(crate::probe::to_manifest),
        readiness_probe: opts
            .probes
            .readiness
            .as_ref()
            .map(crate::probe::to_manifest),
        ..Container::default()
    })
}

/// A container's `command`, `args` and `env` (`NAME=value`) in a manifest's terms: the
/// manifest's own text (`$(VAR)` unexpanded) that `kube play` kept, when it still expands
/// to what the container runs; else the container's text, escaped so that Kubernetes'
/// expansion gives it back.
fn process(opts: &CreateOptions) -> (Option<Vec<String>>, Option<Vec<String>>, Vec<String>) {
    let source = opts.kube.as_ref().filter(|s| {
        let (env, entrypoint, cmd) = crate::translate::expanded(s);
        env == opts.config.env && entrypoint == opts.config.entrypoint && cmd == opts.config.cmd
    });
    if let Some(s) = source {
        return (s.command.clone(), s.args.clone(), s.env.clone());
    }
    let escaped = |v: &Vec<String>| v.iter().map(|a| escape(a)).collect::<Vec<_>>();
    let command = opts
        .config
        .entrypoint
        .as_ref()
        .filter(|e| !e.is_empty())
        .map(escaped);
    let args = (!opts.config.cmd.is_empty()).then(|| escaped(&opts.config.cmd));
    let env = opts
        .config
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => format!("{k}={}", escape(v)),
            None => format!("{e}="),
        })
        .collect();
    (command, args, env)
}

/// Escapes `$(` as `$$(` so that Kubernetes' expansion gives the text back.
fn escape(text: &str) -> String {
    text.replace("$$", "$$$$").replace("$(", "$$(")
}
