//! Bad input: a clear error naming the cause, the right exit code, nothing half-made.

use crate::support::{Engine, IMAGE, text};
use crate::{assert_clean, build, context};

/// The build fails with `code` and an error containing every one of `needles`; no image
/// `tag` exists afterwards and nothing is left.
fn fails(e: &Engine, containerfile: &str, files: &[(&str, &str)], code: i32, needles: &[&str]) {
    let mut all = files.to_vec();
    all.push(("Containerfile", containerfile));
    let name = format!(
        "bad{}",
        e.tmp
            .path()
            .join("contexts")
            .read_dir()
            .map_or(0, Iterator::count)
    );
    let ctx = context(e, &name, &all);
    let images_before = e.ok(&["images", "-q"]);
    let out = build(e, &["-q", "-t", "bad", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {}", text(&out));
    }
    assert_eq!(e.ok(&["images", "-q"]), images_before, "no image made");
    assert_clean(e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn bad_containerfiles_and_contexts_fail_clearly_and_leave_nothing() {
    let e = Engine::new();
    fails(
        &e,
        &format!("FROM {IMAGE}\nCOPY missing.txt /x\n"),
        &[],
        125,
        &["line 2", "missing.txt", "no such file"],
    );
    fails(
        &e,
        &format!("FROM {IMAGE}\nCOPY ../x /x\n"),
        &[],
        125,
        &["line 2", "../x", "outside the build context"],
    );
    fails(
        &e,
        &format!("FROM {IMAGE}\nRUN true\nFROBNICATE x\n"),
        &[],
        125,
        &["line 3", "unknown instruction FROBNICATE"],
    );
    fails(
        &e,
        &format!("FROM {IMAGE}\nRUN --mount=type=cache,target=/c true\n"),
        &[],
        125,
        &["line 2", "--mount"],
    );
    fails(
        &e,
        "FROM localhost/no-such-image:1\n",
        &[],
        125,
        &["line 1", "no-such-image"],
    );
    // A symlink out of the context is refused.
    let ctx_files: &[(&str, &str)] = &[];
    let dir = context(&e, "symlink", ctx_files);
    std::os::unix::fs::symlink("/etc", dir.join("host-etc")).unwrap();
    std::fs::write(
        dir.join("Containerfile"),
        format!("FROM {IMAGE}\nCOPY host-etc/passwd /p\n"),
    )
    .unwrap();
    let out = build(&e, &["-t", "bad", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the build context"),
        "{}",
        text(&out)
    );
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_failing_run_stops_the_build_with_its_exit_code_and_output() {
    let e = Engine::new();
    fails(
        &e,
        &format!(
            "FROM {IMAGE}\nRUN echo made > /f\nRUN echo to-out; echo to-err >&2; exit 3\nRUN echo never\n"
        ),
        &[],
        3,
        &["line 3", "exited with code 3", "to-out", "to-err"],
    );
    // Without -q the output is streamed as it comes.
    let ctx = context(
        &e,
        "stream",
        &[(
            "Containerfile",
            &format!("FROM {IMAGE}\nRUN echo streamed-line; exit 4\n"),
        )],
    );
    let out = build(&e, &["-t", "bad", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("streamed-line"),
        "{}",
        text(&out)
    );
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn ctrl_c_during_a_run_kills_its_container_and_leaves_nothing() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "interrupt",
        &[(
            "Containerfile",
            &format!("FROM {IMAGE}\nRUN sleep 3171917\n"),
        )],
    );
    let cmd = e.cmd(&[
        "build",
        "--cgroup-parent",
        &e.cgroup,
        "-t",
        "bad",
        ctx.to_str().unwrap(),
    ]);
    let out = crate::interrupt_build(cmd, "3171917", || {});
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        text(&out)
    );
    assert_eq!(
        e.ok(&["images", "-q"]).lines().count(),
        1,
        "only the base image"
    );
    assert_clean(&e);
}
