//! `cargo xtask test`: the one test command, for contributors and CI alike.
//!
//! 1. `deps` (host packages) and `fixtures` (test images);
//! 2. `cargo fmt --check` and `cargo clippy -D warnings` (skip with `--no-lint`);
//! 3. every unprivileged test of the workspace, in parallel;
//! 4. every privileged (`#[ignore]`-marked) test, one at a time: they touch kernel state;
//!    then the shipped static `peapod-oci` (`cargo xtask dist`) runs a container;
//! 5. `vm-test`: every test again, privileged ones included, in a VM that is a cgroup v2-only
//!    host with another kernel (skip with `--no-vm`), so both cgroup hierarchies are tested.
//!
//! A failure anywhere fails the command, after everything ran; the last line is one total over
//! host and guest. Privileged tests need root. Without root this command fails rather than
//! skipping them: a privileged test that did not run proves nothing.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{cargo, describe, is_root, run_command};
use crate::{deps, dist, fixtures, vm};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Skip `cargo fmt --check` and `cargo clippy`.
    #[arg(long)]
    no_lint: bool,
    /// Skip the VM run (`cargo xtask vm-test`) after the host's tests.
    #[arg(long)]
    no_vm: bool,
    /// Passed to the test binaries as a name filter.
    filter: Option<String>,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    if !is_root() {
        bail!(
            "cargo xtask test runs the privileged tests and needs root; run it as root \
             (a privileged test that cannot run is a failure, not a skip)"
        );
    }
    deps::ensure()?;
    let fixtures_dir = fixtures::build_default()?;
    fixtures::debian::ensure(&fixtures_dir)?;
    if !args.no_lint {
        run_command(cargo().args(["fmt", "--all", "--", "--check"]))?;
        run_command(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    let filter: Vec<&str> = args.filter.iter().map(String::as_str).collect();
    let mut total = Tally::default();
    eprintln!("test: unprivileged tests");
    let unprivileged = tally(
        cargo()
            .args(["test", "--workspace", "--", "--color", "never"])
            .args(&filter),
        &mut total,
    );
    eprintln!("test: privileged tests (root, one at a time)");
    let privileged = tally(
        cargo()
            .args(["test", "--workspace", "--lib", "--bins", "--tests", "--"])
            .args(["--ignored", "--test-threads=1", "--color", "never"])
            .args(&filter),
        &mut total,
    );
    // The release build as it ships, once per run (not for a filtered run).
    let shipped = if filter.is_empty() {
        dist::smoke_test(&mut total)
    } else {
        Ok(())
    };
    let vm = if args.no_vm {
        Ok(())
    } else {
        eprintln!("test: every test in a VM (cgroup v2, Debian's kernel)");
        vm::run_suite(
            &vm::Args::with_filters(args.filter.clone().into_iter().collect()),
            &mut total,
        )
    };
    println!("total: {} passed, {} failed", total.passed, total.failed);
    unprivileged.and(privileged).and(shipped).and(vm)
}

/// Test counts summed over the runners' `test result:` lines.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Tally {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    /// How many `running N tests` blocks are open: a test that re-runs its own binary
    /// (rootfs's namespaced children) prints a whole block inside its parent's.
    depth: u32,
}

impl Tally {
    /// Follows a test binary's output: counts a `test result:` line only when it closes an
    /// outermost `running N tests` block, so nested runs are not counted twice.
    pub(crate) fn add_line(&mut self, line: &str) {
        if line.starts_with("running ") && (line.ends_with(" tests") || line.ends_with(" test")) {
            self.depth += 1;
        } else if line.starts_with("test result: ") {
            self.depth = self.depth.saturating_sub(1);
            if self.depth == 0 {
                self.add_summary(line);
            }
        }
    }

    /// Adds the counts of a libtest summary line (`test result: ok. 3 passed; 0 failed; …`).
    pub(crate) fn add_summary(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                let n: u64 = n.parse().unwrap_or(0);
                match what {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    _ => {}
                }
            }
        }
    }
}

/// Runs `cmd`, passing its stdout through while counting the tests it reports.
fn tally(cmd: &mut Command, total: &mut Tally) -> Result<()> {
    eprintln!("$ {}", describe(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            total.add_line(line.trim());
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{}` failed: {status}", describe(cmd));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn summary_lines_are_summed_and_other_lines_ignored() {
        let mut t = Tally::default();
        t.add_summary(
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
        );
        t.add_summary(
            "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 5 filtered out",
        );
        t.add_summary("test foo ... ok");
        assert_eq!((t.passed, t.failed), (4, 2));
    }

    #[test]
    fn a_nested_run_inside_a_test_is_not_counted() {
        let mut t = Tally::default();
        for line in [
            "running 2 tests",
            "test a ... ok",
            "running 1 test",
            "test b ... ok",
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out",
            "test b ... ok",
            "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
            "running 0 tests",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
        ] {
            t.add_line(line);
        }
        assert_eq!((t.passed, t.failed), (2, 0));
    }
}
