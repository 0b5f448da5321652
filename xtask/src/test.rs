//! `cargo xtask test`: the one test command, for contributors and CI alike.
//!
//! 1. `deps` (host packages) and `fixtures` (test images);
//! 2. `cargo fmt --check` and `cargo clippy -D warnings` (skip with `--no-lint`);
//! 3. every unprivileged test of the workspace, in parallel;
//! 4. every privileged (`#[ignore]`-marked) test, one at a time: they touch kernel state.
//!
//! Privileged tests need root. Without root this command fails rather than skipping them:
//! a privileged test that did not run proves nothing.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{cargo, describe, is_root, run_command};
use crate::{deps, fixtures};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Skip `cargo fmt --check` and `cargo clippy`.
    #[arg(long)]
    no_lint: bool,
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
    fixtures::build_default()?;
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
    println!("total: {} passed, {} failed", total.passed, total.failed);
    unprivileged.and(privileged)
}

/// Test counts summed over the runners' `test result:` lines.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    /// Adds the counts of a libtest summary line (`test result: ok. 3 passed; 0 failed; …`).
    fn add_summary(&mut self, line: &str) {
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
            total.add_summary(line.trim());
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
        assert_eq!(
            t,
            Tally {
                passed: 4,
                failed: 2
            }
        );
    }
}
