//! A pod spec (from a Pod, or a Deployment's template), already stripped to the supported
//! fields by [`crate::strict`], into a [`KubePod`] plan: Kubernetes' rules mapped to
//! `create`'s options (command → entrypoint, args → cmd; `$(VAR)` expanded as the kubelet
//! does, the text as written kept in [`CreateOptions::kube`] for `kube generate`; limits →
//! `-m`/`--cpus`, requests.cpu → `--cpu-shares` as podman does).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use peapod_engine::container::{CreateOptions, MountSpec, Probes, RestartPolicy};
use peapod_engine::kube::{HostPathType, KubePod, KubeRestartPolicy, KubeSource, KubeVolume};

use crate::KubeError;
use crate::quantity;

/// Which document is being read, for error messages.
pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a str,
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    /// Where the pod spec sits (`""` in a Pod, `spec.template.` in a Deployment).
    pub(crate) prefix: &'static str,
}

impl Ctx<'_> {
    pub(crate) fn invalid(&self, field: &str, why: impl Into<String>) -> KubeError {
        KubeError::Invalid {
            file: self.file.to_owned(),
            kind: self.kind.to_owned(),
            name: self.name.clone(),
            field: format!("{}{field}", self.prefix),
            why: why.into(),
        }
    }
}

/// The plan of pod `name` from `spec`.
pub(crate) fn pod(
    ctx: &Ctx<'_>,
    name: &str,
    labels: BTreeMap<String, String>,
    spec: &PodSpec,
) -> Result<KubePod, KubeError> {
    let restart_policy = match spec.restart_policy.as_deref() {
        None | Some("Always") => KubeRestartPolicy::Always,
        Some("OnFailure") => KubeRestartPolicy::OnFailure,
        Some("Never") => KubeRestartPolicy::Never,
        Some(other) => {
            return Err(ctx.invalid(
                "spec.restartPolicy",
                format!("{other:?} is not Always, OnFailure or Never"),
            ));
        }
    };
    let volumes = volumes(ctx, name, spec)?;
    if spec.containers.is_empty() {
        return Err(ctx.invalid("spec.containers", "a pod needs at least one container"));
    }
    let mut plan = KubePod {
        name: name.to_owned(),
        hostname: spec.hostname.clone(),
        labels,
        restart_policy,
        volumes,
        ..KubePod::default()
    };
    let grace = spec
        .termination_grace_period_seconds
        .map(|g| {
            u32::try_from(g).map_err(|_| {
                ctx.invalid(
                    "spec.terminationGracePeriodSeconds",
                    format!("{g} is not a number of seconds"),
                )
            })
        })
        .transpose()?;
    let mut seen = std::collections::HashSet::new();
    let lists = [
        (
            "spec.initContainers",
            spec.init_containers.as_deref().unwrap_or_default(),
        ),
        ("spec.containers", spec.containers.as_slice()),
    ];
    for (list, containers) in lists {
        for (i, c) in containers.iter().enumerate() {
            let field = format!("{list}[{i}]");
            if !seen.insert(c.name.clone()) {
                return Err(ctx.invalid(
                    &format!("{field}.name"),
                    format!("{:?} is used twice", c.name),
                ));
            }
            let init = list == "spec.initContainers";
            let mut opts = container(ctx, &plan, &field, c, init)?;
            opts.stop_timeout = grace;
            pod_user(ctx, &field, c, spec, &mut opts)?;
            if init {
                plan.init_containers.push(opts);
            } else {
                plan.ports = published(ctx, &field, c, plan.ports)?;
                plan.containers.push(opts);
            }
        }
    }
    Ok(plan)
}

/// The pod's `securityContext.runAsUser`/`runAsGroup`, for a container that sets neither
/// (a container's own win, as Kubernetes').
fn pod_user(
    ctx: &Ctx<'_>,
    field: &str,
    c: &Container,
    spec: &PodSpec,
    opts: &mut CreateOptions,
) -> Result<(), KubeError> {
    let Some(pod) = &spec.security_context else {
        return Ok(());
    };
    let own = c.security_context.as_ref();
    let user = own.and_then(|s| s.run_as_user).or(pod.run_as_user);
    let group = own.and_then(|s| s.run_as_group).or(pod.run_as_group);
    opts.config.user = user_of(ctx, field, user, group)?;
    Ok(())
}

/// `uid[:gid]` of a `runAsUser` and `runAsGroup`.
fn user_of(
    ctx: &Ctx<'_>,
    field: &str,
    user: Option<i64>,
    group: Option<i64>,
) -> Result<Option<String>, KubeError> {
    let id = |n: Option<i64>, what: &str| -> Result<Option<u32>, KubeError> {
        n.map(|n| {
            u32::try_from(n).map_err(|_| {
                ctx.invalid(
                    &format!("{field}.securityContext.{what}"),
                    format!("{n} is not a uid/gid"),
                )
            })
        })
        .transpose()
    };
    Ok(match (id(user, "runAsUser")?, id(group, "runAsGroup")?) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        (None, Some(_)) => {
            return Err(ctx.invalid(
                &format!("{field}.securityContext.runAsGroup"),
                "needs runAsUser too (peapod does not take the image's user with another group)",
            ));
        }
        (None, None) => None,
    })
}

fn volumes(ctx: &Ctx<'_>, pod: &str, spec: &PodSpec) -> Result<Vec<KubeVolume>, KubeError> {
    let mut out: Vec<KubeVolume> = Vec::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let field = format!("spec.volumes[{i}]");
        if v.name.is_empty() || out.iter().any(|o| o.name() == v.name) {
            return Err(ctx.invalid(&format!("{field}.name"), "missing, or used twice"));
        }
        let volume = match (&v.host_path, &v.empty_dir) {
            (Some(h), None) => {
                if !h.path.starts_with('/') {
                    return Err(
                        ctx.invalid(&format!("{field}.hostPath.path"), "not an absolute path")
                    );
                }
                let text = h.type_.as_deref().unwrap_or_default();
                let kind = HostPathType::parse(text).ok_or_else(|| {
                    ctx.invalid(
                        &format!("{field}.hostPath.type"),
                        format!("unknown type {text:?}"),
                    )
                })?;
                KubeVolume::HostPath {
                    name: v.name.clone(),
                    path: h.path.clone(),
                    kind,
                }
            }
            (None, Some(_)) => KubeVolume::EmptyDir {
                name: v.name.clone(),
                volume: format!("{pod}-{}", v.name),
            },
            _ => {
                return Err(ctx.invalid(&field, "needs exactly one of hostPath and emptyDir"));
            }
        };
        out.push(volume);
    }
    Ok(out)
}

/// The container's `hostPort`s added to the pod's `-p` list.
fn published(
    ctx: &Ctx<'_>,
    field: &str,
    c: &Container,
    mut ports: Vec<String>,
) -> Result<Vec<String>, KubeError> {
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let field = format!("{field}.ports[{i}]");
        let container_port = port(ctx, &format!("{field}.containerPort"), p.container_port)?;
        let proto = match p.protocol.as_deref() {
            None | Some("TCP") => "tcp",
            Some("UDP") => "udp",
            Some(other) => {
                return Err(ctx.invalid(
                    &format!("{field}.protocol"),
                    format!("{other:?} is not TCP or UDP"),
                ));
            }
        };
        let Some(host_port) = p.host_port else {
            if p.host_ip.is_some() {
                return Err(ctx.invalid(&format!("{field}.hostIP"), "needs a hostPort"));
            }
            continue;
        };
        let host_port = port(ctx, &format!("{field}.hostPort"), host_port)?;
        let spec = match p.host_ip.as_deref() {
            Some(ip) if ip.parse::<std::net::IpAddr>().is_err() => {
                return Err(ctx.invalid(
                    &format!("{field}.hostIP"),
                    format!("{ip:?} is not an IP address"),
                ));
            }
            Some(ip) => format!("{ip}:{host_port}:{container_port}/{proto}"),
            None => format!("{host_port}:{container_port}/{proto}"),
        };
        if ports.contains(&spec) {
            return Err(ctx.invalid(
                &format!("{field}.hostPort"),
                format!("{spec} is published twice"),
            ));
        }
        ports.push(spec);
    }
    Ok(ports)
}

pub(crate) fn port(ctx: &Ctx<'_>, field: &str, n: i32) -> Result<u16, KubeError> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ctx.invalid(field, format!("{n} is not a port (1-65535)")))
}

/// Kubernetes' `$(VAR)` expansion (`$$` is a `$`; an unknown variable stays as written).
pub(crate) fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(name) = tail
            .strip_prefix("$(")
            .and_then(|t| t.split_once(')'))
            .map(|(n, _)| n)
            && let Some((_, value)) = env.iter().rev().find(|(k, _)| k == name)
        {
            out.push_str(value);
            rest = &tail[name.len() + 3..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// What the kubelet makes of a container's `env`, `command` and `args` as written: each
/// env value expanded from the entries before it, then command and args from all of them
/// (Kubernetes' "Define Dependent Environment Variables"); as `create`'s env
/// (`NAME=value`), entrypoint and cmd.
pub(crate) fn expanded(source: &KubeSource) -> (Vec<String>, Option<Vec<String>>, Vec<String>) {
    let mut env: Vec<(String, String)> = Vec::new();
    for entry in &source.env {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        let value = expand(value, &env);
        env.push((name.to_owned(), value));
    }
    let expand_all = |v: &Option<Vec<String>>| {
        v.as_ref()
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().map(|a| expand(a, &env)).collect::<Vec<_>>())
    };
    let entrypoint = expand_all(&source.command);
    let cmd = expand_all(&source.args).unwrap_or_default();
    let env = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    (env, entrypoint, cmd)
}

fn container(
    ctx: &Ctx<'_>,
    plan: &KubePod,
    field: &str,
    c: &Container,
    init: bool,
) -> Result<CreateOptions, KubeError> {
    let name = format!("{}-{}", plan.name, c.name);
    peapod_engine::container::validate_name(&name)
        .map_err(|e| ctx.invalid(&format!("{field}.name"), e.to_string()))?;
    let image = c
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ctx.invalid(&format!("{field}.image"), "required"))?;
    let mut opts = CreateOptions {
        image,
        name: Some(name),
        ..CreateOptions::default()
    };
    let mut written = Vec::new();
    for (i, e) in c.env.iter().flatten().enumerate() {
        if e.name.is_empty() || e.name.contains('=') {
            return Err(ctx.invalid(
                &format!("{field}.env[{i}].name"),
                format!("{:?} is not a variable name", e.name),
            ));
        }
        written.push(format!(
            "{}={}",
            e.name,
            e.value.as_deref().unwrap_or_default()
        ));
    }
    let nonempty = |v: &Option<Vec<String>>| v.clone().filter(|v| !v.is_empty());
    let mut source = KubeSource {
        command: nonempty(&c.command),
        args: nonempty(&c.args),
        env: written,
        ..KubeSource::default()
    };
    (opts.config.env, opts.config.entrypoint, opts.config.cmd) = expanded(&source);
    opts.config.workdir = c.working_dir.clone().filter(|w| !w.is_empty());
    if let Some(w) = &opts.config.workdir
        && !w.starts_with('/')
    {
        return Err(ctx.invalid(&format!("{field}.workingDir"), "not an absolute path"));
    }
    opts.config.tty = c.tty.unwrap_or(false);
    opts.stdin = c.stdin.unwrap_or(false);
    opts.restart = Some(match (init, plan.restart_policy) {
        (true, _) | (false, KubeRestartPolicy::Never) => RestartPolicy::No,
        (false, KubeRestartPolicy::Always) => RestartPolicy::Always,
        (false, KubeRestartPolicy::OnFailure) => RestartPolicy::OnFailure { max: 0 },
    });
    resources(ctx, field, c, &mut opts)?;
    security(ctx, field, c, &mut opts)?;
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let mfield = format!("{field}.volumeMounts[{i}]");
        if !m.mount_path.starts_with('/') {
            return Err(ctx.invalid(&format!("{mfield}.mountPath"), "not an absolute path"));
        }
        let readonly = m.read_only.unwrap_or(false);
        let destination = m.mount_path.clone();
        let mount = match plan.volumes.iter().find(|v| v.name() == m.name) {
            Some(KubeVolume::HostPath { path, .. }) => MountSpec::Bind {
                source: path.clone(),
                destination,
                readonly,
            },
            Some(KubeVolume::EmptyDir { volume, .. }) => MountSpec::Volume {
                name: Some(volume.clone()),
                destination,
                readonly,
            },
            None => {
                return Err(ctx.invalid(
                    &format!("{mfield}.name"),
                    format!("no volume {:?} in spec.volumes", m.name),
                ));
            }
        };
        if opts
            .mounts
            .iter()
            .any(|o| o.destination() == mount.destination())
        {
            return Err(ctx.invalid(&format!("{mfield}.mountPath"), "mounted twice"));
        }
        opts.mounts.push(mount);
        source
            .volume_mounts
            .insert(m.mount_path.clone(), m.name.clone());
    }
    opts.kube = Some(source);
    if !init {
        opts.probes = Probes {
            startup: crate::probe::from_manifest(
                ctx,
                &format!("{field}.startupProbe"),
                c,
                c.startup_probe.as_ref(),
                true,
            )?,
            liveness: crate::probe::from_manifest(
                ctx,
                &format!("{field}.livenessProbe"),
                c,
                c.liveness_probe.as_ref(),
                true,
            )?,
            readiness: crate::probe::from_manifest(
                ctx,
                &format!("{field}.readinessProbe"),
                c,
                c.readiness_probe.as_ref(),
                false,
            )?,
        };
    }
    Ok(opts)
}

fn resources(
    ctx: &Ctx<'_>,
    field: &str,
    c: &Container,
    opts: &mut CreateOptions,
) -> Result<(), KubeError> {
    let Some(r) = &c.resources else { return Ok(()) };
    type Quantities = Option<BTreeMap<String, Quantity>>;
    let read =
        |map: &Quantities, section: &str, key: &str, unit: &str, parse: fn(&str) -> Option<i64>| {
            let Some(q) = map.as_ref().and_then(|m| m.get(key)) else {
                return Ok(None);
            };
            parse(&q.0).map(Some).ok_or_else(|| {
                ctx.invalid(
                    &format!("{field}.resources.{section}.{key}"),
                    format!("{:?} is not a positive quantity of {unit}", q.0),
                )
            })
        };
    opts.resources.memory = read(&r.limits, "limits", "memory", "bytes", quantity::bytes)?;
    opts.resources.nano_cpus = read(&r.limits, "limits", "cpu", "CPUs", quantity::nano_cpus)?;
    if let Some(milli) = read(&r.requests, "requests", "cpu", "CPUs", quantity::milli_cpus)? {
        let milli = milli.unsigned_abs();
        if let Some(limit) = opts.resources.nano_cpus
            && u128::from(milli) * 1_000_000 > limit.unsigned_abs().into()
        {
            return Err(ctx.invalid(
                &format!("{field}.resources.requests.cpu"),
                "more than limits.cpu",
            ));
        }
        opts.resources.cpu_shares = Some(quantity::shares(milli));
    }
    Ok(())
}

fn security(
    ctx: &Ctx<'_>,
    field: &str,
    c: &Container,
    opts: &mut CreateOptions,
) -> Result<(), KubeError> {
    let Some(s) = &c.security_context else {
        return Ok(());
    };
    opts.config.user = user_of(ctx, field, s.run_as_user, s.run_as_group)?;
    if let Some(caps) = &s.capabilities {
        opts.config.cap_add = caps.add.clone().unwrap_or_default();
        opts.config.cap_drop = caps.drop.clone().unwrap_or_default();
    }
    opts.config.read_only = s.read_only_root_filesystem.unwrap_or(false);
    opts.config.privileged = s.privileged.unwrap_or(false);
    if opts.config.privileged && s.allow_privilege_escalation == Some(false) {
        return Err(ctx.invalid(
            &format!("{field}.securityContext.allowPrivilegeEscalation"),
            "cannot be false for a privileged container",
        ));
    }
    opts.no_new_privileges = s.allow_privilege_escalation == Some(false);
    Ok(())
}
