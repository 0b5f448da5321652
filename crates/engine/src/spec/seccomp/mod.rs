//! Seccomp profiles: peapod's default, and docker/podman-format profile files
//! (`--security-opt seccomp=FILE`), both turned into the OCI `linux.seccomp` object
//! (runtime-spec `config-linux.md#seccomp`) with their conditions resolved for one container.
//!
//! # The default profile ([`default_profile`])
//!
//! An allow-list, like docker's in effect: any syscall not listed fails with `EPERM`. The list
//! is ours, written by category from the kernel's syscall tables: processes and threads,
//! identity, signals, timers and clocks (read), memory of one's own process, files, directories,
//! extended attributes and I/O, sockets and IPC, and the few calls an architecture needs for
//! thread-local storage. What stays out, and why:
//!
//! - **The host's kernel and hardware**, which namespaces do not isolate: loading modules,
//!   `kexec_*`, `reboot`, setting the clock, `swapon`/`swapoff`, `acct`, `syslog`, port I/O
//!   (`iopl`, `ioperm`), `vhangup`. A capability unlocks each (`CAP_SYS_MODULE`, `CAP_SYS_BOOT`,
//!   `CAP_SYS_TIME`, `CAP_SYS_PACCT`, `CAP_SYSLOG`, `CAP_SYS_RAWIO`, `CAP_SYS_TTY_CONFIG`),
//!   except `kexec_*` and `swapon`/`swapoff`, which act on the whole machine whatever the
//!   container may do.
//! - **New namespaces and mounts**: `mount`, `umount2`, `pivot_root`, the new mount API
//!   (`fsopen`, `open_tree`, `move_mount`…), `unshare`, `setns`, `clone` with a namespace flag,
//!   `sethostname`, `quotactl`, `fanotify_init`, `bpf`, `perf_event_open`: only with
//!   `CAP_SYS_ADMIN` (`bpf` also with `CAP_BPF`, `perf_event_open` with `CAP_PERFMON`). Without
//!   it `clone3` returns `ENOSYS`, so that libc falls back to `clone`, whose flags a filter can
//!   read (`clone3` passes them in memory).
//! - **Other processes' insides**: `kcmp`, `pidfd_getfd`, `process_madvise` and `userfaultfd`
//!   need `CAP_SYS_PTRACE`. `ptrace` and `process_vm_*` are allowed, as docker allows them on
//!   kernels ≥ 4.8 (which closed the ptrace bypass of seccomp), so that `strace` and `gdb` work
//!   on a container's own processes; the kernel's ptrace access checks still apply.
//! - **The kernel keyring** (`add_key`, `keyctl`, `request_key`): it is not namespaced.
//! - **`io_uring`**: its submission queue runs syscalls the filter never sees, and it has been
//!   a steady source of kernel bugs.
//! - **NUMA placement** (`mbind`, `set_mempolicy`, `move_pages`…): only with `CAP_SYS_NICE`.
//! - **File handles** (`open_by_handle_at`, the "shocker" escape): only with
//!   `CAP_DAC_READ_SEARCH`; `chroot` only with `CAP_SYS_CHROOT`.
//! - **Obsolete calls** (`uselib`, `ustat`, `sysfs`, `_sysctl`, `nfsservctl`, `vm86`…) and
//!   `personality` with anything but the Linux personas (`PER_LINUX`, `PER_LINUX32`, `UNAME26`,
//!   or a query).
//!
//! # Docker/podman profile files ([`from_docker_profile`])
//!
//! moby's and containers-common's format: the OCI fields plus `archMap` (the architectures of
//! the host's family), a singular `name`, and per-rule `includes`/`excludes` on `caps` (every
//! included one must be in the bounding set; any excluded one drops the rule), `arches` (Go's
//! names: `amd64`, `arm64`…) and `minKernel` (`major.minor`), resolved here as docker resolves
//! them. Unknown JSON fields (`comment`, `errno`) are ignored as docker ignores them.

mod default;
mod names;
#[cfg(test)]
mod tests;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

pub use default::default_profile;

/// A docker/podman-format seccomp profile that cannot be used. The messages name the field
/// and the value at fault; the caller adds the file's path.
#[derive(Debug, thiserror::Error)]
pub enum SeccompProfileError {
    /// Not JSON, or not the shape of a profile (a field of the wrong type).
    #[error("invalid seccomp profile at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// An action that is not one of the OCI `SCMP_ACT_*` actions.
    #[error(
        "invalid seccomp profile: unknown action {action:?} in {field} (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG or SCMP_ACT_NOTIFY)"
    )]
    UnknownAction {
        /// Where: `defaultAction` or `syscalls[N].action`.
        field: String,
        /// The value found.
        action: String,
    },
    /// A syscall name no architecture has.
    #[error("invalid seccomp profile: unknown syscall {name:?} in syscalls[{index}]")]
    UnknownSyscall {
        /// The rule's index in `syscalls`.
        index: usize,
        /// The name found.
        name: String,
    },
    /// An argument comparison that is not one of the OCI `SCMP_CMP_*` operators.
    #[error(
        "invalid seccomp profile: unknown operator {op:?} in syscalls[{index}].args (expected SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, SCMP_CMP_GE or SCMP_CMP_MASKED_EQ)"
    )]
    UnknownOperator {
        /// The rule's index in `syscalls`.
        index: usize,
        /// The value found.
        op: String,
    },
    /// An argument index outside 0–5.
    #[error("invalid seccomp profile: argument index {arg} in syscalls[{index}].args is not 0-5")]
    ArgumentIndex {
        /// The rule's index in `syscalls`.
        index: usize,
        /// The index found.
        arg: u32,
    },
    /// An architecture that is not an OCI `SCMP_ARCH_*` name.
    #[error("invalid seccomp profile: unknown architecture {arch:?} in {field}")]
    UnknownArchitecture {
        /// Where: `architectures` or `archMap`.
        field: &'static str,
        /// The value found.
        arch: String,
    },
    /// A flag that is not an OCI `SECCOMP_FILTER_FLAG_*` name.
    #[error("invalid seccomp profile: unknown flag {0:?} in flags")]
    UnknownFlag(String),
    /// Both `architectures` and `archMap`.
    #[error(
        "invalid seccomp profile: both architectures and archMap are given (use one or the other)"
    )]
    ArchitecturesAndArchMap,
    /// A rule with both `name` and `names`, or with neither.
    #[error("invalid seccomp profile: syscalls[{0}] must have either name or names (not both)")]
    Names(usize),
    /// A `minKernel` that is not `major.minor`.
    #[error("invalid seccomp profile: minKernel {value:?} in syscalls[{index}] is not major.minor")]
    MinKernel {
        /// The rule's index in `syscalls`.
        index: usize,
        /// The value found.
        value: String,
    },
    /// A rule has a `minKernel` and this kernel's version cannot be read.
    #[error("cannot read the kernel version (/proc/sys/kernel/osrelease) for a minKernel rule")]
    KernelVersion,
}

/// A profile file: the OCI `linux.seccomp` fields plus docker's additions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: Option<u32>,
    architectures: Option<Vec<String>>,
    arch_map: Option<Vec<ArchMap>>,
    syscalls: Option<Vec<Rule>>,
    listener_path: Option<String>,
    listener_metadata: Option<String>,
    flags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    name: Option<String>,
    names: Option<Vec<String>>,
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<Arg>>,
    includes: Option<Filter>,
    excludes: Option<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    value_two: Option<u64>,
    op: String,
}

/// The machine a profile is resolved for.
#[derive(Debug, Clone, Copy)]
struct Host {
    /// Go's name of the architecture (`amd64`, `arm64`…), as `includes.arches` uses it.
    goarch: &'static str,
    /// The seccomp name of the native architecture, as `archMap` uses it.
    native: &'static str,
    /// The running kernel's `(major, minor)`, if readable.
    kernel: Option<(u32, u32)>,
}

impl Host {
    fn current() -> Host {
        let (goarch, native) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
            "x86" => ("386", "SCMP_ARCH_X86"),
            "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
            "arm" => ("arm", "SCMP_ARCH_ARM"),
            "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
            "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
            "s390x" => ("s390x", "SCMP_ARCH_S390X"),
            "loongarch64" => ("loong64", "SCMP_ARCH_LOONGARCH64"),
            other => (other, ""),
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|r| parse_version(r.trim()));
        Host {
            goarch,
            native,
            kernel,
        }
    }
}

/// `major.minor` at the start of a kernel release (`6.18.44-fc` → `(6, 18)`).
fn parse_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

/// Whether `capabilities` (names with or without `CAP_`, any case) holds `cap` (`CAP_…`).
fn has_cap(capabilities: &[String], cap: &str) -> bool {
    let bare = cap.trim_start_matches("CAP_");
    capabilities.iter().any(|c| {
        let c = c.to_ascii_uppercase();
        c.strip_prefix("CAP_").unwrap_or(&c) == bare
    })
}

/// Loads a docker/podman-format profile (`--security-opt seccomp=FILE`) for a container whose
/// bounding set is `capabilities`, on this machine's architecture and kernel: the OCI
/// `linux.seccomp` object with `archMap`, `name` and the rules' `includes`/`excludes`
/// resolved (see the module doc). The literal `unconfined` gives `Ok(None)`: no filter.
///
/// # Errors
///
/// [`SeccompProfileError`]: bad JSON (with line and column), an unknown action, operator,
/// architecture, flag or syscall name (naming it), `architectures` with `archMap`, a malformed
/// `minKernel`.
pub fn from_docker_profile(
    json: &[u8],
    capabilities: &[String],
) -> Result<Option<Value>, SeccompProfileError> {
    if json.trim_ascii() == b"unconfined" {
        return Ok(None);
    }
    resolve(json, capabilities, &Host::current()).map(Some)
}

fn resolve(json: &[u8], caps: &[String], host: &Host) -> Result<Value, SeccompProfileError> {
    let profile: Profile = serde_json::from_slice(json).map_err(|e| SeccompProfileError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let mut out = Map::new();
    check_action(&profile.default_action, "defaultAction")?;
    out.insert("defaultAction".into(), json!(profile.default_action));
    if let Some(errno) = profile.default_errno_ret {
        out.insert("defaultErrnoRet".into(), json!(errno));
    }
    let architectures = architectures(&profile, host)?;
    if !architectures.is_empty() {
        out.insert("architectures".into(), json!(architectures));
    }
    if let Some(flags) = profile.flags.filter(|f| !f.is_empty()) {
        if let Some(bad) = flags
            .iter()
            .find(|f| !is::<oci_spec::runtime::LinuxSeccompFilterFlag>(f))
        {
            return Err(SeccompProfileError::UnknownFlag(bad.clone()));
        }
        out.insert("flags".into(), json!(flags));
    }
    if let Some(path) = profile.listener_path {
        out.insert("listenerPath".into(), json!(path));
    }
    if let Some(meta) = profile.listener_metadata {
        out.insert("listenerMetadata".into(), json!(meta));
    }
    let mut rules = Vec::new();
    for (index, rule) in profile.syscalls.into_iter().flatten().enumerate() {
        if let Some(rule) = resolve_rule(index, rule, caps, host)? {
            rules.push(rule);
        }
    }
    out.insert("syscalls".into(), Value::Array(rules));
    Ok(Value::Object(out))
}

/// `architectures` as given, or the `archMap` entry of the host's native architecture with
/// its sub-architectures.
fn architectures(profile: &Profile, host: &Host) -> Result<Vec<String>, SeccompProfileError> {
    let check = |arch: &String, field| {
        if is::<oci_spec::runtime::Arch>(arch) {
            Ok(())
        } else {
            Err(SeccompProfileError::UnknownArchitecture {
                field,
                arch: arch.clone(),
            })
        }
    };
    let listed = profile.architectures.as_deref().unwrap_or_default();
    let map = profile.arch_map.as_deref().unwrap_or_default();
    if !listed.is_empty() && !map.is_empty() {
        return Err(SeccompProfileError::ArchitecturesAndArchMap);
    }
    let mut out = Vec::new();
    for arch in listed {
        check(arch, "architectures")?;
        out.push(arch.clone());
    }
    for entry in map {
        let subs = entry.sub_architectures.as_deref().unwrap_or_default();
        for arch in std::iter::once(&entry.architecture).chain(subs) {
            check(arch, "archMap")?;
        }
        if entry.architecture == host.native {
            out.push(entry.architecture.clone());
            out.extend(subs.iter().cloned());
        }
    }
    Ok(out)
}

/// One rule, checked, or `None` when its `includes`/`excludes` leave it out here.
fn resolve_rule(
    index: usize,
    rule: Rule,
    caps: &[String],
    host: &Host,
) -> Result<Option<Value>, SeccompProfileError> {
    let names = match (rule.name, rule.names) {
        (Some(name), None) => vec![name],
        (None, Some(names)) if !names.is_empty() => names,
        _ => return Err(SeccompProfileError::Names(index)),
    };
    if let Some(name) = names.iter().find(|n| !names::is_known(n)) {
        return Err(SeccompProfileError::UnknownSyscall {
            index,
            name: name.clone(),
        });
    }
    check_action(&rule.action, &format!("syscalls[{index}].action"))?;
    let mut args = Vec::new();
    for arg in rule.args.into_iter().flatten() {
        if arg.index > 5 {
            return Err(SeccompProfileError::ArgumentIndex {
                index,
                arg: arg.index,
            });
        }
        if !is::<oci_spec::runtime::LinuxSeccompOperator>(&arg.op) {
            return Err(SeccompProfileError::UnknownOperator { index, op: arg.op });
        }
        let mut a = json!({"index": arg.index, "value": arg.value, "op": arg.op});
        if let Some(two) = arg.value_two {
            a["valueTwo"] = json!(two);
        }
        args.push(a);
    }
    let includes = rule.includes.unwrap_or_default();
    let excludes = rule.excludes.unwrap_or_default();
    let kernel_at_least = |min: &Option<String>| -> Result<Option<bool>, SeccompProfileError> {
        let Some(min) = min.as_deref().filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        let wanted = parse_version(min)
            .filter(|_| min.split('.').count() == 2)
            .ok_or_else(|| SeccompProfileError::MinKernel {
                index,
                value: min.to_owned(),
            })?;
        let kernel = host.kernel.ok_or(SeccompProfileError::KernelVersion)?;
        Ok(Some(kernel >= wanted))
    };
    let (newer, excluded_kernel) = (
        kernel_at_least(&includes.min_kernel)?,
        kernel_at_least(&excludes.min_kernel)?,
    );
    let applies = includes.caps.iter().flatten().all(|c| has_cap(caps, c))
        && !excludes.caps.iter().flatten().any(|c| has_cap(caps, c))
        && includes
            .arches
            .as_ref()
            .is_none_or(|a| a.is_empty() || a.iter().any(|a| a == host.goarch))
        && !excludes.arches.iter().flatten().any(|a| a == host.goarch)
        && newer != Some(false)
        && excluded_kernel != Some(true);
    if !applies {
        return Ok(None);
    }
    let mut out = json!({"names": names, "action": rule.action});
    if let Some(errno) = rule.errno_ret {
        out["errnoRet"] = json!(errno);
    }
    if !args.is_empty() {
        out["args"] = Value::Array(args);
    }
    Ok(Some(out))
}

fn check_action(action: &str, field: &str) -> Result<(), SeccompProfileError> {
    if is::<oci_spec::runtime::LinuxSeccompAction>(action) {
        Ok(())
    } else {
        Err(SeccompProfileError::UnknownAction {
            field: field.to_owned(),
            action: action.to_owned(),
        })
    }
}

/// Whether `value` is a name of the OCI enum `T` (oci-spec knows the spec's lists).
fn is<T: DeserializeOwned>(value: &str) -> bool {
    serde_json::from_value::<T>(Value::String(value.to_owned())).is_ok()
}
