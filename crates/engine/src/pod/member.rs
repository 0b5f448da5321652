//! A container in a pod (`create --pod`): checked against the pod, its cgroup nested in the
//! pod's, its `config.json` joining the namespaces the pod shares (by their pins) and its
//! `/etc/hostname`, `hosts` and `resolv.conf` the infra's.

use std::path::Path;

use serde_json::{Value, json};

use super::PodRecord;
use crate::container::{CreateOptions, NetworkMode};
use crate::engine::Engine;
use crate::error::{Error, Result};

fn refuse(flag: &'static str, value: &str, pod: &PodRecord, what: &str) -> Error {
    Error::InvalidFlag {
        flag,
        value: value.to_owned(),
        why: format!(
            "a container in pod {} uses the pod's {what}: give it to `pod create` instead",
            pod.name
        ),
    }
}

/// Resolves `opts.pod` (a name, id or prefix) to the pod, checks the options against what
/// the pod shares, and rewrites them: the pod's id, the pod's cgroup as the parent.
///
/// # Errors
/// [`Error::NoSuchPod`], [`Error::InvalidFlag`] for an option that the pod owns (a network,
/// ports, an address, a hostname of its own).
pub(crate) fn prepare(engine: &Engine, opts: &mut CreateOptions) -> Result<Option<PodRecord>> {
    let Some(key) = opts.pod.clone() else {
        return Ok(None);
    };
    let pod = engine.pods().get(&key)?;
    let share = pod.config.share;
    if share.net {
        if opts.network != NetworkMode::None {
            return Err(refuse("--network", opts.network.as_str(), &pod, "network"));
        }
        if !opts.publish.is_empty() {
            return Err(refuse("--publish", &opts.publish.join(" "), &pod, "ports"));
        }
        if let Some(ip) = &opts.ip {
            return Err(refuse("--ip", ip, &pod, "address"));
        }
        if !opts.aliases.is_empty() {
            return Err(refuse(
                "--network-alias",
                &opts.aliases.join(" "),
                &pod,
                "network",
            ));
        }
        if !opts.dns.is_empty() || !opts.dns_search.is_empty() || !opts.add_hosts.is_empty() {
            return Err(refuse(
                "--dns",
                &opts.dns.join(" "),
                &pod,
                "/etc/resolv.conf",
            ));
        }
    }
    if share.uts
        && let Some(h) = &opts.config.hostname
    {
        return Err(refuse("--hostname", h, &pod, "hostname"));
    }
    // Not given: the pod's; an explicit one (`no` too) is the member's own.
    opts.restart.get_or_insert(pod.config.restart);
    opts.pod = Some(pod.id.clone());
    opts.infra = false;
    opts.cgroup_parent = Some(pod.cgroup_path());
    Ok(Some(pod))
}

/// The hostname a member sees: the pod's when it shares the UTS namespace.
pub(crate) fn hostname(pod: &PodRecord) -> Option<&str> {
    pod.config.share.uts.then(|| pod.hostname())
}

/// Points a member's `config.json` at the pod's namespaces and `/etc` files.
/// `own_dir` is the member's directory, whose `/etc` files the engine bound first.
pub(crate) fn join_spec(engine: &Engine, pod: &PodRecord, own_dir: &Path, config: &mut Value) {
    let Some(infra_id) = &pod.infra_id else {
        return;
    };
    let share = pod.config.share;
    let pins = super::ns_dir(&engine.runroot, &pod.id);
    let netns = crate::network::netns_path(&engine.runroot, infra_id);
    let host_network = pod.config.network == NetworkMode::Host;
    if let Some(list) = config["linux"]["namespaces"].as_array_mut() {
        if share.net && host_network {
            list.retain(|n| n["type"] != "network");
        }
        if share.pid && !list.iter().any(|n| n["type"] == "pid") {
            list.push(json!({"type": "pid"}));
        }
        for n in list.iter_mut() {
            let path = match n["type"].as_str() {
                Some("network") if share.net => netns.clone(),
                Some("ipc") if share.ipc => pins.join("ipc"),
                Some("uts") if share.uts => pins.join("uts"),
                Some("pid") if share.pid => pins.join("pid"),
                _ => continue,
            };
            n["path"] = json!(path);
        }
    }
    if share.uts
        && let Some(obj) = config.as_object_mut()
    {
        // The pod's UTS namespace has the pod's hostname already.
        obj.remove("hostname");
    }
    if share.net {
        let infra_dir = engine.paths(infra_id).dir;
        if let Some(mounts) = config["mounts"].as_array_mut() {
            for m in mounts.iter_mut() {
                let file = match m["destination"].as_str() {
                    Some("/etc/hosts") => "hosts",
                    Some("/etc/resolv.conf") => "resolv.conf",
                    Some("/etc/hostname") if share.uts => "hostname",
                    _ => continue,
                };
                // Only the engine's own bind of that file, not an operator's `-v`.
                if m["source"].as_str().map(Path::new) == Some(own_dir.join(file).as_path()) {
                    m["source"] = json!(infra_dir.join(file));
                }
            }
        }
    }
}
