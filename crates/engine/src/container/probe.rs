//! Kubernetes' container probes (`core/v1` `Probe`: startup, liveness, readiness), as
//! options of a container. The monitor runs them itself (`monitor/health.rs`): an `exec` in
//! the container, an HTTP/1.1 GET or a TCP connect made inside the container's network
//! namespace, so no `curl` is needed in the image (podman#15855).
//!
//! Semantics (Kubernetes' "Container probes" in the Pod lifecycle documentation): the
//! startup probe gates the other two; `failureThreshold` consecutive liveness (or startup)
//! failures kill the container, and its restart policy decides what follows; readiness
//! turns `ready` on after `successThreshold` consecutive successes and off after
//! `failureThreshold` consecutive failures.

use serde::{Deserialize, Serialize};

/// Kubernetes' default `periodSeconds`.
pub const DEFAULT_PERIOD_SECONDS: u32 = 10;
/// Kubernetes' default `timeoutSeconds`.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 1;
/// Kubernetes' default `successThreshold`.
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;
/// Kubernetes' default `failureThreshold`.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;

/// A container's probes; each absent one is not run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Probes {
    /// `startupProbe`: until it succeeds, the other two do not run.
    pub startup: Option<Probe>,
    /// `livenessProbe`: its failure kills the container.
    pub liveness: Option<Probe>,
    /// `readinessProbe`: sets the container's `ready`.
    pub readiness: Option<Probe>,
}

impl Probes {
    /// Whether there is no probe at all.
    pub fn is_empty(&self) -> bool {
        self.startup.is_none() && self.liveness.is_none() && self.readiness.is_none()
    }
}

/// One probe: what it does and when (all times in whole seconds, as Kubernetes').
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The check.
    pub action: ProbeAction,
    /// Seconds after the container starts before the first check (default 0).
    pub initial_delay_seconds: u32,
    /// Seconds between checks (default 10).
    pub period_seconds: u32,
    /// Seconds one check may take (default 1).
    pub timeout_seconds: u32,
    /// Consecutive successes that count as success (default 1; 1 for liveness/startup).
    pub success_threshold: u32,
    /// Consecutive failures that count as failure (default 3).
    pub failure_threshold: u32,
}

impl Probe {
    /// A probe with Kubernetes' defaults.
    pub fn new(action: ProbeAction) -> Self {
        Self {
            action,
            initial_delay_seconds: 0,
            period_seconds: DEFAULT_PERIOD_SECONDS,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            success_threshold: DEFAULT_SUCCESS_THRESHOLD,
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
        }
    }
}

/// What a probe does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeAction {
    /// `exec.command`: run in the container (no shell); exit status 0 is success.
    Exec {
        /// The program and its arguments.
        command: Vec<String>,
    },
    /// `httpGet`: `GET path` over HTTP/1.1 to `host:port` from inside the container's
    /// network namespace; a status of 200–399 is success.
    HttpGet {
        /// An IP address (default `127.0.0.1`, the pod's own loopback).
        host: Option<String>,
        /// The TCP port.
        port: u16,
        /// The request path (default `/`).
        path: String,
        /// Extra request headers (`httpHeaders`), in order.
        headers: Vec<(String, String)>,
    },
    /// `tcpSocket`: a TCP connect to `host:port` from inside the container's network
    /// namespace; an established connection is success.
    TcpSocket {
        /// An IP address (default `127.0.0.1`).
        host: Option<String>,
        /// The TCP port.
        port: u16,
    },
}
