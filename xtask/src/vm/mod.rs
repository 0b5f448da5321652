//! `cargo xtask vm-test`: every test, privileged ones included, in a small VM, so that
//! contributors need not run namespace, mount, cgroup and netlink tests as root on their own
//! machine, and so that CI tests a second kernel and a cgroup v2-only host (this machine is
//! cgroup v1 hybrid).
//!
//! 1. `cargo test --no-run --message-format=json` builds the test binaries and names them;
//! 2. the guest is Debian's kernel (`linux-image-amd64`, its vmlinux booted through PVH with
//!    qboot) and a tiny initramfs that overlays a scratch disk on the host's root, shared
//!    read-only over virtio-9p: host-built binaries and host tools run unchanged, at the
//!    same paths;
//! 3. one boot runs every binary in turn with `--include-ignored --test-threads=1`, as root,
//!    streaming the console; each exit code comes back through a second 9p share;
//! 4. KVM if it is usable (probed), TCG otherwise; a guest that outlives `--timeout` is
//!    killed and reported with the binary it was running.

mod binaries;
mod cpio;
mod guest;
mod initramfs;
mod kernel;
mod qemu;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::test::Tally;
use crate::util::target_dir;
use crate::{deps, fixtures};
use binaries::TestBinary;
use guest::Event;
use qemu::{Accel, AccelChoice, Machine, Plan};

/// The guest's whole run, boot to power-off, unless `--timeout` says otherwise. Under TCG
/// (no nested KVM here) the whole suite takes about 37 minutes: the container tests ~17, the
/// client tests (containerd, docker, podman) ~11.
const DEFAULT_TIMEOUT_SECS: u64 = 60 * 60;
/// One test binary, so that a hung test does not hide the other binaries' results (the
/// container tests take ~17 minutes under TCG since every test engine is a fake host and its
/// containers are on the default bridge network).
const DEFAULT_BINARY_TIMEOUT_SECS: u64 = 30 * 60;
/// A KVM probe boot takes about a second; anything near this bound means KVM does not work.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The scratch disk's apparent size; it is sparse and grows only with what tests write.
const SCRATCH_GIB: u64 = 32;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only these packages' test binaries (as cargo's `--package`); default: the workspace.
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub(crate) packages: Vec<String>,
    /// Leave out these packages' test binaries (as cargo's `--exclude`, with the workspace).
    #[arg(long, value_name = "SPEC", conflicts_with = "packages")]
    pub(crate) exclude: Vec<String>,
    /// Kill a test binary that runs longer than this many seconds (the others still run).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_BINARY_TIMEOUT_SECS)]
    pub(crate) binary_timeout: u64,
    /// Kill the guest, and fail, after this many seconds (boot to power-off).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS)]
    pub(crate) timeout: u64,
    /// The accelerator: `auto` uses KVM only if a probe boot under it succeeds.
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    pub(crate) accel: AccelChoice,
    /// The guest's vCPUs.
    #[arg(long, default_value_t = 2)]
    pub(crate) cpus: u32,
    /// The guest's memory, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    pub(crate) memory: u32,
    /// Test name filters, given to every test binary (after `--`).
    #[arg(last = true, value_name = "TEST-FILTER")]
    pub(crate) filters: Vec<String>,
}

impl Args {
    /// The defaults, with these filters (for `cargo xtask test`).
    pub(crate) fn with_filters(filters: Vec<String>) -> Self {
        Self {
            packages: Vec::new(),
            exclude: Vec::new(),
            binary_timeout: DEFAULT_BINARY_TIMEOUT_SECS,
            timeout: DEFAULT_TIMEOUT_SECS,
            accel: AccelChoice::Auto,
            cpus: 2,
            memory: 4096,
            filters,
        }
    }
}

/// `cargo xtask vm-test`: host packages and fixtures first, then the guest run.
pub(crate) fn run(args: &Args) -> Result<()> {
    deps::ensure()?;
    fixtures::build_default()?;
    run_suite(args, &mut Tally::default())
}

/// Runs the test binaries in a guest, adding their libtest counts to `total`. Prints each
/// binary's output as it comes and ends with `vm-test: N passed, N failed`.
pub(crate) fn run_suite(args: &Args, total: &mut Tally) -> Result<()> {
    let start = Instant::now();
    let target = std::path::absolute(target_dir()).context("cannot resolve the target dir")?;
    let keep = kept_under_tmp(&[crate::util::workspace_root(), target.clone()]);
    refuse_guest_private_paths(&target, &keep)?;
    let binaries = binaries::build(&args.packages, &args.exclude)?;
    if binaries.is_empty() {
        bail!("vm-test: cargo built no test binaries");
    }
    for binary in &binaries {
        refuse_guest_private_paths(&binary.executable, &keep)?;
        refuse_guest_private_paths(&binary.manifest_dir, &keep)?;
    }
    let kernel = kernel::Kernel::find()?;
    let cache = target.join("vm-test");
    let vmlinux = kernel.vmlinux(&cache)?;
    let run_dir = RunDir::create(&cache.join(format!("run-{}", std::process::id())))?;
    let share = run_dir.0.join("share");
    let script = share.join("guest.sh");
    fs::create_dir_all(&share).with_context(|| format!("cannot create {}", share.display()))?;
    let initramfs = run_dir.0.join("initramfs.cpio");
    initramfs::build(
        &kernel,
        &initramfs::Init {
            share: &share,
            script: &script,
            keep: &keep,
        },
        &initramfs,
    )?;
    let scratch = run_dir.0.join("scratch.img");
    qemu::make_scratch_disk(&scratch, SCRATCH_GIB)?;
    let mut machine = Machine {
        vmlinux,
        initramfs,
        share: share.clone(),
        scratch,
        accel: Accel::Tcg,
        cpus: args.cpus,
        memory_mib: args.memory,
    };
    machine.accel = choose_accel(args.accel, &mut machine, &script)?;

    let env = guest_env(&target);
    let text = guest::script(&guest::Run {
        share: &share,
        binaries: &binaries,
        filters: &args.filters,
        env: &env,
        binary_timeout: args.binary_timeout,
    });
    fs::write(&script, text).with_context(|| format!("cannot write {}", script.display()))?;
    eprintln!(
        "vm-test: booting Linux {} ({}, {} vCPUs, {} MiB) to run {} test binaries",
        kernel.version,
        machine.accel.name(),
        machine.cpus,
        machine.memory_mib,
        binaries.len()
    );
    let mut progress = Progress::new(&binaries);
    let ended = qemu::run(&machine, Duration::from_secs(args.timeout), |line| {
        progress.line(line);
    })?;
    progress.count_last_summary();
    eprintln!(
        "vm-test: {:.1} s in all: build and setup {:.1} s, guest {:.1} s (boot {})",
        start.elapsed().as_secs_f64(),
        (start.elapsed().saturating_sub(ended.elapsed)).as_secs_f64(),
        ended.elapsed.as_secs_f64(),
        progress.ready.map_or_else(
            || "unfinished".to_owned(),
            |d| format!("{:.1} s", d.as_secs_f64())
        )
    );
    let verdict = progress.verdict(&share, &ended, args);
    println!(
        "vm-test: {} passed, {} failed",
        progress.tally.passed, progress.tally.failed
    );
    total.passed += progress.tally.passed;
    total.failed += progress.tally.failed;
    verdict
}

/// Of `paths` (the workspace and the target dir), those under `/tmp` that the guest's fresh
/// `/tmp` must keep showing; a path inside another kept one is left out.
fn kept_under_tmp(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut keep: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.starts_with("/tmp"))
        .cloned()
        .collect();
    keep.sort();
    keep.dedup();
    let all = keep.clone();
    keep.retain(|p| !all.iter().any(|other| other != p && p.starts_with(other)));
    keep
}

/// The guest mounts its own `/tmp`, `/run`, `/proc`, `/sys` and `/dev`: the workspace, the
/// target dir (binaries, fixtures, results) must lie elsewhere to be seen, or under `/tmp`
/// in a directory the guest keeps (`keep`).
fn refuse_guest_private_paths(path: &Path, keep: &[PathBuf]) -> Result<()> {
    if keep.iter().any(|k| path.starts_with(k)) {
        return Ok(());
    }
    for private in ["/tmp", "/run", "/proc", "/sys", "/dev"] {
        if path.starts_with(private) {
            bail!(
                "vm-test: {} lies under {private}, which the guest mounts afresh; move the \
                 workspace or CARGO_TARGET_DIR elsewhere",
                path.display()
            );
        }
    }
    Ok(())
}

/// The environment of the tests in the guest: the host's `RUST_*` variables (with
/// `RUST_BACKTRACE=1` unless set), `CARGO_TARGET_DIR`, `CARGO` and `HOME`.
fn guest_env(target: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| name.starts_with("RUST_") || name == "CARGO" || name == "HOME")
        .filter(|(name, _)| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    if !env.iter().any(|(name, _)| name == "RUST_BACKTRACE") {
        env.push(("RUST_BACKTRACE".into(), "1".into()));
    }
    env.push((
        "CARGO_TARGET_DIR".into(),
        target.to_string_lossy().into_owned(),
    ));
    env.push(("TERM".into(), "dumb".into()));
    env.sort();
    env
}

/// Applies `--accel`: KVM only when it is usable and a trivial guest boots under it.
fn choose_accel(choice: AccelChoice, machine: &mut Machine, script: &Path) -> Result<Accel> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    match qemu::plan(choice, qemu::kvm_usable(), &cpuinfo) {
        Plan::Use(accel) => Ok(accel),
        Plan::Tcg(why) => {
            eprintln!("vm-test: TCG: {why}");
            Ok(Accel::Tcg)
        }
        Plan::ProbeKvm => {
            fs::write(script, guest::probe_script())
                .with_context(|| format!("cannot write {}", script.display()))?;
            machine.accel = Accel::Kvm;
            let mut done = false;
            let ended = qemu::run(machine, PROBE_TIMEOUT, |line| {
                done |= guest::parse_event(line) == Some(Event::Done);
            })?;
            if done && ended.status.is_some() {
                eprintln!(
                    "vm-test: KVM: a probe guest booted in {:.1} s",
                    ended.elapsed.as_secs_f64()
                );
                Ok(Accel::Kvm)
            } else {
                eprintln!("vm-test: TCG: a probe guest did not boot under KVM");
                Ok(Accel::Tcg)
            }
        }
    }
}

/// The run's working directory (initramfs, scratch disk, share); removed when dropped.
#[derive(Debug)]
struct RunDir(PathBuf);

impl RunDir {
    /// Creates `path` afresh, first removing what runs killed before their cleanup left
    /// (`run-<pid>` directories whose process is gone).
    fn create(path: &Path) -> Result<Self> {
        if let Some(entries) = path.parent().and_then(|p| fs::read_dir(p).ok()) {
            for entry in entries.filter_map(|e| e.ok()) {
                let name = entry.file_name();
                let pid = name.to_str().and_then(|n| n.strip_prefix("run-"));
                if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                    fs::remove_dir_all(entry.path()).ok();
                }
            }
        }
        if path.exists() {
            fs::remove_dir_all(path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
        fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path.to_path_buf()))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        fs::remove_dir_all(&self.0).ok();
    }
}

/// Follows the console: prints it, counts libtest results, remembers where the guest is.
#[derive(Debug)]
struct Progress<'a> {
    binaries: &'a [TestBinary],
    tally: Tally,
    /// The running binary's last `test result:` line, counted when it ends: a test may print
    /// a child's libtest summary (re-executed test binaries do), which must not count.
    last_summary: Option<Tally>,
    running: Option<(usize, Instant)>,
    /// When the guest said it was ready, counted from the boot.
    ready: Option<Duration>,
    booted: Instant,
    done: bool,
    setup_failed: bool,
}

impl<'a> Progress<'a> {
    fn new(binaries: &'a [TestBinary]) -> Self {
        Self {
            binaries,
            tally: Tally::default(),
            last_summary: None,
            running: None,
            ready: None,
            booted: Instant::now(),
            done: false,
            setup_failed: false,
        }
    }

    fn label(&self, index: usize) -> String {
        let name = self
            .binaries
            .get(index)
            .map_or_else(|| "?".to_owned(), TestBinary::label);
        format!("[{}/{}] {name}", index + 1, self.binaries.len())
    }

    fn line(&mut self, line: &str) {
        // A binary killed mid-line leaves no newline before the guest's next mark.
        if let Some(at) = line.find(guest::MARK).filter(|&at| at > 0) {
            self.line(&line[..at]);
            self.line(&line[at..]);
            return;
        }
        match guest::parse_event(line) {
            // After `done` come only the kernel's power-off messages.
            None if self.done => {}
            None => {
                println!("{line}");
                if line.trim().starts_with("test result: ") {
                    let mut summary = Tally::default();
                    summary.add_summary(line.trim());
                    self.last_summary = Some(summary);
                }
            }
            Some(Event::Ready) => {
                let after = self.booted.elapsed();
                println!(
                    "vm-test: guest ready {:.1} s after QEMU started",
                    after.as_secs_f64()
                );
                self.ready = Some(after);
            }
            Some(Event::Start(index)) => {
                self.count_last_summary();
                println!("vm-test: {}", self.label(index));
                self.running = Some((index, Instant::now()));
            }
            Some(Event::End(index, code)) => {
                self.count_last_summary();
                let took = self
                    .running
                    .take()
                    .map_or(0.0, |(_, t)| t.elapsed().as_secs_f64());
                println!(
                    "vm-test: {} exited with {code} ({took:.1} s)",
                    self.label(index)
                );
            }
            Some(Event::Done) => self.done = true,
            Some(Event::SetupFailed) => self.setup_failed = true,
        }
    }

    /// Adds the last binary's summary to the tally (once).
    fn count_last_summary(&mut self) {
        if let Some(summary) = self.last_summary.take() {
            self.tally.passed += summary.passed;
            self.tally.failed += summary.failed;
        }
    }

    /// Success only if the guest finished, every binary exited 0 (as its exit-code file says)
    /// and at least one test ran.
    fn verdict(&self, share: &Path, ended: &qemu::Ended, args: &Args) -> Result<()> {
        let mut problems = Vec::new();
        if ended.status.is_none() {
            let place = match self.running {
                Some((index, _)) => format!("while running {}", self.label(index)),
                None if self.ready.is_none() => "before the tests started (boot)".to_owned(),
                None => "between test binaries".to_owned(),
            };
            problems.push(format!(
                "the guest was killed after {} s, {place}",
                args.timeout
            ));
        } else if self.setup_failed {
            problems.push("the guest could not be prepared (see above)".to_owned());
        } else if !self.done {
            problems.push("the guest stopped before running every binary".to_owned());
        }
        for index in 0..self.binaries.len() {
            let code = fs::read_to_string(guest::exit_code_file(share, index))
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok());
            match code {
                Some(0) => {}
                // coreutils `timeout` exits with 124 when it stopped the binary, 137 when it
                // had to SIGKILL it (as the OOM killer would).
                Some(124) => problems.push(format!(
                    "{} timed out after {} s (--binary-timeout)",
                    self.label(index),
                    args.binary_timeout
                )),
                Some(137) => problems.push(format!(
                    "{} was killed (SIGKILL: --binary-timeout or out of memory)",
                    self.label(index)
                )),
                Some(code) => problems.push(format!("{} failed (exit {code})", self.label(index))),
                None if ended.status.is_some() && self.done => {
                    problems.push(format!("{} left no exit code", self.label(index)));
                }
                None => problems.push(format!("{} did not finish", self.label(index))),
            }
        }
        if self.tally.passed + self.tally.failed == 0 {
            problems.push("no test ran".to_owned());
        }
        if problems.is_empty() {
            return Ok(());
        }
        for problem in &problems {
            eprintln!("vm-test: {problem}");
        }
        bail!("vm-test failed: {}", problems.join("; "))
    }
}

/// Quotes `s` for a POSIX shell: `'…'`, with each `'` written `'\''`.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests;
