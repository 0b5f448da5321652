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

#[test]
fn an_unknown_argument_is_a_usage_error_naming_it() {
    for bin in ["peapod", "peapod-oci"] {
        let out = run(bin, &["no-such-verb"]);
        assert_eq!(out.status.code(), Some(2), "{bin}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no-such-verb"), "{bin} stderr: {stderr}");
    }
}

#[test]
fn no_arguments_prints_help_and_fails() {
    for bin in ["peapod", "peapod-oci"] {
        let out = run(bin, &[]);
        assert_eq!(out.status.code(), Some(2), "{bin}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
    }
}
