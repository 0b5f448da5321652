//! The real Debian image (the `debian` fixture) as a base, pulled by the build from a local
//! registry, with a RUN that uses dpkg.

use crate::registry_support::registry::Registry;
use crate::support::Engine;
use crate::{assert_clean, build_ok, context, run_ok};

#[test]
#[ignore = "root: cargo xtask test"]
fn a_debian_base_pulled_by_the_build_with_a_run_using_dpkg() {
    let e = Engine::new();
    let (_reg, image, certs) = Registry::with_debian();
    let ctx = context(
        &e,
        "debian",
        &[(
            "Containerfile",
            &format!(
                "FROM {image}\nRUN dpkg-query -W -f='${{Package}}\\n' base-files > /pkgs && rm -rf /usr/share/doc/base-files\n"
            ),
        )],
    );
    build_ok(
        &e,
        &["--cert-dir", &certs, "-t", "deb", ctx.to_str().unwrap()],
    );
    assert_eq!(run_ok(&e, "deb", &["cat", "/pkgs"]), "base-files\n");
    assert_eq!(
        run_ok(
            &e,
            "deb",
            &[
                "sh",
                "-c",
                "test -d /usr/share/doc/base-files || echo removed"
            ]
        ),
        "removed\n"
    );
    assert!(
        run_ok(&e, "deb", &["dpkg", "-l"])
            .lines()
            .any(|l| l.starts_with("ii  base-files"))
    );
    // FROM by digest: the name the pull recorded.
    let by_digest = e
        .ok(&[
            "image",
            "inspect",
            "--format",
            "{{index .RepoDigests 0}}",
            &image,
        ])
        .trim()
        .to_owned();
    assert!(by_digest.contains("@sha256:"), "{by_digest}");
    let ctx = context(
        &e,
        "digest",
        &[(
            "Containerfile",
            &format!("FROM {by_digest}\nRUN cat /etc/debian_version > /v\n"),
        )],
    );
    build_ok(
        &e,
        &["--pull", "never", "-t", "deb2", ctx.to_str().unwrap()],
    );
    assert!(run_ok(&e, "deb2", &["cat", "/v"]).starts_with(|c: char| c.is_ascii_digit()));
    e.ok(&["rmi", "deb", "deb2", &image]);
    assert_clean(&e);
}
