//! `cargo xtask bench runtime`: peapod-oci against crun and runc (Debian's packages) and the
//! bare floor, side by side in one run, on a busybox bundle running `/bin/true`.
//!
//! Each runtime does a whole lifecycle per iteration with its `run` verb (create, start,
//! wait, delete). Iterations go round-robin over the runtimes, so a noisy moment hits all of
//! them alike; the report is medians, their ratios to the floor and to crun, and the peak
//! RSS of each runtime's process tree. The RSS comes from `wait4` in a tiny static C probe
//! (built here with `cc`): a child forked from this process would start with this process's
//! own resident pages and report at least that much. crun 1.8 refuses a cgroup v1 hybrid
//! host, so everything runs in a private mount namespace with `/sys/fs/cgroup/unified`
//! unmounted, the same for all.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::util::{cargo, is_root, run_command, target_dir};
use crate::{deps, fixtures};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What to measure.
    #[arg(value_enum)]
    what: What,
    /// Measured iterations per runtime (after 5 warm-up ones).
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// Internal: already inside the private mount namespace.
    #[arg(long, hide = true)]
    inner: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum What {
    /// The OCI lifecycle of /bin/true: peapod-oci, crun, runc, and the unshare floor.
    Runtime,
}

/// One contender: how to run one lifecycle.
struct Contender {
    name: &'static str,
    command: Box<dyn Fn(usize) -> Command>,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    if !is_root() {
        bail!("the benchmark runs containers and needs root");
    }
    if !args.inner {
        deps::ensure()?;
        run_command(cargo().args(["build", "--release", "--quiet", "--package", "peapod-cli"]))?;
        fixtures::build_default()?;
        let exe = std::env::current_exe().context("cannot find the xtask binary")?;
        // Re-run ourselves in a private mount namespace, where unmounting the unified
        // hierarchy affects nobody else.
        return run_command(
            Command::new("unshare")
                .args(["--mount", "--propagation", "private", "--"])
                .arg(exe)
                .args([
                    "bench",
                    "runtime",
                    "--inner",
                    "--runs",
                    &args.runs.to_string(),
                ]),
        );
    }
    let What::Runtime = args.what;
    if Path::new("/sys/fs/cgroup/unified").exists() {
        let _ = Command::new("umount")
            .arg("/sys/fs/cgroup/unified")
            .status();
    }
    let dir = target_dir().join("bench");
    let bundle = busybox_bundle(&dir)?;
    let peapod = target_dir().join("release/peapod-oci");
    let contenders = contenders(&peapod, &bundle, &dir);
    for c in &contenders {
        check_runs(c)?;
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for i in 0..args.runs + 5 {
        for (c, out) in contenders.iter().zip(samples.iter_mut()) {
            let sample = time_one(c, i)?;
            if i >= 5 {
                out.push(sample);
            }
        }
    }
    let probe = rss_probe(&dir)?;
    let rss = contenders
        .iter()
        .map(|c| {
            (0..5)
                .map(|i| peak_rss(&probe, c, 1_000_000 + i))
                .try_fold(0, |m, r| r.map(|r| m.max(r)))
        })
        .collect::<Result<Vec<i64>>>()?;
    report(&contenders, &samples, &rss, args.runs);
    Ok(())
}

/// The probe: fork, exec its arguments, wait4, print the child's peak RSS (KiB) on stderr.
const RSS_PROBE_C: &str = r#"#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) { execvp(argv[1], argv + 1); _exit(127); }
    int status; struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return 2;
    fprintf(stderr, "%ld\n", ru.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
"#;

fn rss_probe(dir: &Path) -> Result<PathBuf> {
    let source = dir.join("rss-probe.c");
    let probe = dir.join("rss-probe");
    std::fs::write(&source, RSS_PROBE_C)?;
    run_command(
        Command::new("cc")
            .args(["-static", "-Os", "-o"])
            .arg(&probe)
            .arg(&source),
    )
    .context("cannot build the RSS probe (needs gcc and glibc's static libraries)")?;
    Ok(probe)
}

/// The peak RSS (KiB) of one lifecycle's process tree, through the probe.
fn peak_rss(probe: &Path, c: &Contender, i: usize) -> Result<i64> {
    let cmd = (c.command)(i);
    let out = Command::new(probe)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot start the RSS probe for {}", c.name))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{} failed under the RSS probe: {}", c.name, stderr.trim());
    }
    stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .context("the RSS probe printed no number")
}

fn contenders(peapod: &Path, bundle: &Path, dir: &Path) -> Vec<Contender> {
    let oci = |name: &'static str, program: PathBuf| {
        let (bundle, root) = (bundle.to_path_buf(), dir.join(format!("state-{name}")));
        Contender {
            name,
            command: Box::new(move |i| {
                let mut cmd = Command::new(&program);
                cmd.arg("--root")
                    .arg(&root)
                    .args(["run", "--bundle"])
                    .arg(&bundle)
                    .arg(format!("bench-{i}"));
                cmd
            }),
        }
    };
    vec![
        Contender {
            name: "floor (unshare)",
            command: Box::new(|_| {
                let mut cmd = Command::new("unshare");
                cmd.args([
                    "--fork",
                    "--pid",
                    "--mount",
                    "--uts",
                    "--ipc",
                    "--net",
                    "--mount-proc",
                    "/bin/true",
                ]);
                cmd
            }),
        },
        oci("peapod-oci", peapod.to_path_buf()),
        oci("crun", PathBuf::from("/usr/bin/crun")),
        oci("runc", PathBuf::from("/usr/sbin/runc")),
    ]
}

/// One lifecycle must succeed before any is timed.
fn check_runs(c: &Contender) -> Result<()> {
    let out = (c.command)(usize::MAX)
        .output()
        .with_context(|| format!("cannot start {}", c.name))?;
    if !out.status.success() {
        bail!(
            "{} cannot run the bundle: {}",
            c.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Wall time of one lifecycle.
fn time_one(c: &Contender, i: usize) -> Result<Duration> {
    let mut cmd = (c.command)(i);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", c.name))?;
    let mut child = child;
    let status = child.wait()?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("{} run {i} failed: {status}", c.name);
    }
    Ok(elapsed)
}

fn report(contenders: &[Contender], samples: &[Vec<Duration>], rss: &[i64], runs: usize) {
    let median = |s: &[Duration]| {
        let mut ms: Vec<f64> = s.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.1), at(0.9))
    };
    let stats: Vec<(f64, f64, f64)> = samples.iter().map(|s| median(s)).collect();
    let floor = stats[0].0;
    let crun = contenders
        .iter()
        .position(|c| c.name == "crun")
        .map_or(f64::NAN, |i| stats[i].0);
    println!("\nOCI lifecycle of /bin/true in a busybox bundle ({runs} runs each, round-robin)");
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>9} {:>9} {:>12}",
        "", "median ms", "p10 ms", "p90 ms", "x floor", "x crun", "peak RSS"
    );
    for ((c, (med, p10, p90)), rss) in contenders.iter().zip(&stats).zip(rss) {
        println!(
            "{:<16} {med:>10.2} {p10:>10.2} {p90:>10.2} {:>9.2} {:>9.2} {:>9.1} MiB",
            c.name,
            med / floor,
            med / crun,
            *rss as f64 / 1024.0
        );
    }
}

/// A busybox bundle (from the fixture) whose process is /bin/true, made fresh.
fn busybox_bundle(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    let image = format!(
        "{}:latest",
        target_dir().join("fixtures/busybox/oci").display()
    );
    run_command(
        Command::new("umoci")
            .args(["raw", "unpack", "--image", &image])
            .arg(bundle.join("rootfs")),
    )?;
    run_command(
        Command::new(target_dir().join("release/peapod-oci"))
            .args(["spec", "--bundle"])
            .arg(&bundle),
    )?;
    let path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    config["process"]["args"] = json!(["/bin/true"]);
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(bundle)
}
