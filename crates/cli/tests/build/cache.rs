//! The layer cache and reproducible digests.

use crate::support::{Engine, IMAGE};
use crate::{assert_clean, build_ok, context, last_line, run_ok};

/// A Containerfile whose RUN leaves a random id: a rebuilt RUN gives another.
fn containerfile() -> String {
    format!(
        "FROM {IMAGE}\nCOPY a.txt /a.txt\nRUN cat /proc/sys/kernel/random/uuid > /run-id\nCOPY b.txt /b.txt\nRUN cat /proc/sys/kernel/random/uuid > /run-id-2\nENV DONE=1\n"
    )
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_second_build_reuses_every_step_and_a_touched_file_rebuilds_from_its_step() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "cache",
        &[
            ("a.txt", "a"),
            ("b.txt", "b"),
            ("Containerfile", &containerfile()),
        ],
    );
    let first = build_ok(&e, &["-t", "c1", ctx.to_str().unwrap()]);
    assert!(!first.contains("Using cache"), "{first}");
    let ids = |image: &str| run_ok(&e, image, &["cat", "/run-id", "/run-id-2"]);
    let first_ids = ids("c1");
    let second = build_ok(&e, &["-t", "c2", ctx.to_str().unwrap()]);
    assert_eq!(
        second.matches("--> Using cache").count(),
        5,
        "every step after FROM: {second}"
    );
    assert_eq!(last_line(&first), last_line(&second), "the same image");
    assert_eq!(ids("c2"), first_ids, "no RUN was executed again");
    // Touching b.txt: the steps before its COPY are reused, the rest rebuilt.
    std::fs::write(ctx.join("b.txt"), "b2").unwrap();
    let third = build_ok(&e, &["-t", "c3", ctx.to_str().unwrap()]);
    assert_eq!(third.matches("--> Using cache").count(), 2, "{third}");
    let third_ids = ids("c3");
    let (old1, old2) = first_ids.split_once('\n').unwrap();
    let (new1, new2) = third_ids.split_once('\n').unwrap();
    assert_eq!(old1, new1, "the first RUN was reused");
    assert_ne!(old2, new2, "the RUN after the changed COPY ran again");
    assert_eq!(run_ok(&e, "c3", &["cat", "/b.txt"]), "b2");
    // --no-cache runs every step.
    let fourth = build_ok(&e, &["--no-cache", "-t", "c4", ctx.to_str().unwrap()]);
    assert!(!fourth.contains("Using cache"), "{fourth}");
    assert_ne!(ids("c4").lines().next(), Some(old1));
    e.ok(&["rmi", "c1", "c2", "c3", "c4"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_same_inputs_built_twice_without_cache_give_the_same_digest() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "repro",
        &[
            ("a.txt", "a"),
            ("b.txt", "b"),
            (
                "Containerfile",
                &format!(
                    "FROM {IMAGE}\nCOPY a.txt /a.txt\nRUN echo fixed > /f && mkdir -p /x/y && rm /bin/ls\nCOPY b.txt /x/\nCMD [\"cat\", \"/f\"]\n"
                ),
            ),
        ],
    );
    let build = |tag: &str| {
        let mut cmd = e.cmd(&[
            "build",
            "--cgroup-parent",
            &e.cgroup,
            "--no-cache",
            "-q",
            "-t",
            tag,
            ctx.to_str().unwrap(),
        ]);
        cmd.env("SOURCE_DATE_EPOCH", "1700000000");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", crate::support::text(&out));
        last_line(&String::from_utf8_lossy(&out.stdout))
    };
    let one = build("r1");
    let two = build("r2");
    assert_eq!(one.len(), 64, "-q prints only the id: {one}");
    assert_eq!(one, two, "same inputs, same image id");
    let created = e.ok(&["image", "inspect", "--format", "{{.Created}}", "r1"]);
    assert_eq!(created.trim(), "2023-11-14T22:13:20Z");
    assert_eq!(run_ok(&e, "r1", &[]), "fixed\n");
    e.ok(&["rmi", "r1", "r2"]);
    assert_clean(&e);
}
