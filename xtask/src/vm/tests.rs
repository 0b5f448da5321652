use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::*;

fn binaries() -> Vec<TestBinary> {
    ["a", "b"]
        .iter()
        .map(|name| TestBinary {
            manifest_dir: PathBuf::from(format!("/w/{name}")),
            package: (*name).to_owned(),
            kind: "test".into(),
            target: "t".into(),
            executable: PathBuf::from(format!("/t/{name}")),
        })
        .collect()
}

fn exited() -> qemu::Ended {
    qemu::Ended {
        status: Some(ExitStatus::from_raw(0)),
        elapsed: Duration::from_secs(3),
    }
}

fn bounds(timeout: u64) -> Args {
    Args {
        timeout,
        ..Args::with_filters(Vec::new())
    }
}

/// Feeds a console transcript; the share holds exit codes for the given binaries.
fn follow<'a>(bins: &'a [TestBinary], console: &str) -> Progress<'a> {
    let mut progress = Progress::new(bins);
    for line in console.lines() {
        progress.line(&guest::clean_line(line.as_bytes()));
    }
    progress.count_last_summary();
    progress
}

const GOOD: &str = "@@vm-test ready\r\n@@vm-test start 0\r\n\
    test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\r\n\
    @@vm-test end 0 0\r\n@@vm-test start 1\r\n\
    test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\r\n\
    @@vm-test end 1 0\r\n@@vm-test done\r\n";

fn share_with(codes: &[(usize, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (index, code) in codes {
        fs::write(guest::exit_code_file(dir.path(), *index), code).unwrap();
    }
    dir
}

#[test]
fn a_clean_run_passes_and_counts_every_test() {
    let bins = binaries();
    let progress = follow(&bins, GOOD);
    assert_eq!((progress.tally.passed, progress.tally.failed), (5, 0));
    let share = share_with(&[(0, "0\n"), (1, "0\n")]);
    progress
        .verdict(share.path(), &exited(), &bounds(60))
        .unwrap();
}

#[test]
fn only_the_last_summary_of_a_binary_counts() {
    let bins = binaries();
    let console = "@@vm-test ready\n@@vm-test start 0\n--- stdout\n\
        test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 10 filtered out\n\
        test result: FAILED. 9 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out\n\
        @@vm-test end 0 101\n@@vm-test start 1\n\
        test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n";
    let progress = follow(&bins, console);
    assert_eq!((progress.tally.passed, progress.tally.failed), (13, 2));
}

#[test]
fn a_mark_after_unterminated_output_is_still_seen() {
    let bins = binaries();
    let console = "@@vm-test ready\n@@vm-test start 0\ntest slow ... @@vm-test end 0 124\n\
        @@vm-test start 1\ntest result: ok. 1 passed; 0 failed\n@@vm-test end 1 0\n@@vm-test done\n";
    let progress = follow(&bins, console);
    assert!(progress.done && progress.running.is_none());
    assert_eq!((progress.tally.passed, progress.tally.failed), (1, 0));
}

#[test]
fn a_failing_binary_fails_the_run_even_if_the_console_lies() {
    let bins = binaries();
    let progress = follow(&bins, GOOD);
    let share = share_with(&[(0, "0\n"), (1, "101\n")]);
    let err = progress
        .verdict(share.path(), &exited(), &bounds(60))
        .unwrap_err();
    assert!(
        err.to_string().contains("[2/2] b test t failed (exit 101)"),
        "{err}"
    );
}

#[test]
fn a_binary_stopped_by_its_time_bound_says_so() {
    let bins = binaries();
    let progress = follow(&bins, GOOD);
    let share = share_with(&[(0, "124"), (1, "0")]);
    let err = progress
        .verdict(share.path(), &exited(), &bounds(60))
        .unwrap_err();
    let want = format!(
        "[1/2] a test t timed out after {} s",
        super::DEFAULT_BINARY_TIMEOUT_SECS
    );
    assert!(err.to_string().contains(&want), "{err}");
}

#[test]
fn a_killed_guest_names_the_binary_it_was_running() {
    let bins = binaries();
    let progress = follow(
        &bins,
        "@@vm-test ready\n@@vm-test start 0\n@@vm-test end 0 0\n@@vm-test start 1\nhanging...\n",
    );
    let share = share_with(&[(0, "0")]);
    let killed = qemu::Ended {
        status: None,
        elapsed: Duration::from_secs(60),
    };
    let err = progress
        .verdict(share.path(), &killed, &bounds(60))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("killed after 60 s, while running [2/2] b test t"),
        "{err}"
    );
    assert!(err.contains("[2/2] b test t did not finish"), "{err}");
}

#[test]
fn a_guest_that_never_got_ready_is_reported_as_a_boot_failure() {
    let bins = binaries();
    let progress = follow(&bins, "[    0.1] Kernel panic\n");
    let killed = qemu::Ended {
        status: None,
        elapsed: Duration::from_secs(9),
    };
    let err = progress
        .verdict(share_with(&[]).path(), &killed, &bounds(9))
        .unwrap_err()
        .to_string();
    assert!(err.contains("before the tests started (boot)"), "{err}");
    assert!(err.contains("no test ran"), "{err}");
}

#[test]
fn a_run_where_no_test_ran_fails() {
    let bins = binaries();
    let console = "@@vm-test ready\n@@vm-test start 0\n@@vm-test end 0 0\n\
        @@vm-test start 1\n@@vm-test end 1 0\n@@vm-test done\n";
    let progress = follow(&bins, console);
    let share = share_with(&[(0, "0"), (1, "0")]);
    let err = progress
        .verdict(share.path(), &exited(), &bounds(60))
        .unwrap_err();
    assert!(err.to_string().contains("no test ran"), "{err}");
}

#[test]
fn a_guest_that_stopped_early_fails() {
    let bins = binaries();
    let progress = follow(
        &bins,
        "@@vm-test ready\n@@vm-test start 0\ntest result: ok. 1 passed; 0 failed\n",
    );
    let err = progress
        .verdict(share_with(&[]).path(), &exited(), &bounds(60))
        .unwrap_err()
        .to_string();
    assert!(err.contains("stopped before running every binary"), "{err}");
    assert!(err.contains("[1/2] a test t did not finish"), "{err}");
}

#[test]
fn shell_quoting_survives_quotes_and_spaces() {
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
}

#[test]
fn target_dirs_the_guest_mounts_over_are_refused() {
    assert!(refuse_guest_private_paths(Path::new("/tmp/target"), &[]).is_err());
    assert!(refuse_guest_private_paths(Path::new("/run/target"), &[]).is_err());
    assert!(refuse_guest_private_paths(Path::new("/work/target"), &[]).is_ok());
    assert!(refuse_guest_private_paths(Path::new("/tmpfoo/target"), &[]).is_ok());
    let keep = kept_under_tmp(&["/tmp/ci".into(), "/tmp/ci/target".into(), "/work/x".into()]);
    assert_eq!(keep, vec![PathBuf::from("/tmp/ci")]);
    assert!(refuse_guest_private_paths(Path::new("/tmp/ci/target/debug/x"), &keep).is_ok());
}

#[test]
fn the_guest_env_sets_a_backtrace_and_the_target_dir() {
    let env = guest_env(Path::new("/w/target"));
    assert!(env.iter().any(|(n, _)| n == "RUST_BACKTRACE"));
    assert!(env.contains(&("CARGO_TARGET_DIR".into(), "/w/target".into())));
}
