//! `peapod build` end to end (issue 14): a Containerfile per feature, built with the real
//! binary into a private root and then run with `peapod run` to check its effect; the
//! layer cache; bad input; the Debian image as a base. Privileged (overlay mounts, the
//! runtime): `cargo xtask test`. After each test nothing is left: no mount, container,
//! cgroup, runtime state or staging directory.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed test setup should panic

mod bad_input;
mod cache;
mod crosscheck;
mod debian;
/// The network tests' fake host (a network namespace `peapod` runs in).
#[path = "../containers/fake_host.rs"]
#[allow(dead_code)]
mod fake_host;
mod features;
mod network;
mod prune;
/// The container tests' engine harness (private root, busybox loaded, leak checks).
#[path = "../containers/support.rs"]
#[allow(dead_code)]
mod support;

/// The image tests' registry harness (Debian's docker-registry with TLS and auth).
#[path = "../../../image/tests/support/mod.rs"]
mod registry_support;

use std::path::Path;
use std::process::Output;

use support::{Engine, text};

/// Writes `files` (path, content) under `dir`, making parents.
pub(crate) fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// A context directory of its own (below the test's temp dir) holding `files`.
pub(crate) fn context(e: &Engine, name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = e.tmp.path().join("contexts").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    write_files(&dir, files);
    dir
}

/// `peapod build --cgroup-parent <the test's> ARGS`.
pub(crate) fn build(e: &Engine, args: &[&str]) -> Output {
    let mut full = vec!["build", "--cgroup-parent", &e.cgroup];
    full.extend_from_slice(args);
    e.run(&full)
}

/// [`build`] that must succeed: its stdout.
pub(crate) fn build_ok(e: &Engine, args: &[&str]) -> String {
    let out = build(e, args);
    assert!(
        out.status.success(),
        "peapod build {args:?}: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The image id a build printed last.
pub(crate) fn last_line(stdout: &str) -> String {
    stdout.lines().last().unwrap_or("").trim().to_owned()
}

/// `peapod run --rm IMAGE ARGS…`, which must succeed: its stdout.
pub(crate) fn run_ok(e: &Engine, image: &str, args: &[&str]) -> String {
    let mut full = vec!["run", "--rm", image];
    full.extend_from_slice(args);
    e.ok(&full)
}

/// Spawns `cmd`, a build whose RUN is `sleep MARKER`; once that sleep runs (bounded wait),
/// calls `during`, sends the build SIGINT and returns its output once it ended (bounded).
/// The sleep is killed if the test fails first.
pub(crate) fn interrupt_build(
    mut cmd: std::process::Command,
    marker: &str,
    during: impl FnOnce(),
) -> Output {
    use std::time::{Duration, Instant};
    assert!(
        support::processes_mentioning(marker).is_empty(),
        "a sleep {marker} left by an earlier run"
    );
    /// Kills the RUN's `sleep` if the test fails before the build does.
    struct KillSleep<'a>(&'a str);
    impl Drop for KillSleep<'_> {
        fn drop(&mut self) {
            for pid in support::processes_mentioning(self.0) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let _kill_sleep = KillSleep(marker);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    // The container's `sleep` (its command line's words are NUL-separated).
    while support::processes_mentioning(marker).is_empty() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the RUN did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    during();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().cast_signed()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "the build did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(support::processes_mentioning(marker).is_empty());
    out
}

/// [`Engine::assert_clean`], and no build workspace, mount or runtime state left.
pub(crate) fn assert_clean(e: &Engine) {
    e.assert_clean();
    let tmp: Vec<_> = std::fs::read_dir(e.root().join("tmp"))
        .map(|d| d.filter_map(|x| x.ok().map(|x| x.file_name())).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "left in ROOT/tmp: {tmp:?}");
}
