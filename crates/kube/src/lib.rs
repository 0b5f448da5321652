//! # peapod-kube: Kubernetes manifests to and from pod plans
//!
//! `peapod kube play FILE` reads a multi-document YAML file of Pods (`v1`) and
//! Deployments (`apps/v1`, each replica a pod named `<deployment>-<n>`, `n` from 0: names
//! that `kube down` finds again from the same file; podman makes one pod named
//! `<deployment>-pod` and ignores the replica count) into
//! [`peapod_engine::kube::KubePod`] plans that the engine makes into pods; `peapod kube
//! generate POD` writes a pod's plan back as a Pod manifest that [`parse`] reads back to
//! the same plan.
//!
//! A Deployment's own `metadata.labels` are given to its pods under its template's (which
//! win); `metadata.namespace` may only be `default`, peapod's one namespace.
//!
//! **Strict**: a field that peapod does not implement (or that Kubernetes does not have:
//! a typo) is an error naming it (`spec.containers[0].lifecycle`), or a warning with
//! [`ParseOptions::lenient`]; never silently ignored. See [`strict`](crate) for how.
//!
//! ```
//! let yaml = "
//! apiVersion: v1
//! kind: Pod
//! metadata: {name: web}
//! spec:
//!   containers:
//!   - name: httpd
//!     image: busybox
//!     command: [httpd, -f, -p, '8080']
//!     ports: [{containerPort: 8080, hostPort: 8080}]
//! ";
//! let parsed = peapod_kube::parse("web.yaml", yaml, &Default::default())?;
//! assert_eq!(parsed.pods[0].name, "web");
//! assert_eq!(parsed.pods[0].ports, ["8080:8080/tcp"]);
//! assert_eq!(parsed.pods[0].containers[0].name.as_deref(), Some("web-httpd"));
//! # Ok::<(), peapod_kube::KubeError>(())
//! ```
//!
//! Why its own crate: the Kubernetes API types (`k8s-openapi`, every kind of every API
//! group) take long to compile, and the engine and its monitor do not need them; the
//! engine holds only the plain plan types. Dependencies: `k8s-openapi` (the published
//! API types, newest version feature, no client), `serde_yaml_ng` (YAML: the maintained
//! fork of `serde_yaml`, which is archived and deprecated; the same API over
//! `unsafe-libyaml`, with multi-document streams), `serde_json` (the generic value the
//! strict check walks), `thiserror`.

mod error;
mod generate;
mod probe;
mod quantity;
mod strict;
#[cfg(test)]
mod tests;
mod translate;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use peapod_engine::kube::KubePod;
use serde::Deserialize;
use serde_json::Value;

pub use error::KubeError;
pub use generate::{Generated, generate};

use translate::Ctx;

/// How [`parse`] treats what it does not support.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// `--lenient`: unsupported fields and kinds are warnings (and are ignored) instead of
    /// errors.
    pub lenient: bool,
}

/// What [`parse`] read.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// One plan per pod, in the file's order (a Deployment's replicas in order).
    pub pods: Vec<KubePod>,
    /// What `--lenient` ignored, one line each.
    pub warnings: Vec<String>,
}

/// Reads the manifests in `text` (a YAML stream; `file` names it in messages).
///
/// # Errors
/// [`KubeError::Yaml`] for text that is not YAML; [`KubeError::UnsupportedKind`],
/// [`KubeError::Unsupported`] for what peapod does not implement (unless lenient);
/// [`KubeError::Invalid`] for values Kubernetes or peapod refuse (a port of 0, a volume
/// mount of no volume, two pods of one name).
pub fn parse(file: &str, text: &str, opts: &ParseOptions) -> Result<Parsed, KubeError> {
    let mut parsed = Parsed::default();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let number = i + 1;
        let mut value = Value::deserialize(document).map_err(|cause| KubeError::Yaml {
            file: file.to_owned(),
            document: number,
            cause,
        })?;
        if value.is_null() {
            continue;
        }
        let text_of = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (kind, api_version) = (text_of("kind"), text_of("apiVersion"));
        let kind: &'static str = match (kind.as_str(), api_version.as_str()) {
            ("Pod", "v1") => "Pod",
            ("Deployment", "apps/v1") => "Deployment",
            _ if opts.lenient => {
                parsed.warnings.push(format!(
                    "{file}: document {number}: kind {kind:?} ({api_version:?}) is not supported: ignored"
                ));
                continue;
            }
            _ => {
                return Err(KubeError::UnsupportedKind {
                    file: file.to_owned(),
                    document: number,
                    kind,
                    api_version,
                });
            }
        };
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let fields = strict::prune(&mut value, &strict::allowed(kind));
        if !fields.is_empty() && !opts.lenient {
            return Err(KubeError::Unsupported {
                file: file.to_owned(),
                kind: kind.into(),
                name,
                fields,
            });
        }
        parsed.warnings.extend(
            fields
                .iter()
                .map(|f| format!("{file}: {kind} {name:?}: unsupported field {f}: ignored")),
        );
        let mut ctx = Ctx {
            file,
            kind,
            name: name.clone(),
            prefix: "",
        };
        if name.is_empty() {
            return Err(ctx.invalid("metadata.name", "required"));
        }
        if let Some(ns) = value.pointer("/metadata/namespace").and_then(Value::as_str)
            && ns != "default"
        {
            return Err(ctx.invalid(
                "metadata.namespace",
                format!("{ns:?}: peapod has one namespace, \"default\""),
            ));
        }
        let bad = |ctx: &Ctx<'_>, e: serde_json::Error| {
            ctx.invalid("", format!("not a valid {kind}: {e}"))
        };
        let pods = if kind == "Pod" {
            let pod: Pod = serde_json::from_value(value).map_err(|e| bad(&ctx, e))?;
            let labels = pod.metadata.labels.unwrap_or_default();
            let spec = pod.spec.ok_or_else(|| ctx.invalid("spec", "required"))?;
            vec![translate::pod(&ctx, &name, labels, &spec)?]
        } else {
            let deployment: Deployment = serde_json::from_value(value).map_err(|e| bad(&ctx, e))?;
            deployment_pods(&mut ctx, &name, deployment)?
        };
        for pod in pods {
            if parsed.pods.iter().any(|p| p.name == pod.name) {
                return Err(ctx.invalid(
                    "metadata.name",
                    format!("a pod named {:?} is made twice by this file", pod.name),
                ));
            }
            parsed.pods.push(pod);
        }
    }
    Ok(parsed)
}

/// The most replicas of one Deployment (each is a pod on this one host; a bound on what a
/// file can make the engine do).
pub const MAX_REPLICAS: u32 = 64;

/// A Deployment's replicas, each a pod `<name>-<n>`.
fn deployment_pods(
    ctx: &mut Ctx<'_>,
    name: &str,
    d: Deployment,
) -> Result<Vec<KubePod>, KubeError> {
    let spec = d.spec;
    let replicas = spec.replicas.unwrap_or(1);
    let replicas = u32::try_from(replicas)
        .map_err(|_| ctx.invalid("spec.replicas", format!("{replicas} is negative")))?;
    if replicas > MAX_REPLICAS {
        return Err(ctx.invalid(
            "spec.replicas",
            format!("{replicas}: at most {MAX_REPLICAS} pods of one Deployment on one host"),
        ));
    }
    let template_labels: BTreeMap<String, String> = spec
        .template
        .metadata
        .and_then(|m| m.labels)
        .unwrap_or_default();
    // The Deployment's own labels go to its pods too (there is no Deployment object to
    // keep them on); the template's win.
    let mut labels = d.metadata.labels.unwrap_or_default();
    labels.extend(template_labels.clone());
    let selector = spec.selector.match_labels.unwrap_or_default();
    if selector.is_empty() {
        return Err(ctx.invalid("spec.selector.matchLabels", "required (apps/v1)"));
    }
    if let Some((k, v)) = selector
        .iter()
        .find(|(k, v)| template_labels.get(*k) != Some(*v))
    {
        return Err(ctx.invalid(
            "spec.selector.matchLabels",
            format!("{k}={v} does not match the template's labels"),
        ));
    }
    let pod_spec = spec
        .template
        .spec
        .ok_or_else(|| ctx.invalid("spec.template.spec", "required"))?;
    if pod_spec
        .restart_policy
        .as_deref()
        .is_some_and(|p| p != "Always")
    {
        return Err(ctx.invalid(
            "spec.template.spec.restartPolicy",
            "a Deployment's pods must restart Always",
        ));
    }
    ctx.prefix = "spec.template.";
    let mut pods = Vec::new();
    for n in 0..replicas {
        let pod = translate::pod(ctx, &format!("{name}-{n}"), labels.clone(), &pod_spec)?;
        if n > 0 && !pod.ports.is_empty() {
            return Err(ctx.invalid(
                "spec.replicas",
                format!(
                    "{replicas} replicas would each publish host port {}",
                    pod.ports.join(", ")
                ),
            ));
        }
        pods.push(pod);
    }
    Ok(pods)
}
