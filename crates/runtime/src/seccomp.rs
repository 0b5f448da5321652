//! `linux.seccomp`: the OCI profile compiled by libseccomp (the same library runc and crun
//! use, so a profile means the same thing to all three) and loaded just before exec.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

/// The directory of the runtime root that caches compiled profiles. Its name holds `..`, so
/// that no container id (which may not) can ever be it.
pub(crate) const CACHE_DIR: &str = "..seccomp";

/// A compiled profile, ready to load into the calling thread: the BPF program libseccomp
/// generated and the `seccomp(2)` flags the profile asks for.
pub(crate) struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    /// Whether the profile lets every `execveat` through (allow or log, whatever the
    /// arguments): the trampoline is then exec'd by fd; otherwise by its `/proc/self/fd`
    /// path with `execve`, so that a profile that kills or fails `execveat` (runc and crun
    /// never call it) still starts the container.
    execveat_allowed: bool,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("seccomp::Filter")
    }
}

impl Filter {
    /// Loads the filter; from here on the process's syscalls go through it.
    pub(crate) fn load(&self) -> crate::Result<()> {
        let prog = libc::sock_fprog {
            len: u16::try_from(self.program.len()).unwrap_or(u16::MAX),
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: seccomp(2) reads `prog` and the instructions it points to, which live in
        // `self` for the duration of the call; nix has no wrapper for it.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                std::ptr::from_ref(&prog),
            )
        };
        nix::errno::Errno::result(ret)
            .map(drop)
            .map_err(crate::Error::sys("load the seccomp filter"))
    }
}

impl Filter {
    /// See [`Filter::execveat_allowed`](Filter).
    pub(crate) fn allows_execveat(&self) -> bool {
        self.execveat_allowed
    }
}

/// Compiles `profile` into a filter ready to load. Errors are plain strings naming the
/// offending field; the caller names the config file.
///
/// With a `cache` directory (the runtime root's, root's own), a profile compiled before is
/// read back instead: libseccomp takes 10–20 ms over a default allow-list of three
/// architectures, the cache a fraction of a millisecond. The key is the profile's JSON,
/// the libseccomp version and the kernel release; a directory not ours alone (owned by
/// another user, or group/other-writable) is not used.
pub(crate) fn compile(profile: &LinuxSeccomp, cache: Option<&Path>) -> Result<Filter, String> {
    let flags = flags_of(profile);
    let execveat_allowed = allows_always(profile, "execveat");
    let key = cache.and_then(|dir| cache_key(profile).map(|k| dir.join(format!("{k}.bpf"))));
    if let Some(path) = &key
        && let Some(program) = read_cached(path)
    {
        return Ok(Filter {
            program,
            flags,
            execveat_allowed,
        });
    }
    let context = compile_context(profile)?;
    let program = export(&context)?;
    if let (Some(path), Some(dir)) = (&key, cache) {
        write_cached(dir, path, &program);
    }
    Ok(Filter {
        program,
        flags,
        execveat_allowed,
    })
}

/// The `seccomp(2)` flags of a profile.
fn flags_of(profile: &LinuxSeccomp) -> libc::c_ulong {
    profile.flags().iter().flatten().fold(0, |acc, flag| {
        acc | match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
        }
    })
}

/// The BPF program libseccomp generated for `context`.
fn export(context: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, String> {
    let fd =
        nix::sys::memfd::memfd_create(c"peapod-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| format!("cannot export the seccomp filter: {e}"))?;
    context
        .export_bpf(&fd)
        .map_err(|e| format!("cannot export the seccomp filter: {e}"))?;
    let mut file = std::fs::File::from(fd);
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))
        .map_err(|e| format!("cannot read the exported seccomp filter: {e}"))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)
        .map_err(|e| format!("cannot read the exported seccomp filter: {e}"))?;
    decode(&bytes).ok_or_else(|| "libseccomp exported a malformed filter".to_owned())
}

/// BPF instructions from their in-memory form (8 bytes each, native endian); `None` if the
/// length is wrong or the program empty or longer than the kernel takes (4096).
fn decode(bytes: &[u8]) -> Option<Vec<libc::sock_filter>> {
    if bytes.is_empty() || bytes.len() % 8 != 0 || bytes.len() / 8 > 4096 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

fn encode(program: &[libc::sock_filter]) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * 8);
    for i in program {
        out.extend(i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend(i.k.to_ne_bytes());
    }
    out
}

/// The cache key: sha256 of the profile's JSON, libseccomp's version and the kernel release.
fn cache_key(profile: &LinuxSeccomp) -> Option<String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(serde_json::to_vec(profile).ok()?);
    let v = libseccomp::ScmpVersion::current().ok()?;
    hasher.update(format!("\0{}.{}.{}\0", v.major, v.minor, v.micro));
    hasher.update(std::fs::read("/proc/sys/kernel/osrelease").unwrap_or_default());
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Whether `dir` is ours alone (owned by us, no group or other write).
fn private_dir(dir: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir()
            && m.uid() == nix::unistd::geteuid().as_raw()
            && m.permissions().mode() & 0o022 == 0
    })
}

fn read_cached(path: &Path) -> Option<Vec<libc::sock_filter>> {
    if !private_dir(path.parent()?) {
        return None;
    }
    decode(&std::fs::read(path).ok()?)
}

/// Best effort: a cache that cannot be written is no error.
fn write_cached(dir: &Path, path: &Path, program: &[libc::sock_filter]) {
    use std::os::unix::fs::DirBuilderExt;
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    if !private_dir(dir) {
        return;
    }
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    if std::fs::write(&tmp, encode(program)).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
    let _ = std::fs::remove_file(&tmp);
}

/// Whether `profile` lets every call of `syscall` through: each rule naming it allows (or
/// logs) it, and one does so unconditionally or the default action does. Conditional rules
/// are read conservatively: a profile that may deny some calls does not allow them all.
fn allows_always(profile: &LinuxSeccomp, syscall: &str) -> bool {
    let lets_through = |act: LinuxSeccompAction| {
        matches!(
            act,
            LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
        )
    };
    let default = lets_through(profile.default_action());
    let mut unconditional = false;
    for rule in profile.syscalls().iter().flatten() {
        if !rule.names().iter().any(|n| n == syscall) {
            continue;
        }
        if !lets_through(rule.action()) {
            return false;
        }
        unconditional |= rule.args().as_ref().is_none_or(Vec::is_empty);
    }
    default || unconditional
}

fn compile_context(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, String> {
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut filter = ScmpFilterContext::new(default)
        .map_err(|e| format!("cannot create a seccomp filter: {e}"))?;
    // We set no_new_privileges ourselves, as the config says; libseccomp must not.
    filter
        .set_ctl_nnp(false)
        .map_err(|e| format!("cannot configure seccomp: {e}"))?;
    // A binary tree of syscall numbers rather than a linear chain (libseccomp ≥ 2.5): with
    // an allow-list of a few hundred calls over three architectures the chain is ~1000
    // instructions run on every syscall the container makes. Older libseccomp: the chain.
    let _ = filter.set_ctl_optimize(2);
    for arch in profile.architectures().iter().flatten() {
        let scmp = arch_of(*arch)?;
        filter
            .add_arch(scmp)
            .map_err(|e| format!("cannot add seccomp architecture {arch:?}: {e}"))?;
    }
    for flag in profile.flags().iter().flatten() {
        match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => filter.set_ctl_log(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => filter.set_ctl_ssb(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => filter.set_ctl_tsync(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                filter.set_ctl_waitkill(true)
            }
        }
        .map_err(|e| format!("cannot set seccomp flag {flag:?}: {e}"))?;
    }
    for rule in profile.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue; // libseccomp refuses a rule whose action is the default one
        }
        let args = rule.args().as_deref().unwrap_or_default();
        let conditions = args.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
        for name in rule.names() {
            // Like runc, skip names this kernel/libseccomp does not know: profiles list
            // syscalls of every kernel version.
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                continue;
            };
            add(&mut filter, act, syscall, args, &conditions)
                .map_err(|e| format!("cannot add seccomp rule for {name}: {e}"))?;
        }
    }
    Ok(filter)
}

/// One rule, or one per condition when several compare the same argument (which libseccomp
/// cannot AND; runc ORs them the same way).
fn add(
    filter: &mut ScmpFilterContext,
    act: ScmpAction,
    syscall: ScmpSyscall,
    args: &[LinuxSeccompArg],
    conditions: &[ScmpArgCompare],
) -> Result<(), libseccomp::error::SeccompError> {
    if conditions.is_empty() {
        filter.add_rule(act, syscall)?;
        return Ok(());
    }
    let mut indexes = HashSet::new();
    if args.iter().all(|a| indexes.insert(a.index())) {
        filter.add_rule_conditional(act, syscall, conditions)?;
    } else {
        for c in conditions {
            filter.add_rule_conditional(act, syscall, std::slice::from_ref(c))?;
        }
    }
    Ok(())
}

fn action(act: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, String> {
    Ok(match act {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(
            i32::try_from(errno.unwrap_or(libc::EPERM as u32))
                .map_err(|_| "errnoRet out of range")?,
        ),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(errno.unwrap_or(libc::EPERM as u32))
                .map_err(|_| "errnoRet out of range")?,
        ),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(
                "seccomp action SCMP_ACT_NOTIFY is not supported (no listenerPath support)".into(),
            );
        }
    })
}

fn arch_of(arch: Arch) -> Result<ScmpArch, String> {
    let name = serde_json::to_value(arch)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    ScmpArch::from_str(&name).map_err(|_| format!("unknown seccomp architecture {name}"))
}

fn condition(arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, String> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| *i < 6)
        .ok_or(format!("seccomp arg index {} is not 0-5", arg.index()))?;
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // OCI: `value` is the mask, `valueTwo` the value compared after masking.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            ));
        }
    };
    Ok(ScmpArgCompare::new(index, op, arg.value()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn profile(value: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_full_profile_compiles() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [
                {"names": ["read", "write", "exit_group", "no_such_syscall_anywhere"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                 "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 17, "op": "SCMP_CMP_EQ"}]},
            ]
        }));
        let filter = compile_context(&p).unwrap();
        assert_eq!(filter.get_act_default().unwrap(), ScmpAction::Errno(38));
        let out = tempfile::tempfile().unwrap();
        filter.export_bpf(&out).unwrap();
        assert!(out.metadata().unwrap().len() > 100);
    }

    #[test]
    fn execveat_is_allowed_only_when_every_call_is() {
        let allowed = |p| compile(&profile(p), None).unwrap().allows_execveat();
        assert!(allowed(json!({"defaultAction": "SCMP_ACT_ALLOW"})));
        assert!(allowed(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["execve", "execveat"], "action": "SCMP_ACT_ALLOW"}]})
        ));
        assert!(!allowed(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["execve"], "action": "SCMP_ACT_ALLOW"}]})
        ));
        assert!(!allowed(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["execveat"], "action": "SCMP_ACT_KILL_PROCESS"}]})
        ));
        assert!(!allowed(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22}]})
        ));
        // Allowed only for some arguments: not every call.
        assert!(!allowed(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["execveat"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 4, "value": 0, "op": "SCMP_CMP_EQ"}]}]})
        ));
    }

    #[test]
    fn notify_and_bad_indexes_are_refused() {
        let notify = profile(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
        assert!(
            compile(&notify, None)
                .unwrap_err()
                .contains("SCMP_ACT_NOTIFY is not supported")
        );
        let bad = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]}
        ]}));
        assert_eq!(
            compile(&bad, None).unwrap_err(),
            "seccomp arg index 7 is not 0-5"
        );
    }

    #[test]
    fn a_compiled_profile_is_cached_in_a_private_directory_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(CACHE_DIR);
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let fresh = compile(&p, Some(&dir)).unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let cached = compile(&p, Some(&dir)).unwrap();
        assert_eq!(encode(&fresh.program), encode(&cached.program));
        // A damaged entry is compiled again, and replaced.
        std::fs::write(files[0].path(), b"not bpf").unwrap();
        let again = compile(&p, Some(&dir)).unwrap();
        assert_eq!(encode(&again.program), encode(&fresh.program));
        assert_eq!(
            std::fs::read(files[0].path()).unwrap(),
            encode(&fresh.program)
        );
        // A directory others may write is never read.
        std::fs::write(files[0].path(), encode(&fresh.program[..1])).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let shared = compile(&p, Some(&dir)).unwrap();
        assert_eq!(encode(&shared.program), encode(&fresh.program));
    }
}
