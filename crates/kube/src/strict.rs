//! Strictness: every field of a manifest is either one peapod implements or an error
//! naming it (podman ignores what it does not know, podman#12756). The check walks the
//! document as a generic JSON value, so a field that this list forgets is refused, never
//! dropped: the list names what is supported, not what is not.

use std::collections::HashSet;

use serde_json::Value;

/// A container's supported fields (init containers have no probes).
const CONTAINER: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "env",
    "env[].name",
    "env[].value",
    "ports",
    "ports[].containerPort",
    "ports[].hostPort",
    "ports[].hostIP",
    "ports[].protocol",
    "ports[].name",
    "resources",
    "resources.limits",
    "resources.limits.cpu",
    "resources.limits.memory",
    "resources.requests",
    "resources.requests.cpu",
    "volumeMounts",
    "volumeMounts[].name",
    "volumeMounts[].mountPath",
    "volumeMounts[].readOnly",
    "securityContext",
    "securityContext.runAsUser",
    "securityContext.runAsGroup",
    "securityContext.capabilities",
    "securityContext.capabilities.add",
    "securityContext.capabilities.drop",
    "securityContext.readOnlyRootFilesystem",
    "securityContext.privileged",
    "securityContext.allowPrivilegeEscalation",
    "tty",
    "stdin",
];

/// A probe's supported fields.
const PROBE: &[&str] = &[
    "exec",
    "exec.command",
    "httpGet",
    "httpGet.path",
    "httpGet.port",
    "httpGet.host",
    "httpGet.scheme",
    "httpGet.httpHeaders",
    "httpGet.httpHeaders[].name",
    "httpGet.httpHeaders[].value",
    "tcpSocket",
    "tcpSocket.port",
    "tcpSocket.host",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
];

/// A pod's (or pod template's) supported fields, besides its containers'.
const POD: &[&str] = &[
    "metadata",
    "metadata.labels",
    "metadata.labels.*",
    "spec",
    "spec.hostname",
    "spec.restartPolicy",
    "spec.terminationGracePeriodSeconds",
    "spec.securityContext",
    "spec.securityContext.runAsUser",
    "spec.securityContext.runAsGroup",
    "spec.volumes",
    "spec.volumes[].name",
    "spec.volumes[].hostPath",
    "spec.volumes[].hostPath.path",
    "spec.volumes[].hostPath.type",
    "spec.volumes[].emptyDir",
    "spec.containers",
    "spec.initContainers",
];

/// A Deployment's supported fields, besides its pod template's.
const DEPLOYMENT: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "metadata.labels.*",
    "spec",
    "spec.replicas",
    "spec.selector",
    "spec.selector.matchLabels",
    "spec.selector.matchLabels.*",
    "spec.template",
];

/// The supported paths of a document of `kind` (`Pod` or `Deployment`), in pattern form:
/// `[]` for any element of a list, `*` for any key of a map.
pub(crate) fn allowed(kind: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    let pod_prefix = if kind == "Deployment" {
        set.extend(DEPLOYMENT.iter().map(|p| (*p).to_owned()));
        "spec.template."
    } else {
        set.extend(
            ["apiVersion", "kind", "metadata.name", "metadata.namespace"].map(str::to_owned),
        );
        ""
    };
    set.extend(POD.iter().map(|p| format!("{pod_prefix}{p}")));
    for list in ["containers", "initContainers"] {
        let base = format!("{pod_prefix}spec.{list}[]");
        set.extend(CONTAINER.iter().map(|p| format!("{base}.{p}")));
        if list == "containers" {
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                set.insert(format!("{base}.{probe}"));
                set.extend(PROBE.iter().map(|p| format!("{base}.{probe}.{p}")));
            }
        }
    }
    set
}

/// Removes every field of `doc` that is not in `allowed` and returns the paths of those
/// that said something (not null, `{}` or `[]`), as `spec.containers[0].lifecycle`.
pub(crate) fn prune(doc: &mut Value, allowed: &HashSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    walk(doc, "", "", allowed, &mut found);
    found
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn walk(
    v: &mut Value,
    real: &str,
    pattern: &str,
    allowed: &HashSet<String>,
    out: &mut Vec<String>,
) {
    match v {
        Value::Object(map) => {
            let mut refused = Vec::new();
            for (key, child) in map.iter_mut() {
                let exact = join(pattern, key);
                let any = join(pattern, "*");
                let child_pattern = if allowed.contains(&exact) {
                    exact
                } else if allowed.contains(&any) {
                    any
                } else {
                    if !is_empty(child) {
                        out.push(join(real, key));
                    }
                    refused.push(key.clone());
                    continue;
                };
                walk(child, &join(real, key), &child_pattern, allowed, out);
            }
            for key in refused {
                map.remove(&key);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                walk(
                    child,
                    &format!("{real}[{i}]"),
                    &format!("{pattern}[]"),
                    allowed,
                    out,
                );
            }
        }
        _ => {}
    }
}
