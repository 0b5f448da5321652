//! `peapod pull`, `login` and `logout` against a real registry (Debian's docker-registry on
//! 127.0.0.1 with TLS and htpasswd auth, the image tests' harness), the busybox fixture pushed
//! by skopeo.

use std::path::Path;

use crate::registry_support::registry::{Auth, Config, Registry};
use crate::support::{Store, assert_root, fixture_id, text};

fn basic() -> Registry {
    Registry::start(Config {
        tls: true,
        auth: Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        },
    })
}

fn cert_dir(reg: &Registry) -> String {
    reg.certs_d().display().to_string()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn login_pull_logout_against_a_registry_with_basic_auth() {
    assert_root();
    let reg = basic();
    reg.push_busybox("private/busybox:1");
    let store = Store::new();
    let auth = store.path("auth.json");
    let (auth_s, certs) = (auth.display().to_string(), cert_dir(&reg));
    let image = format!("{}/private/busybox:1", reg.host);
    let common = ["--cert-dir", &certs, "--authfile", &auth_s];

    // Without credentials: a clear 401, exit 125, nothing stored.
    let out = store.run(&[&["pull"][..], &common, &[&image]].concat());
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("401 Unauthorized"), "{}", text(&out));
    assert!(
        stderr.contains(&format!("cannot pull {image}")),
        "{}",
        text(&out)
    );
    store.assert_empty();

    // A wrong password is refused and not stored.
    let out = store.run(
        &[
            &["login", "-u", "alice", "-p", "wrong"][..],
            &common,
            &[&reg.host],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(!auth.exists(), "{}", text(&out));
    let out = store.run_with_stdin(
        &[
            &["login", "-u", "alice", "--password-stdin"][..],
            &common,
            &[&reg.host],
        ]
        .concat(),
        b"s3cret\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded!\n");

    let out = store.run(&[&["pull"][..], &common, &[&image]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let id = fixture_id("busybox");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        id.trim_start_matches("sha256:")
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("Copying blob sha256:") && progress.contains(" done"),
        "{progress}"
    );
    let listed = store.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(listed.trim(), format!("{}/private/busybox:1", reg.host));
    // Again, quietly: nothing fetched, only the id printed.
    let out = store.run(&[&["pull", "-q"][..], &common, &[&image]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        id.trim_start_matches("sha256:")
    );
    assert!(out.stderr.is_empty(), "{}", text(&out));

    let out = store.run(&["logout", "--authfile", &auth_s, &reg.host]);
    assert!(out.status.success(), "{}", text(&out));
    let out = store.run(
        &[
            &["pull"][..],
            &common,
            &[&format!("{}/private/busybox@{id}", reg.host)],
        ]
        .concat(),
    );
    assert_eq!(
        out.status.code(),
        Some(125),
        "logged out, yet: {}",
        text(&out)
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_bad_reference_or_platform_is_refused_before_any_request() {
    assert_root();
    let store = Store::new();
    for (args, want) in [
        (&["pull", "Busybox"][..], "Busybox"),
        (&["pull", "busybox:"][..], "busybox:"),
        (
            &["pull", "--platform", "linux", "busybox"][..],
            "--platform linux",
        ),
        (&["pull", "--creds", "nocolon", "busybox"][..], "--creds"),
    ] {
        let out = store.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert!(
        !Path::new(&store.root())
            .join("blobs/sha256")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_pull_killed_at_any_moment_leaves_nothing_a_later_pull_trips_over() {
    assert_root();
    let reg = Registry::start(Config {
        tls: true,
        auth: Auth::Anonymous,
    });
    let layout = tempfile::tempdir().unwrap();
    crate::registry_support::layout::big_layer(layout.path(), 16 << 20);
    reg.push_oci(layout.path(), "big", "big:1");
    let image = format!("{}/big:1", reg.host);
    let certs = cert_dir(&reg);
    let store = Store::new();
    for delay_ms in [0u64, 5, 20, 50, 100, 200, 400] {
        let mut child = store
            .command(&["pull", "-q", "--cert-dir", &certs, &image])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever it had done, a pull now succeeds and the image is whole.
        let out = store.run(&["pull", "-q", "--cert-dir", &certs, &image]);
        assert!(
            out.status.success(),
            "after a kill at {delay_ms} ms: {}",
            text(&out)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let inspect = store.ok(&["image", "inspect", "--format", "{{.Id}}", &id]);
        assert_eq!(inspect.trim(), format!("sha256:{id}"));
        // Remove it, and nothing of it (nor of the killed pull) stays in the store.
        store.ok(&["rmi", &id]);
        store.ok(&["image", "prune", "-f"]);
        for dir in ["tmp", "layers", "blobs/sha256"] {
            let left: Vec<_> = std::fs::read_dir(store.root().join(dir)).unwrap().collect();
            assert!(
                left.is_empty(),
                "after a kill at {delay_ms} ms, {dir} holds {left:?}"
            );
        }
    }
}
