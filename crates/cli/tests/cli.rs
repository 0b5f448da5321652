//! The binaries answer the questions every command line must: version, help, bad usage.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed test setup should panic

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> std::process::Output {
    let path = match bin {
        "peapod" => env!("CARGO_BIN_EXE_peapod"),
        _ => env!("CARGO_BIN_EXE_peapod-oci"),
    };
    Command::new(path)
        .args(args)
        .output()
        .expect("spawn binary")
}

#[test]
fn both_binaries_print_their_version() {
    for bin in ["peapod", "peapod-oci"] {
        let out = run(bin, &["--version"]);
        assert!(out.status.success(), "{bin} --version failed: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.trim(),
            format!("{bin} {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

/// `peapod` exits as podman does on a usage error (125, its engine-error code); `peapod-oci`
/// as runc does (clap's 2).
fn usage_code(bin: &str) -> Option<i32> {
    Some(if bin == "peapod" { 125 } else { 2 })
}

#[test]
fn an_unknown_argument_is_a_usage_error_naming_it() {
    for bin in ["peapod", "peapod-oci"] {
        let out = run(bin, &["no-such-verb"]);
        assert_eq!(out.status.code(), usage_code(bin), "{bin}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no-such-verb"), "{bin} stderr: {stderr}");
    }
}

#[test]
fn no_arguments_prints_help_and_fails() {
    for bin in ["peapod", "peapod-oci"] {
        let out = run(bin, &[]);
        assert_eq!(out.status.code(), usage_code(bin), "{bin}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
    }
}

#[test]
fn errors_go_to_stderr_and_to_the_log_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let root = dir.path().join("root");
    let out = run(
        "peapod-oci",
        &[
            "--root",
            root.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "state",
            "ghost",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "peapod-oci: container ghost does not exist\n"
    );
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "container ghost does not exist");
}

#[test]
fn systemd_cgroup_is_refused_plainly() {
    let out = run("peapod-oci", &["--systemd-cgroup", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--systemd-cgroup is not supported"));
}

/// Global flags engines pass to runc are accepted (`--rootless=false`, `--criu PATH`);
/// `--rootless=true` is refused with the reason.
#[test]
fn runc_global_flags_engines_pass_are_accepted() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path().to_str().unwrap();
    for flags in [
        &["--rootless=false"][..],
        &["--rootless", "auto"],
        &["--criu", "/usr/sbin/criu"],
    ] {
        let mut args = vec!["--root", root];
        args.extend_from_slice(flags);
        args.extend(["state", "nosuch"]);
        let out = run("peapod-oci", &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
        assert!(
            stderr.contains("container nosuch does not exist"),
            "{flags:?}: {stderr}"
        );
    }
    let out = run("peapod-oci", &["--rootless=true", "state", "nosuch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--rootless=true is not supported"),
        "{stderr}"
    );
}
