//! A container's OCI runtime config (`config.json`) from its image's config and the
//! operator's flags, with docker's defaults: its capability set, masked and read-only paths,
//! mounts and namespaces; `--privileged` lifts the confinement as docker's does.
//!
//! The rules for the process (docker's): `--entrypoint` replaces the image's Entrypoint and
//! drops its Cmd; a command given replaces Cmd; the process is Entrypoint + Cmd. The
//! environment is the image's, then `-e` (a later `KEY=` wins), plus `PATH` if the image sets
//! none, `HOSTNAME`, `HOME` (from the user's passwd entry) and `TERM=xterm` with a terminal.

mod image_config;
pub mod seccomp;
mod user;

use serde_json::json;

pub use image_config::{ImageConfig, ImageHealthcheck};
pub use user::{ResolvedUser, UserError, resolve_user};

/// docker's default `PATH`.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// docker's default capability set (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths docker masks in `/proc` and `/sys`.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths docker makes read-only in `/proc`.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What the operator asked for (the `create`/`run` flags that shape `config.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<Vec<String>>,
    /// The command after the image name; empty keeps the image's Cmd.
    pub cmd: Vec<String>,
    /// `-e KEY=value` (and `--env-file` lines), in order.
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `--hostname` (default: the first 12 hex digits of the id).
    pub hostname: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add` (`NET_ADMIN` or `CAP_NET_ADMIN`; `ALL`).
    pub cap_add: Vec<String>,
    /// `--cap-drop` (`ALL` drops every default first).
    pub cap_drop: Vec<String>,
}

/// A config that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Neither the image nor the flags give a command.
    #[error("no command specified: the image has no Entrypoint or Cmd and none was given")]
    NoCommand,
    /// An unknown capability name.
    #[error("unknown capability {0:?} (expected a name like NET_ADMIN or CAP_NET_ADMIN, or ALL)")]
    Capability(String),
    /// A relative working directory.
    #[error("the working directory {0:?} is not absolute")]
    Workdir(String),
    /// An environment entry without a name.
    #[error("invalid environment variable {0:?}: expected KEY=value")]
    Env(String),
    /// What we built does not parse as a runtime spec (a bug).
    #[error("internal error building config.json: {0}")]
    Internal(#[from] serde_json::Error),
}

/// The process arguments: Entrypoint + Cmd after docker's override rules.
pub fn process_args(image: &ImageConfig, opts: &ContainerConfig) -> Result<Vec<String>, SpecError> {
    let (entrypoint, cmd) = match &opts.entrypoint {
        Some(e) => (
            e.iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>(),
            opts.cmd.clone(),
        ),
        None if !opts.cmd.is_empty() => (image.entrypoint.clone(), opts.cmd.clone()),
        None => (image.entrypoint.clone(), image.cmd.clone()),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

/// The environment: image, then flags (later wins), with the defaults named in the module doc.
pub fn environment(
    image: &ImageConfig,
    opts: &ContainerConfig,
    hostname: &str,
    home: &str,
) -> Result<Vec<String>, SpecError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |entry: &str, out: &mut Vec<(String, String)>| -> Result<(), SpecError> {
        let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
        if k.is_empty() {
            return Err(SpecError::Env(entry.to_owned()));
        }
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.to_owned(),
            None => out.push((k.to_owned(), v.to_owned())),
        }
        Ok(())
    };
    if !image.env.iter().any(|e| e.starts_with("PATH=")) {
        set(DEFAULT_PATH, &mut out)?;
    }
    set(&format!("HOSTNAME={hostname}"), &mut out)?;
    for e in image.env.iter().chain(&opts.env) {
        set(e, &mut out)?;
    }
    if opts.tty && !out.iter().any(|(k, _)| k == "TERM") {
        set("TERM=xterm", &mut out)?;
    }
    if !out.iter().any(|(k, _)| k == "HOME") {
        set(&format!("HOME={home}"), &mut out)?;
    }
    Ok(out.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

fn cap_name(name: &str) -> Result<String, SpecError> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<caps::Capability>()
        .map(|_| full)
        .map_err(|_| SpecError::Capability(name.to_owned()))
}

/// Every capability the runtime knows (for `--privileged` and `--cap-add ALL`).
/// Every capability this process may grant: its own bounding set (docker's `--privileged`
/// gives what the daemon has; a capability outside ours cannot be given, and asking for it
/// fails the container's start).
fn all_capabilities() -> Vec<String> {
    let ours = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    let mut all: Vec<String> = ours.iter().map(ToString::to_string).collect();
    all.sort();
    all
}

/// The capability set after `--cap-add`/`--cap-drop` (docker: drop first, then add).
pub fn capabilities(opts: &ContainerConfig) -> Result<Vec<String>, SpecError> {
    if opts.privileged {
        return Ok(all_capabilities());
    }
    let drop_all = opts.cap_drop.iter().any(|c| c.eq_ignore_ascii_case("ALL"));
    let drops = opts
        .cap_drop
        .iter()
        .filter(|c| !c.eq_ignore_ascii_case("ALL"))
        .map(|c| cap_name(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut caps: Vec<String> = if drop_all {
        Vec::new()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|c| (*c).to_owned())
            .filter(|c| !drops.contains(c))
            .collect()
    };
    for add in &opts.cap_add {
        let more = if add.eq_ignore_ascii_case("ALL") {
            all_capabilities()
        } else {
            vec![cap_name(add)?]
        };
        for c in more {
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
    }
    Ok(caps)
}

/// `config.json` for a container whose root filesystem is at `rootfs` (an absolute path:
/// the engine's mounted overlay), running as `user`, with cgroup path `cgroups_path`.
pub fn build_spec(
    image: &ImageConfig,
    opts: &ContainerConfig,
    user: &ResolvedUser,
    hostname: &str,
    rootfs: &std::path::Path,
    cgroups_path: &str,
) -> Result<oci_spec::runtime::Spec, SpecError> {
    let args = process_args(image, opts)?;
    let cwd = opts
        .workdir
        .clone()
        .or_else(|| (!image.working_dir.is_empty()).then(|| image.working_dir.clone()))
        .unwrap_or_else(|| "/".to_owned());
    if !cwd.starts_with('/') {
        return Err(SpecError::Workdir(cwd));
    }
    let caps = capabilities(opts)?;
    let mut linux = json!({
        "cgroupsPath": cgroups_path,
        "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
        "resources": {"devices": [{"allow": opts.privileged, "access": "rwm"}]},
    });
    if !opts.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    let sys_options = if opts.privileged {
        json!(["nosuid", "noexec", "nodev"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    let spec = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": opts.tty,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args,
            "env": environment(image, opts, hostname, &user.home)?,
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": false,
        },
        "root": {"path": rootfs, "readonly": opts.read_only},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        ],
        "linux": linux,
    });
    Ok(serde_json::from_value(spec)?)
}

#[cfg(test)]
mod tests;
