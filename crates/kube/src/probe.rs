//! Probes, both ways: a container's `startupProbe`/`livenessProbe`/`readinessProbe` to
//! the engine's [`Probe`] (Kubernetes' defaults filled in, its validation rules checked,
//! named ports resolved against the container's ports), and back.

use k8s_openapi::api::core::v1::{
    Container, ExecAction, HTTPGetAction, HTTPHeader, Probe as KProbe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use peapod_engine::container::{Probe, ProbeAction};

use crate::KubeError;
use crate::translate::Ctx;

/// The engine's probe of `p` (at `field`, in container `c`); `single_success` for liveness
/// and startup probes, whose `successThreshold` must be 1.
pub(crate) fn from_manifest(
    ctx: &Ctx<'_>,
    field: &str,
    c: &Container,
    p: Option<&KProbe>,
    single_success: bool,
) -> Result<Option<Probe>, KubeError> {
    let Some(p) = p else { return Ok(None) };
    let named_port = |port: &IntOrString, pfield: &str| -> Result<u16, KubeError> {
        match port {
            IntOrString::Int(n) => crate::translate::port(ctx, pfield, *n),
            IntOrString::String(name) => c
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.container_port)
                .map_or_else(
                    || {
                        Err(ctx.invalid(
                            pfield,
                            format!("no port named {name:?} in the container's ports"),
                        ))
                    },
                    |n| crate::translate::port(ctx, pfield, n),
                ),
        }
    };
    let host = |h: &Option<String>, hfield: &str| -> Result<Option<String>, KubeError> {
        match h.as_deref() {
            None | Some("") => Ok(None),
            Some(h) if h.parse::<std::net::IpAddr>().is_ok() => Ok(Some(h.to_owned())),
            Some(h) => Err(ctx.invalid(hfield, format!("{h:?} is not an IP address"))),
        }
    };
    let action = match (&p.exec, &p.http_get, &p.tcp_socket) {
        (Some(e), None, None) => ProbeAction::Exec {
            command: e
                .command
                .clone()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ctx.invalid(&format!("{field}.exec.command"), "required"))?,
        },
        (None, Some(h), None) => {
            if let Some(s) = h.scheme.as_deref().filter(|s| *s != "HTTP") {
                return Err(ctx.invalid(
                    &format!("{field}.httpGet.scheme"),
                    format!("{s:?}: only HTTP is supported"),
                ));
            }
            ProbeAction::HttpGet {
                host: host(&h.host, &format!("{field}.httpGet.host"))?,
                port: named_port(&h.port, &format!("{field}.httpGet.port"))?,
                path: h
                    .path
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "/".into()),
                headers: h
                    .http_headers
                    .iter()
                    .flatten()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
            }
        }
        (None, None, Some(t)) => ProbeAction::TcpSocket {
            host: host(&t.host, &format!("{field}.tcpSocket.host"))?,
            port: named_port(&t.port, &format!("{field}.tcpSocket.port"))?,
        },
        _ => return Err(ctx.invalid(field, "needs exactly one of exec, httpGet and tcpSocket")),
    };
    let mut probe = Probe::new(action);
    let set = |n: Option<i32>, name: &str, min: u32, slot: &mut u32| -> Result<(), KubeError> {
        if let Some(n) = n {
            *slot = u32::try_from(n).ok().filter(|n| *n >= min).ok_or_else(|| {
                ctx.invalid(
                    &format!("{field}.{name}"),
                    format!("{n} is less than {min}"),
                )
            })?;
        }
        Ok(())
    };
    set(
        p.initial_delay_seconds,
        "initialDelaySeconds",
        0,
        &mut probe.initial_delay_seconds,
    )?;
    set(
        p.period_seconds,
        "periodSeconds",
        1,
        &mut probe.period_seconds,
    )?;
    set(
        p.timeout_seconds,
        "timeoutSeconds",
        1,
        &mut probe.timeout_seconds,
    )?;
    set(
        p.success_threshold,
        "successThreshold",
        1,
        &mut probe.success_threshold,
    )?;
    set(
        p.failure_threshold,
        "failureThreshold",
        1,
        &mut probe.failure_threshold,
    )?;
    if single_success && probe.success_threshold != 1 {
        return Err(ctx.invalid(
            &format!("{field}.successThreshold"),
            "must be 1 for liveness and startup probes",
        ));
    }
    Ok(Some(probe))
}

/// The manifest's probe of `p` (every threshold written out).
pub(crate) fn to_manifest(p: &Probe) -> KProbe {
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let mut out = KProbe {
        initial_delay_seconds: (p.initial_delay_seconds != 0).then(|| int(p.initial_delay_seconds)),
        period_seconds: Some(int(p.period_seconds)),
        timeout_seconds: Some(int(p.timeout_seconds)),
        success_threshold: Some(int(p.success_threshold)),
        failure_threshold: Some(int(p.failure_threshold)),
        ..KProbe::default()
    };
    match &p.action {
        ProbeAction::Exec { command } => {
            out.exec = Some(ExecAction {
                command: Some(command.clone()),
            })
        }
        ProbeAction::HttpGet {
            host,
            port,
            path,
            headers,
        } => {
            out.http_get = Some(HTTPGetAction {
                host: host.clone(),
                port: IntOrString::Int(i32::from(*port)),
                path: Some(path.clone()),
                http_headers: (!headers.is_empty()).then(|| {
                    headers
                        .iter()
                        .map(|(name, value)| HTTPHeader {
                            name: name.clone(),
                            value: value.clone(),
                        })
                        .collect()
                }),
                ..HTTPGetAction::default()
            });
        }
        ProbeAction::TcpSocket { host, port } => {
            out.tcp_socket = Some(TCPSocketAction {
                host: host.clone(),
                port: IntOrString::Int(i32::from(*port)),
            });
        }
    }
    out
}
