//! `peapod kube`: the manifest's bad-input paths, before any pod exists. Unprivileged: a
//! refused file must fail before the engine opens its root, so the root is never made.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed test setup should panic

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("root")
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn peapod(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peapod"))
            .arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: httpd\n    image: busybox\n    command: [httpd, -f]\n";

#[test]
fn malformed_yaml_is_refused_with_its_place_and_nothing_made() {
    let s = Sandbox::new();
    let file = s.file("bad.yaml", &format!("{POD}---\nkind: [Pod\n"));
    let out = s.peapod(&["kube", "play", &file], "");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("Error: {file}: document 2: not valid YAML: ")),
        "{err}"
    );
    assert!(err.contains("at line 10 column 7"), "{err}");
    assert_eq!(err.matches("line 10").count(), 1, "said once: {err}");
    assert!(out.stdout.is_empty());
    assert!(!s.root().exists(), "nothing made for a refused file");
    // The same from standard input.
    let out = s.peapod(&["kube", "play", "-"], "a: [\n");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        stderr(&out).starts_with("Error: stdin: document 1: not valid YAML"),
        "{out:?}"
    );
    let out = s.peapod(&["kube", "play", "/no/such.yaml"], "");
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("cannot read /no/such.yaml: No such file"),
        "{out:?}"
    );
    assert!(!s.root().exists());
}

#[test]
fn an_unsupported_field_is_an_error_naming_it_or_a_warning_with_lenient() {
    let s = Sandbox::new();
    let text = POD.replace(
        "    image: busybox\n",
        "    image: localhost:1/busybox\n    lifecycle: {preStop: {exec: {command: [x]}}}\n",
    );
    let file = s.file("pod.yaml", &text);
    let out = s.peapod(&["kube", "play", &file], "");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(
        stderr(&out),
        format!(
            "Error: {file}: Pod \"web\": unsupported field: spec.containers[0].lifecycle (use --lenient to ignore them with a warning)\n"
        )
    );
    assert!(!s.root().exists());
    let out = s.peapod(&["kube", "play", "--lenient", &file], "");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "Warning: {file}: Pod \"web\": unsupported field spec.containers[0].lifecycle: ignored\n"
        )),
        "{err}"
    );
    // Past the warning the file is played: its image is not in this empty store, and the
    // pull of it goes nowhere off this machine (nothing listens on localhost:1).
    assert!(
        err.contains("Error: cannot pull localhost:1/busybox"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(125));
    // kube down needs only the names: no warning, and no pod of them is there.
    let out = s.peapod(&["kube", "down", &file], "");
    assert!(!stderr(&out).contains("Warning"), "{out:?}");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn bad_values_and_kinds_are_named() {
    let s = Sandbox::new();
    let cases = [
        (
            POD.replace(
                "image: busybox",
                "image: busybox\n    ports: [{containerPort: 0}]",
            ),
            "Pod \"web\": spec.containers[0].ports[0].containerPort: 0 is not a port (1-65535)",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n".to_owned(),
            "document 1: kind \"Service\" (\"v1\") is not supported",
        ),
        (
            POD.replace("name: web", "name: 'no good'"),
            "spec.containers[0].name: invalid container name",
        ),
    ];
    for (text, expected) in cases {
        let file = s.file("case.yaml", &text);
        let out = s.peapod(&["kube", "play", &file], "");
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        assert!(
            stderr(&out).contains(expected),
            "{expected}: {}",
            stderr(&out)
        );
        assert!(!s.root().exists());
    }
}

#[test]
fn generate_needs_a_pod() {
    let s = Sandbox::new();
    let out = s.peapod(&["kube", "generate", "nopod"], "");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(stderr(&out).contains("no such pod: nopod"), "{out:?}");
    let out = s.peapod(&["kube", "generate"], "");
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("<POD>"), "{out:?}");
}
