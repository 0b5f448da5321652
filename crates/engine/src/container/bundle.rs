//! From a built `config.json` (the image's config and the process flags, [`crate::spec`])
//! to the container's whole bundle: its mounts (volumes, binds, tmpfs, `/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf`, the init), resources, rlimits, seccomp, namespaces.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{CreateOptions, MountSpec, NetworkMode, SeccompChoice};
use crate::error::{Error, Result};

/// Where `--init`'s program is mounted in the container, and the host binaries tried for it
/// (Debian's `tini` package; a static build first so that it runs in any image).
pub(crate) const INIT_PATH: &str = "/run/peapod-init";
const INIT_CANDIDATES: &[&str] = &[
    "/usr/bin/tini-static",
    "/usr/bin/docker-init",
    "/usr/bin/tini",
];

/// A volume the container mounts, resolved to its directory.
pub(crate) struct ResolvedVolume {
    pub(crate) destination: String,
    pub(crate) dir: PathBuf,
    pub(crate) readonly: bool,
}

/// Writes `hostname`, `hosts` and `resolv.conf` into the container's directory.
pub(crate) fn write_etc_files(
    dir: &Path,
    hostname: &str,
    name: &str,
    opts: &CreateOptions,
    address: Option<std::net::IpAddr>,
) -> Result<()> {
    let network = &opts.network;
    let hosts = match (network, address) {
        (NetworkMode::Host, _) => std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
        (_, Some(ip)) => format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{hostname} {name}\n"
        ),
        (_, None) => format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
        ),
    };
    let resolv = crate::network::resolv_conf(opts);
    for (file, content) in [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, content).map_err(Error::io("write", &path))?;
    }
    Ok(())
}

fn bind(source: &Path, destination: &str, readonly: bool) -> Value {
    let mut options = vec!["rbind", "rprivate"];
    if readonly {
        options.push("ro");
    }
    json!({"destination": destination, "type": "bind", "source": source, "options": options})
}

/// Completes `spec` (config.json as JSON) with everything of `opts` that
/// [`crate::spec::build_spec`] does not cover.
pub(crate) fn complete(
    spec: &mut Value,
    opts: &CreateOptions,
    dir: &Path,
    volumes: &[ResolvedVolume],
    capabilities: &[String],
    netns: &Path,
) -> Result<()> {
    let user_destinations: Vec<&str> = opts.mounts.iter().map(MountSpec::destination).collect();
    let mut mounts: Vec<Value> = Vec::new();
    for file in ["hostname", "hosts", "resolv.conf"] {
        let dest = format!("/etc/{file}");
        if !user_destinations.contains(&dest.as_str()) {
            mounts.push(bind(&dir.join(file), &dest, false));
        }
    }
    for m in &opts.mounts {
        match m {
            MountSpec::Bind {
                source,
                destination,
                readonly,
            } => mounts.push(bind(Path::new(source), destination, *readonly)),
            MountSpec::Tmpfs {
                destination,
                options,
            } => {
                let mut o: Vec<String> = vec!["nosuid".into(), "nodev".into()];
                o.extend(options.iter().cloned());
                mounts.push(json!({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": o}));
            }
            MountSpec::Volume { .. } => {}
        }
    }
    for v in volumes {
        mounts.push(bind(&v.dir, &v.destination, v.readonly));
    }
    let mut args: Vec<Value> = spec["process"]["args"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if opts.init {
        let init = INIT_CANDIDATES
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or_else(|| Error::InvalidFlag {
                flag: "--init",
                value: String::new(),
                why: format!(
                    "no init program on this host (install Debian's tini: looked for {})",
                    INIT_CANDIDATES.join(", ")
                ),
            })?;
        mounts.push(bind(init, INIT_PATH, true));
        let mut with_init = vec![json!(INIT_PATH), json!("--")];
        with_init.append(&mut args);
        args = with_init;
    }
    spec["process"]["args"] = Value::Array(args);
    if let Some(existing) = spec["mounts"].as_array_mut() {
        // A user's mount over a default one (`--tmpfs /dev/shm`) replaces it.
        existing.retain(|m| !user_destinations.contains(&m["destination"].as_str().unwrap_or("")));
        existing.extend(mounts);
    }
    if opts.runtime.is_some() {
        spec["ociVersion"] = json!(super::lifecycle::EXTERNAL_OCI_VERSION);
    }
    spec["process"]["noNewPrivileges"] = json!(opts.no_new_privileges);
    spec["process"]["rlimits"] = json!(
        opts.ulimits
            .iter()
            .map(|u| json!({"type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()), "soft": u.soft, "hard": u.hard}))
            .collect::<Vec<_>>()
    );
    let linux = &mut spec["linux"];
    let r = &opts.resources;
    if let Some(limit) = r.memory {
        linux["resources"]["memory"]["limit"] = json!(limit);
        // docker: swap defaults to twice the memory limit (memory + as much swap).
        linux["resources"]["memory"]["swap"] =
            json!(r.memory_swap.unwrap_or(limit.saturating_mul(2)));
    } else if let Some(swap) = r.memory_swap {
        linux["resources"]["memory"]["swap"] = json!(swap);
    }
    if let Some(nano) = r.nano_cpus {
        let period: i64 = 100_000;
        linux["resources"]["cpu"]["period"] = json!(period);
        linux["resources"]["cpu"]["quota"] = json!(nano * period / 1_000_000_000);
    }
    if let Some(shares) = r.cpu_shares {
        linux["resources"]["cpu"]["shares"] = json!(shares);
    }
    if let Some(pids) = r.pids_limit {
        linux["resources"]["pids"]["limit"] = json!(if pids <= 0 { -1 } else { pids });
    }
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        match &opts.network {
            NetworkMode::Host => ns.retain(|n| n["type"] != "network"),
            NetworkMode::Bridge(_) => {
                for n in ns.iter_mut().filter(|n| n["type"] == "network") {
                    n["path"] = json!(netns);
                }
            }
            NetworkMode::None => {}
            // Joined at start, by the running container's namespace (set then).
            NetworkMode::Container(_) => {}
        }
    }
    if !opts.config.privileged {
        let seccomp = match &opts.seccomp {
            SeccompChoice::Default => Some(crate::spec::seccomp::default_profile(capabilities)),
            SeccompChoice::Unconfined => None,
            SeccompChoice::Profile(text) => {
                crate::spec::seccomp::from_docker_profile(text.as_bytes(), capabilities).map_err(
                    |e| Error::InvalidFlag {
                        flag: "--security-opt seccomp",
                        value: String::new(),
                        why: e.to_string(),
                    },
                )?
            }
        };
        if let Some(s) = seccomp.filter(|s| !s.is_null()) {
            linux["seccomp"] = s;
        }
    }
    Ok(())
}
