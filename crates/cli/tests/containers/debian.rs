//! The real Debian image (the `debian` fixture: mmdebstrap's minbase in four layers) pushed to
//! a local registry (Debian's docker-registry, TLS, on 127.0.0.1), pulled and run.

use crate::registry_support::registry::Registry;
use crate::support::{Engine, text};

#[test]
#[ignore = "root: cargo xtask test"]
fn debian_from_a_local_registry_runs_dpkg_and_apt() {
    let e = Engine::new();
    let (reg, image, certs) = Registry::with_debian();
    e.ok(&["pull", "-q", "--cert-dir", &certs, &image]);
    let version = e.ok(&["run", "--rm", &image, "cat", "/etc/debian_version"]);
    assert!(
        version
            .trim()
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit()),
        "{version}"
    );
    let packages = e.ok(&["run", "--rm", &image, "dpkg", "-l"]);
    assert!(
        packages.lines().any(|l| l.starts_with("ii  base-files")),
        "{packages}"
    );
    assert!(
        packages.lines().filter(|l| l.starts_with("ii ")).count() > 50,
        "{packages}"
    );
    let apt = e.ok(&["run", "--rm", &image, "apt-get", "--version"]);
    assert!(apt.starts_with("apt "), "{apt}");
    // Its users resolve by name through its own /etc/passwd.
    assert_eq!(
        e.ok(&["run", "--rm", "-u", "nobody", &image, "id", "-un"]),
        "nobody\n"
    );
    let out = e.run(&[
        "run",
        "--rm",
        "--pull",
        "never",
        &format!("{}/library/debian:13", reg.host),
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    e.assert_clean();
}
