//! The test binaries to run in the guest, as cargo names them: `cargo test --no-run
//! --message-format=json` prints one `compiler-artifact` message per built target, and those
//! whose `profile.test` is true carry the test binary's path in `executable`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::util::{cargo, describe};

/// One test binary and what it needs to run like `cargo test` runs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TestBinary {
    /// The package's directory (`CARGO_MANIFEST_DIR`); the binary runs there.
    pub(crate) manifest_dir: PathBuf,
    /// The package's name (`CARGO_PKG_NAME`).
    pub(crate) package: String,
    /// The target's kind (`lib`, `bin`, `test`…) and name.
    pub(crate) kind: String,
    pub(crate) target: String,
    pub(crate) executable: PathBuf,
}

impl TestBinary {
    /// A short label: `peapod-ns test privileged`.
    pub(crate) fn label(&self) -> String {
        format!("{} {} {}", self.package, self.kind, self.target)
    }
}

/// Builds the test binaries (`-p` packages, or the whole workspace but `exclude`) and returns
/// them sorted.
pub(crate) fn build(packages: &[String], exclude: &[String]) -> Result<Vec<TestBinary>> {
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    if packages.is_empty() {
        cmd.arg("--workspace");
        for package in exclude {
            cmd.args(["--exclude", package]);
        }
    }
    for package in packages {
        cmd.args(["--package", package]);
    }
    eprintln!("$ {}", describe(&cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start `{}`", describe(&cmd)))?;
    if !out.status.success() {
        bail!("`{}` failed: {}", describe(&cmd), out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    parse(&stdout)
}

/// The test binaries named in cargo's JSON messages (one per line), sorted and deduplicated.
pub(crate) fn parse(messages: &str) -> Result<Vec<TestBinary>> {
    let mut binaries = Vec::new();
    for line in messages.lines().filter(|l| l.starts_with('{')) {
        let message: Value = serde_json::from_str(line)
            .with_context(|| format!("cargo printed bad JSON: {line}"))?;
        if message["reason"] != "compiler-artifact" || message["profile"]["test"] != true {
            continue;
        }
        let Some(executable) = message["executable"].as_str() else {
            continue;
        };
        let manifest_path = message["manifest_path"].as_str().unwrap_or_default();
        let manifest_dir = Path::new(manifest_path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let kind = message["target"]["kind"][0].as_str().unwrap_or("test");
        binaries.push(TestBinary {
            package: package_name(message["package_id"].as_str().unwrap_or_default()),
            kind: kind.to_owned(),
            target: message["target"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            executable: PathBuf::from(executable),
            manifest_dir,
        });
    }
    binaries.sort();
    binaries.dedup();
    Ok(binaries)
}

/// A package's name from its cargo package id, in either of cargo's spellings:
/// `path+file:///w/crates/ns#peapod-ns@0.1.0`, `path+file:///w/xtask#0.1.0` (the name is the
/// directory's), or the older `peapod-ns 0.1.0 (path+file:///w/crates/ns)`.
fn package_name(id: &str) -> String {
    if let Some((url, fragment)) = id.split_once('#') {
        match fragment.split_once('@') {
            Some((name, _version)) => name.to_owned(),
            None => url.rsplit('/').next().unwrap_or(url).to_owned(),
        }
    } else {
        id.split_whitespace().next().unwrap_or(id).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGES: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/ns#peapod-ns@0.1.0","manifest_path":"/w/crates/ns/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"privileged","src_path":"/w/crates/ns/tests/privileged.rs"},"profile":{"opt_level":"0","test":true},"features":[],"filenames":["/t/debug/deps/privileged-2b94"],"executable":"/t/debug/deps/privileged-2b94","fresh":true}
{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#libc@0.2.170","manifest_path":"/r/libc/Cargo.toml","target":{"kind":["lib"],"name":"libc"},"profile":{"test":false},"filenames":["/t/debug/deps/liblibc.rlib"],"executable":null,"fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.1.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["bin"],"name":"xtask"},"profile":{"test":true},"executable":"/t/debug/deps/xtask-bbad","fresh":false}
{"reason":"compiler-artifact","package_id":"path+file:///w/crates/cli#peapod-cli@0.1.0","manifest_path":"/w/crates/cli/Cargo.toml","target":{"kind":["bin"],"name":"peapod"},"profile":{"test":false},"executable":"/t/debug/peapod","fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/crates/ns#peapod-ns@0.1.0","manifest_path":"/w/crates/ns/Cargo.toml","target":{"kind":["lib"],"name":"peapod_ns"},"profile":{"test":true},"executable":"/t/debug/deps/peapod_ns-c7bb","fresh":true}
{"reason":"build-finished","success":true}
"#;

    #[test]
    fn test_profile_artifacts_with_an_executable_are_the_test_binaries() {
        let got = parse(MESSAGES).unwrap();
        let labels: Vec<(String, &Path, &Path)> = got
            .iter()
            .map(|b| (b.label(), b.executable.as_path(), b.manifest_dir.as_path()))
            .collect();
        assert_eq!(
            labels,
            [
                (
                    "peapod-ns lib peapod_ns".to_owned(),
                    Path::new("/t/debug/deps/peapod_ns-c7bb"),
                    Path::new("/w/crates/ns")
                ),
                (
                    "peapod-ns test privileged".to_owned(),
                    Path::new("/t/debug/deps/privileged-2b94"),
                    Path::new("/w/crates/ns")
                ),
                (
                    "xtask bin xtask".to_owned(),
                    Path::new("/t/debug/deps/xtask-bbad"),
                    Path::new("/w/xtask")
                ),
            ]
        );
    }

    #[test]
    fn non_json_lines_are_skipped_and_bad_json_is_an_error() {
        assert!(parse("   Compiling foo\n").unwrap().is_empty());
        assert!(parse("{not json\n").is_err());
    }

    #[test]
    fn package_names_come_from_every_package_id_spelling() {
        assert_eq!(
            package_name("path+file:///w/crates/ns#peapod-ns@0.1.0"),
            "peapod-ns"
        );
        assert_eq!(package_name("path+file:///w/xtask#0.1.0"), "xtask");
        assert_eq!(
            package_name("peapod-ns 0.1.0 (path+file:///w/crates/ns)"),
            "peapod-ns"
        );
    }
}
