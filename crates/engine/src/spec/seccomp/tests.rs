use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use serde_json::{Value, json};

use super::*;

fn caps(names: &[&str]) -> Vec<String> {
    names.iter().map(|c| (*c).to_owned()).collect()
}

/// Every name a rule with `action` (and no argument condition) lets through.
fn names_with(profile: &Value, action: &str, conditional: bool) -> Vec<String> {
    profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action && r.get("args").is_some() == conditional)
        .flat_map(|r| r["names"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

/// The first rule naming only `name`.
fn rule_for<'a>(profile: &'a Value, name: &str) -> &'a Value {
    profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["names"] == json!([name]))
        .unwrap()
}

fn allowed(profile: &Value) -> Vec<String> {
    names_with(profile, "SCMP_ACT_ALLOW", false)
}

#[test]
fn the_default_profile_is_an_oci_allow_list_of_known_syscalls() {
    let p = default_profile(&caps(&["CAP_CHOWN", "CAP_SYS_CHROOT"]));
    let oci: LinuxSeccomp = serde_json::from_value(p.clone()).unwrap();
    assert_eq!(oci.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(oci.default_errno_ret(), Some(1));
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            p["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        assert!(allowed(&p).contains(&"arch_prctl".to_owned()));
    }
    let all = default_profile(&caps(&["ALL_OF_THEM"]));
    for rule in p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .chain(all["syscalls"].as_array().unwrap())
    {
        for name in rule["names"].as_array().unwrap() {
            assert!(names::is_known(name.as_str().unwrap()), "{name}");
        }
    }
    let allowed = allowed(&p);
    for ordinary in [
        "read", "openat", "execve", "clone", "wait4", "socket", "chroot",
    ] {
        let unconditional = ordinary != "clone";
        assert_eq!(
            allowed.contains(&ordinary.to_owned()),
            unconditional,
            "{ordinary}"
        );
    }
    // Without CAP_SYS_ADMIN: no namespaces or mounts; clone only without namespace flags,
    // clone3 fails with ENOSYS; personality only with the Linux personas.
    for denied in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "pivot_root",
        "bpf",
        "open_tree",
    ] {
        assert!(!allowed.contains(&denied.to_owned()), "{denied}");
    }
    let clone = rule_for(&p, "clone");
    assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
    assert_eq!(clone["args"][0]["value"], 0x7e02_0000);
    assert_eq!(clone["args"][0]["valueTwo"], 0);
    let clone3 = rule_for(&p, "clone3");
    assert_eq!(clone3["action"], "SCMP_ACT_ERRNO");
    assert_eq!(clone3["errnoRet"], 38);
    let personas = names_with(&p, "SCMP_ACT_ALLOW", true);
    assert_eq!(personas.iter().filter(|n| *n == "personality").count(), 5);
}

#[test]
fn capabilities_unlock_their_syscalls() {
    let admin = default_profile(&caps(&["CAP_SYS_ADMIN"]));
    let allowed_admin = allowed(&admin);
    for name in [
        "mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf", "fsopen",
    ] {
        assert!(allowed_admin.contains(&name.to_owned()), "{name}");
    }
    assert!(names_with(&admin, "SCMP_ACT_ERRNO", false).is_empty());
    assert!(!admin.to_string().contains("SCMP_CMP_MASKED_EQ"));
    // Short names and any case, as the CLI's --cap-add takes them.
    assert_eq!(default_profile(&caps(&["sys_admin"])), admin);

    let unlocks = |cap: &str, name: &str| {
        let without = allowed(&default_profile(&[]));
        let with = allowed(&default_profile(&caps(&[cap])));
        !without.contains(&name.to_owned()) && with.contains(&name.to_owned())
    };
    for (cap, name) in [
        ("CAP_SYS_PTRACE", "kcmp"),
        ("CAP_SYS_PTRACE", "pidfd_getfd"),
        ("CAP_SYS_MODULE", "finit_module"),
        ("CAP_SYS_BOOT", "reboot"),
        ("CAP_SYS_TIME", "clock_settime"),
        ("CAP_SYS_NICE", "mbind"),
        ("CAP_SYSLOG", "syslog"),
        ("CAP_BPF", "bpf"),
        ("CAP_PERFMON", "perf_event_open"),
        ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
        ("CAP_SYS_CHROOT", "chroot"),
        ("CAP_SYS_PACCT", "acct"),
    ] {
        assert!(unlocks(cap, name), "{cap} should unlock {name}");
    }
    if cfg!(target_arch = "x86_64") {
        assert!(unlocks("CAP_SYS_RAWIO", "iopl"));
    }
    // CAP_BPF gives bpf, not the rest of CAP_SYS_ADMIN's calls.
    assert!(!allowed(&default_profile(&caps(&["CAP_BPF"]))).contains(&"mount".to_owned()));
    // What no capability unlocks.
    let every = caps(&[
        "CAP_SYS_ADMIN",
        "CAP_SYS_PTRACE",
        "CAP_SYS_MODULE",
        "CAP_SYS_BOOT",
        "CAP_SYS_TIME",
        "CAP_SYS_NICE",
        "CAP_SYS_RAWIO",
        "CAP_SYSLOG",
        "CAP_BPF",
        "CAP_PERFMON",
    ]);
    let most = allowed(&default_profile(&every));
    for never in [
        "kexec_load",
        "kexec_file_load",
        "keyctl",
        "add_key",
        "request_key",
        "swapon",
        "io_uring_setup",
        "uselib",
        "_sysctl",
        "nfsservctl",
        "personality",
    ] {
        assert!(!most.contains(&never.to_owned()), "{never}");
    }
}

const HOST: Host = Host {
    goarch: "amd64",
    native: "SCMP_ARCH_X86_64",
    kernel: Some((5, 10)),
};

fn load(profile: Value, caps: &[String]) -> Result<Value, SeccompProfileError> {
    resolve(profile.to_string().as_bytes(), caps, &HOST)
}

fn rule_names(p: &Value) -> Vec<String> {
    p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["names"].as_array().unwrap()[0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_docker_profile_resolves_caps_arches_and_kernel_versions() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "comment": "ignored",
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": null, "includes": {}, "excludes": {}},
            {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]}},
            {"names": ["umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
            {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
            {"names": ["modify_ldt"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
            {"names": ["clone3"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.3"}},
            {"names": ["futex_waitv"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.16"}},
            {"names": ["pidfd_open"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "5.10"}},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
        ],
    });
    let none = load(profile.clone(), &[]).unwrap();
    assert_eq!(
        none["architectures"],
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );
    assert_eq!(
        rule_names(&none),
        ["read", "umount2", "arch_prctl", "clone3", "personality"]
    );
    assert_eq!(none["defaultErrnoRet"], 1);
    assert_eq!(none["syscalls"][1]["errnoRet"], 1);
    assert_eq!(
        none["syscalls"][4]["args"],
        json!([{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}])
    );
    assert!(none.get("comment").is_none());
    // Every rule resolved is one the runtime reads.
    let _: LinuxSeccomp = serde_json::from_value(none).unwrap();

    let admin = load(profile.clone(), &caps(&["CAP_SYS_ADMIN"])).unwrap();
    assert_eq!(
        rule_names(&admin),
        ["read", "mount", "arch_prctl", "clone3", "personality"]
    );
    let both = load(profile.clone(), &caps(&["SYS_ADMIN", "CAP_SYS_PTRACE"])).unwrap();
    assert!(rule_names(&both).contains(&"ptrace".to_owned()));

    let arm = Host {
        goarch: "arm64",
        native: "SCMP_ARCH_AARCH64",
        kernel: Some((6, 18)),
    };
    let on_arm = resolve(profile.to_string().as_bytes(), &[], &arm).unwrap();
    assert_eq!(
        on_arm["architectures"],
        json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    );
    assert_eq!(
        rule_names(&on_arm),
        [
            "read",
            "umount2",
            "set_tls",
            "modify_ldt",
            "clone3",
            "futex_waitv",
            "personality"
        ]
    );
}

#[test]
fn unconfined_means_no_filter() {
    assert_eq!(from_docker_profile(b"unconfined\n", &[]).unwrap(), None);
    let p = from_docker_profile(br#"{"defaultAction": "SCMP_ACT_ALLOW"}"#, &[]).unwrap();
    assert_eq!(
        p,
        Some(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}))
    );
}

#[test]
fn bad_profiles_are_refused_naming_the_fault() {
    let err = resolve(
        b"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  oops\n}",
        &[],
        &HOST,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SeccompProfileError::Json {
                line: 3,
                column: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 3, column 3"), "{err}");
    let err = load(json!({"syscalls": []}), &[]).unwrap_err();
    assert!(err.to_string().contains("defaultAction"), "{err}");

    let bad = |rule: Value| {
        load(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, rule]}),
            &[],
        )
        .unwrap_err()
        .to_string()
    };
    let msg = bad(json!({"names": ["read", "mkdri"], "action": "SCMP_ACT_ALLOW"}));
    assert!(
        msg.contains("unknown syscall \"mkdri\" in syscalls[1]"),
        "{msg}"
    );
    let msg = bad(json!({"names": ["read"], "action": "SCMP_ACT_PERMIT"}));
    assert!(
        msg.contains("unknown action \"SCMP_ACT_PERMIT\" in syscalls[1].action"),
        "{msg}"
    );
    let msg = bad(json!({"names": ["read"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SAME"}]}));
    assert!(msg.contains("unknown operator \"SCMP_CMP_SAME\""), "{msg}");
    let msg = bad(json!({"names": ["read"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}));
    assert!(msg.contains("argument index 6"), "{msg}");
    let msg = bad(json!({"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}));
    assert!(
        msg.contains("syscalls[1] must have either name or names"),
        "{msg}"
    );
    let msg = bad(json!({"names": [], "action": "SCMP_ACT_ALLOW"}));
    assert!(msg.contains("syscalls[1]"), "{msg}");
    let msg = bad(
        json!({"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "five"}}),
    );
    assert!(msg.contains("minKernel \"five\""), "{msg}");
    // A malformed minKernel is refused even where the rule does not apply.
    let msg = bad(json!({"names": ["read"], "action": "SCMP_ACT_ALLOW",
        "includes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "5.1.2"}}));
    assert!(msg.contains("minKernel \"5.1.2\""), "{msg}");

    let refused = |profile: Value| load(profile, &[]).unwrap_err().to_string();
    for (profile, expected) in [
        (
            json!({"defaultAction": "SCMP_ACT_DENY"}),
            "unknown action \"SCMP_ACT_DENY\" in defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                   "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}),
            "both architectures and archMap",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]}),
            "unknown architecture \"SCMP_ARCH_Z80\" in architectures",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "archMap": [
                {"architecture": "SCMP_ARCH_ARM", "subArchitectures": ["SCMP_ARCH_Z80"]}]}),
            "unknown architecture \"SCMP_ARCH_Z80\" in archMap",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}),
            "unknown flag \"SECCOMP_FILTER_FLAG_FAST\"",
        ),
    ] {
        let msg = refused(profile);
        assert!(msg.contains(expected), "{msg}");
    }

    // minKernel needs the kernel's version.
    let blind = Host {
        kernel: None,
        ..HOST
    };
    let err = resolve(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}]})
        .to_string()
        .as_bytes(),
        &[],
        &blind,
    )
    .unwrap_err();
    assert!(matches!(err, SeccompProfileError::KernelVersion), "{err:?}");
}

#[test]
fn kernel_releases_parse_to_major_minor() {
    assert_eq!(parse_version("6.18.44-fc-v669"), Some((6, 18)));
    assert_eq!(parse_version("5.10"), Some((5, 10)));
    assert_eq!(parse_version("6.1-rc3"), Some((6, 1)));
    assert_eq!(parse_version("six"), None);
    assert_eq!(parse_version("6"), None);
}
