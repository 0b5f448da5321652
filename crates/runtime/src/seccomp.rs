//! `linux.seccomp`: the OCI profile compiled by libseccomp (the same library runc and crun
//! use, so a profile means the same thing to all three) and loaded just before exec.

use std::collections::HashSet;
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

/// A compiled profile, ready to load into the calling thread.
pub(crate) struct Filter {
    context: ScmpFilterContext,
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
        self.context.load().map_err(|e| crate::Error::Sys {
            what: format!("load the seccomp filter: {e}"),
            source: nix::Error::EINVAL,
        })
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
pub(crate) fn compile(profile: &LinuxSeccomp) -> Result<Filter, String> {
    Ok(Filter {
        context: compile_context(profile)?,
        execveat_allowed: allows_always(profile, "execveat"),
    })
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
        let allowed = |p| compile(&profile(p)).unwrap().allows_execveat();
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
            compile(&notify)
                .unwrap_err()
                .contains("SCMP_ACT_NOTIFY is not supported")
        );
        let bad = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]}
        ]}));
        assert_eq!(compile(&bad).unwrap_err(), "seccomp arg index 7 is not 0-5");
    }
}
