//! `cargo xtask bench runtime`: peapod-oci against crun and runc (Debian's packages) and the
//! bare floor, side by side in one run, on a busybox bundle running `/bin/true`.
//!
//! Each runtime does a whole lifecycle per iteration with its `run` verb (create, start,
//! wait, delete). Iterations go round-robin over the runtimes, so a noisy moment hits all of
//! them alike; the report is medians, their ratios to the floor and to crun, and the peak
//! RSS of each runtime's process tree. The RSS comes from `wait4` in a tiny static C probe
//! (built here with `cc`): a child forked from this process would start with this process's
//! own resident pages and report at least that much. peapod-oci is the shipped build
//! (`cargo xtask dist`).
//!
//! The same conditions for all, in a private mount namespace: crun 1.8 refuses a cgroup v1
//! hybrid host, so `/sys/fs/cgroup/unified` is unmounted there; the runtimes keep their
//! state on a tmpfs, as under /run in production. On cgroup v1 the first process moved into
//! a cgroup after ~20 ms without one waits for an RCU grace period (12–15 ms here), in every
//! runtime; which runtime pays it would depend on the order of the round, so each timed
//! lifecycle starts right after a move of our own, and that cold start is measured apart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::util::{is_root, run_command, target_dir};
use crate::{deps, dist, fixtures};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What to measure.
    #[arg(value_enum)]
    what: What,
    /// Measured iterations per runtime (after 5 warm-up ones; `image`: at most 20, `engine`:
    /// at most 50 sequential, and a tenth of them, 2 to 5, parallel batches).
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// `engine`: how many containers the scale part starts (0: none).
    #[arg(long, default_value_t = 500)]
    scale: usize,
    /// Internal: already inside the private mount namespace.
    #[arg(long, hide = true)]
    inner: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum What {
    /// The OCI lifecycle of /bin/true: peapod-oci, crun, runc, and the unshare floor.
    Runtime,
    /// Pull (gzip, zstd) and load of the debian fixture: peapod, podman, and a curl | tar floor.
    Image,
    /// `ctr run --rm` and `docker run --rm` of busybox `true` with runc, crun and peapod-oci.
    Clients,
    /// `run --rm` sequential and 32 at once, monitor RSS, scale: peapod, podman, docker.
    Engine,
    /// `pod create` + `pod rm`, and a pod of three containers: peapod, podman.
    Pod,
    /// `build` of a 6-step Containerfile, uncached and cached: peapod, podman.
    Build,
    /// Network set-up time and bridge throughput in a fake host: peapod, podman, docker.
    Net,
}

/// podman's global flags for a benchmark whose state lives under `dir` (a short path: podman
/// refuses a run root of 50 characters or more): its own root, run root and tmp dir, overlay,
/// cgroupfs, file events, and runc (crun 1.8, podman's default, refuses this hybrid host).
pub(crate) fn podman_global(dir: &str) -> Vec<String> {
    [
        "--root",
        &format!("{dir}/podman"),
        "--runroot",
        &format!("{dir}/podman-run"),
        "--tmpdir",
        &format!("{dir}/podman-tmp"),
        "--storage-driver",
        "overlay",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
        "--runtime",
        "runc",
    ]
    .map(String::from)
    .to_vec()
}

/// One contender: how to run one lifecycle.
pub(crate) struct Contender {
    pub(crate) name: &'static str,
    pub(crate) command: Box<dyn Fn(usize) -> Command>,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    if !is_root() {
        bail!("the benchmark runs containers and needs root");
    }
    if args.what == What::Image {
        deps::ensure()?;
        dist::build()?;
        let dir = fixtures::build_default()?;
        fixtures::debian::ensure(&dir)?;
        return crate::bench_image::run(args.runs.min(20));
    }
    if args.what == What::Pod {
        deps::ensure()?;
        dist::build()?;
        fixtures::build_default()?;
        return crate::bench_pod::run(args.runs.min(30));
    }
    if args.what == What::Build {
        deps::ensure()?;
        return crate::bench_build::run(args.runs.min(10));
    }
    if args.what == What::Net {
        deps::ensure()?;
        dist::build()?;
        fixtures::build_default()?;
        return crate::bench_net::run(args.runs.min(30));
    }
    if args.what == What::Engine {
        deps::ensure()?;
        dist::build()?;
        fixtures::build_default()?;
        return crate::bench_engine::run(args.runs.min(50), args.scale);
    }
    if !args.inner {
        deps::ensure()?;
        dist::build()?;
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
                    if args.what == What::Clients {
                        "clients"
                    } else {
                        "runtime"
                    },
                    "--inner",
                    "--runs",
                    &args.runs.to_string(),
                ]),
        );
    }
    if Path::new("/sys/fs/cgroup/unified").exists() {
        let _ = Command::new("umount")
            .arg("/sys/fs/cgroup/unified")
            .status();
    }
    if args.what == What::Clients {
        return crate::bench_clients::run(args.runs.min(30));
    }
    let dir = target_dir().join("bench");
    let peapod = dist::release_dir()?.join("peapod-oci");
    let bundle = busybox_bundle(&dir, &peapod, &["/bin/true"])?;
    let state = dir.join("state");
    std::fs::create_dir_all(&state)?;
    run_command(
        Command::new("mount")
            .args(["-t", "tmpfs", "bench-state"])
            .arg(&state),
    )?;
    let contenders = contenders(&peapod, &bundle, &state);
    for c in &contenders {
        check_runs(c)?;
    }
    let warm = CgroupWarmer::new("peapod-bench")?;
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for i in 0..args.runs + 5 {
        for (c, out) in contenders.iter().zip(samples.iter_mut()) {
            warm.touch()?;
            let sample = time_one(c, i)?;
            if i >= 5 {
                out.push(sample);
            }
        }
    }
    let cold_runs = (args.runs / 5).max(3);
    let mut cold: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for i in 0..cold_runs {
        for (c, out) in contenders.iter().zip(cold.iter_mut()) {
            std::thread::sleep(Duration::from_millis(60));
            out.push(time_one(c, 2_000_000 + i)?);
        }
    }
    drop(warm);
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
    report_cold(&contenders, &cold);
    Ok(())
}

/// A cgroup of the benchmark's own (in the v1 pids hierarchy, or the v2 one) whose
/// `cgroup.procs` it writes its pid to right before each timed lifecycle, so that none of
/// them waits for the grace period a cold move into a cgroup costs. Removed on drop.
pub(crate) struct CgroupWarmer {
    base: PathBuf,
    dir: PathBuf,
}

impl CgroupWarmer {
    /// The cgroup `name` (one per benchmark, so that two never share one).
    pub(crate) fn new(name: &str) -> Result<Self> {
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let base = if v1.is_dir() {
            v1.to_path_buf()
        } else {
            PathBuf::from("/sys/fs/cgroup")
        };
        let dir = base.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
        Ok(Self { base, dir })
    }

    pub(crate) fn touch(&self) -> Result<()> {
        std::fs::write(
            self.dir.join("cgroup.procs"),
            std::process::id().to_string(),
        )
        .with_context(|| format!("cannot move the benchmark into {}", self.dir.display()))
    }
}

impl Drop for CgroupWarmer {
    /// Back to the root cgroup, and the directory goes.
    fn drop(&mut self) {
        let _ = std::fs::write(
            self.base.join("cgroup.procs"),
            std::process::id().to_string(),
        );
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn report_cold(contenders: &[Contender], samples: &[Vec<Duration>]) {
    println!(
        "\nCold start, 60 ms after the last move into a cgroup ({} runs each): median ms",
        samples.first().map_or(0, Vec::len)
    );
    for (c, s) in contenders.iter().zip(samples) {
        println!("{:<16} {:>10.2}", c.name, percentiles(s).0);
    }
}

/// Median, p10 and p90 of `samples`, in ms.
pub(crate) fn percentiles(samples: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.1), at(0.9))
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

pub(crate) fn rss_probe(dir: &Path) -> Result<PathBuf> {
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
pub(crate) fn peak_rss(probe: &Path, c: &Contender, i: usize) -> Result<i64> {
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

fn contenders(peapod: &Path, bundle: &Path, state: &Path) -> Vec<Contender> {
    let oci = |name: &'static str, program: PathBuf| {
        oci_run(name, program, bundle.to_path_buf(), state.join(name))
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

/// An OCI runtime's `run` of `bundle` (container `bench-<i>`), its state in `root`.
pub(crate) fn oci_run(
    name: &'static str,
    program: PathBuf,
    bundle: PathBuf,
    root: PathBuf,
) -> Contender {
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
pub(crate) fn time_one(c: &Contender, i: usize) -> Result<Duration> {
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
    let stats: Vec<(f64, f64, f64)> = samples.iter().map(|s| percentiles(s)).collect();
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

/// A busybox bundle (from the fixture) in `dir`, made fresh, whose process is `args`.
pub(crate) fn busybox_bundle(dir: &Path, peapod: &Path, args: &[&str]) -> Result<PathBuf> {
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
    run_command(Command::new(peapod).args(["spec", "--bundle"]).arg(&bundle))?;
    let path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    config["process"]["args"] = json!(args);
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(bundle)
}
