//! `cargo xtask bench engine`: `peapod` against `podman` (Debian's 4.3) and `docker` (Debian's
//! `docker.io` 20.10), side by side in one run, with the busybox fixture's docker-archive
//! loaded into each, and `peapod-oci run` of the same rootfs as the runtime's floor.
//!
//! - `run --rm --network none busybox true`, sequential, round-robin over the tools;
//! - the same, 32 at once (a barrier releases them together): p50 and p99 of the latencies,
//!   and the wall time of the batch;
//! - the idle RSS of the per-container monitor: peapod's `__peapod-monitor`, podman's conmon,
//!   docker's containerd-shim-runc-v2, read 3 s after a detached `sleep` started (peapod's
//!   monitor trims its code pages after 1 s idle);
//! - scale, peapod and podman: `--scale N` (500) detached `sleep`s started 32 at a time and left
//!   running; the median `run -d` of the first 20 and of the last 20, `ps -a` and
//!   `ps -a --format json` with all of them, the monitors' total RSS (and PSS: their shared
//!   pages counted once), then one `rm -f` of them all.
//!
//! Everything lives on a tmpfs at [`DIR`] (a short path: podman refuses a run root of 50
//! characters or more; this VM's root ext4 has no journal). dockerd runs privately (its own
//! data root, exec root, socket and config; `--iptables=false --bridge=none`, cgroupfs) and
//! is stopped by pid afterwards; each tool's containers go under a cgroup parent of the
//! benchmark's own, removed at the end with every container, mount and process it made.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod peers;

use peers::Peers;

use crate::bench::{CgroupWarmer, Contender, busybox_bundle, oci_run, percentiles, time_one};
use crate::util::{output, run_command, target_dir};

/// The benchmark's tmpfs.
const DIR: &str = "/run/peapod-bench-engine";
/// The cgroup the benchmark moves itself into before each timed sequential run.
const WARM_CGROUP: &str = "peapod-bench-engine-warm";
/// How many `run --rm` go at once in the parallel part, and how many `run -d` in the scale one.
const WIDTH: usize = 32;
/// The image, as each tool names what it loaded from the fixture's docker-archive.
const IMAGE: &str = "busybox:latest";

/// One engine's command line: the program and its global flags, and what `run` needs besides.
#[derive(Clone)]
struct Tool {
    name: &'static str,
    program: PathBuf,
    global: Vec<OsString>,
    run_flags: Vec<String>,
    /// What `rm -f` needs besides, to kill at once as docker's does.
    rm_flags: Vec<String>,
    /// What marks its monitor processes' command lines (besides the container id).
    monitor: &'static str,
}

impl Tool {
    fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.global);
        cmd
    }

    /// `run --rm|-d --network none FLAGS busybox ARGS`.
    fn run(&self, detach: bool, args: &[&str]) -> Command {
        let mut cmd = self.cmd();
        cmd.args(["run", if detach { "-d" } else { "--rm" }])
            .args(["--network", "none"])
            .args(&self.run_flags)
            .arg(IMAGE)
            .args(args);
        cmd
    }

    fn contender(&self) -> Contender {
        let tool = self.clone();
        Contender {
            name: self.name,
            command: Box::new(move |_| tool.run(false, &["true"])),
        }
    }

    /// `rm -f IDS`, quietly.
    fn rm(&self, ids: &[String]) -> Result<()> {
        output(self.cmd().args(["rm", "-f"]).args(&self.rm_flags).args(ids))?;
        Ok(())
    }

    /// Ids of all its containers.
    fn all_ids(&self) -> Result<Vec<String>> {
        let out = output(self.cmd().args(["ps", "-aq", "--no-trunc"]))?;
        Ok(out.lines().map(str::to_owned).collect())
    }
}

pub(crate) fn run(runs: usize, scale: usize) -> Result<()> {
    let dir = Path::new(DIR);
    std::fs::create_dir_all(dir)?;
    run_command(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16g", "peapod-bench-engine"])
            .arg(dir),
    )?;
    let mut peers = Peers::default();
    let result = run_in(dir, runs, scale, &mut peers);
    peers.clean(dir);
    let _ = Command::new("umount").arg("-l").arg(dir).status();
    let _ = std::fs::remove_dir(dir);
    result
}

fn run_in(dir: &Path, runs: usize, scale: usize, peers: &mut Peers) -> Result<()> {
    let release = crate::dist::release_dir()?;
    let archive = target_dir().join("fixtures/busybox/docker-archive.tar");
    let peapod = Tool {
        name: "peapod",
        program: release.join("peapod"),
        global: vec![
            "--root".into(),
            dir.join("peapod").into(),
            "--runroot".into(),
            dir.join("peapod-run").into(),
        ],
        run_flags: vec!["--cgroup-parent".into(), "/peapod-bench-engine".into()],
        rm_flags: Vec::new(),
        monitor: "__peapod-monitor",
    };
    let podman = Tool {
        name: "podman",
        program: "podman".into(),
        global: crate::bench::podman_global(DIR)
            .into_iter()
            .map(OsString::from)
            .collect(),
        run_flags: [
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
            "--cgroup-parent",
            "/peapod-bench-podman",
        ]
        .map(String::from)
        .to_vec(),
        // podman 4.3's `rm -f` stops first, waiting the stop timeout (10 s) for a `sleep`.
        rm_flags: vec!["-t".into(), "0".into()],
        monitor: "conmon",
    };
    let docker = peers.start_docker(dir)?;
    peers.tools = vec![peapod.clone(), podman.clone(), docker.clone()];
    for tool in &peers.tools {
        run_command(tool.cmd().args(["load", "-q", "-i"]).arg(&archive))?;
    }
    let oci = release.join("peapod-oci");
    let bundle = busybox_bundle(&dir.join("oci"), &oci, &["/bin/true"])?;
    let floor = oci_run("peapod-oci run", oci, bundle, dir.join("oci-state"));
    let contenders = vec![
        floor,
        peapod.contender(),
        podman.contender(),
        docker.contender(),
    ];
    for c in &contenders {
        output(&mut (c.command)(usize::MAX))
            .with_context(|| format!("{} cannot run busybox", c.name))?;
    }
    let sequential = sequential(&contenders, runs)?;
    let rounds = (runs / 10).clamp(2, 5);
    let parallel = parallel(&contenders, rounds)?;
    print_speed(&contenders, &sequential, &parallel, runs, rounds);
    let idle = [&peapod, &podman, &docker]
        .into_iter()
        .map(idle_monitor)
        .collect::<Result<Vec<_>>>()?;
    println!("\nIdle monitor RSS, 3 s after `run -d busybox sleep`");
    for (tool, (rss, pss)) in [&peapod, &podman, &docker].iter().zip(&idle) {
        println!(
            "{:<8} {:<24} {:>8.2} MiB RSS {:>8.2} MiB PSS",
            tool.name,
            tool.monitor,
            mib(*rss),
            mib(*pss)
        );
    }
    if scale > 0 {
        let rows = [&peapod, &podman]
            .into_iter()
            .map(|t| scale_test(t, scale))
            .collect::<Result<Vec<_>>>()?;
        print_scale(&[peapod.name, podman.name], &rows, scale);
    }
    Ok(())
}

/// `runs` lifecycles each (after 3 warm-up ones), round-robin, the cgroup warm before each.
fn sequential(contenders: &[Contender], runs: usize) -> Result<Vec<Vec<Duration>>> {
    let warm = CgroupWarmer::new(WARM_CGROUP)?;
    let mut samples = vec![Vec::new(); contenders.len()];
    for i in 0..runs + 3 {
        for (c, out) in contenders.iter().zip(samples.iter_mut()) {
            warm.touch()?;
            let t = time_one(c, i)?;
            if i >= 3 {
                out.push(t);
            }
        }
    }
    Ok(samples)
}

/// Per contender: every latency of `rounds` batches of [`WIDTH`] at once, and the median
/// wall time of a batch.
fn parallel(contenders: &[Contender], rounds: usize) -> Result<Vec<(Vec<Duration>, Duration)>> {
    let mut out = vec![(Vec::new(), Duration::ZERO); contenders.len()];
    let mut walls = vec![Vec::new(); contenders.len()];
    for round in 0..rounds {
        for (k, c) in contenders.iter().enumerate() {
            let commands = (0..WIDTH)
                .map(|j| (c.command)(10_000 + round * WIDTH + j))
                .collect();
            let started = Instant::now();
            out[k].0.extend(batch(c.name, commands)?);
            walls[k].push(started.elapsed());
        }
    }
    for (o, w) in out.iter_mut().zip(&walls) {
        let mut w = w.clone();
        w.sort();
        o.1 = w[w.len() / 2];
    }
    Ok(out)
}

/// Runs `commands` at once (released together by a barrier); their latencies.
fn batch(name: &str, commands: Vec<Command>) -> Result<Vec<Duration>> {
    let barrier = Barrier::new(commands.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = commands
            .into_iter()
            .map(|mut cmd| {
                let barrier = &barrier;
                s.spawn(move || {
                    cmd.stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped());
                    barrier.wait();
                    let started = Instant::now();
                    let out = cmd.output()?;
                    if !out.status.success() {
                        bail!("{name} failed: {}", String::from_utf8_lossy(&out.stderr));
                    }
                    Ok(started.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(_) => bail!("a {name} thread panicked"),
            })
            .collect()
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The p-th percentile (0–1) of `samples`, in ms.
fn quantile(samples: &[Duration], q: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms.get(((ms.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

fn print_speed(
    contenders: &[Contender],
    sequential: &[Vec<Duration>],
    parallel: &[(Vec<Duration>, Duration)],
    runs: usize,
    rounds: usize,
) {
    let med: Vec<f64> = sequential.iter().map(|s| percentiles(s).0).collect();
    let (floor, podman) = (med[0], med[2]);
    println!(
        "\n`run --rm --network none busybox true`: {runs} sequential each (round-robin), \
         then {rounds} batches of {WIDTH} at once"
    );
    println!(
        "{:<16} {:>9} {:>8} {:>8} {:>9} {:>9} | {:>8} {:>8} {:>7} {:>9}",
        "",
        "median ms",
        "p90 ms",
        "x oci",
        "x podman",
        "x docker",
        "32: p50",
        "p99",
        "p99/50",
        "batch ms"
    );
    for (k, c) in contenders.iter().enumerate() {
        let (m, _, p90) = percentiles(&sequential[k]);
        let (p50, p99) = (
            quantile(&parallel[k].0, 0.5),
            quantile(&parallel[k].0, 0.99),
        );
        println!(
            "{:<16} {m:>9.1} {p90:>8.1} {:>8.2} {:>9.3} {:>9.3} | {p50:>8.1} {p99:>8.1} {:>7.2} {:>9.0}",
            c.name,
            m / floor,
            m / podman,
            m / med[3],
            p99 / p50,
            parallel[k].1.as_secs_f64() * 1000.0
        );
    }
    println!(
        "peapod's own work (peapod − peapod-oci run): {:.1} ms = {:.2}× the runtime's",
        med[1] - floor,
        (med[1] - floor) / floor
    );
}

/// Starts one detached `sleep`, waits 3 s, reads its monitor's RSS and PSS (KiB); removes it.
fn idle_monitor(tool: &Tool) -> Result<(u64, u64)> {
    let id = output(&mut tool.run(true, &["sleep", "100000"]))?
        .trim()
        .to_owned();
    std::thread::sleep(Duration::from_secs(3));
    let found = monitors(tool, Some(&id));
    tool.rm(std::slice::from_ref(&id))?;
    match found?.as_slice() {
        [one] => Ok(*one),
        other => bail!(
            "{}: expected one {} for container {id}, found {}",
            tool.name,
            tool.monitor,
            other.len()
        ),
    }
}

/// RSS and PSS (KiB) of each of `tool`'s monitor processes (of container `id`, or of all the
/// benchmark's), from /proc.
fn monitors(tool: &Tool, id: Option<&str>) -> Result<Vec<(u64, u64)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let path = entry?.path();
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours = args.first().is_some_and(|a| a.ends_with(tool.monitor))
            || args.get(1).is_some_and(|a| a == tool.monitor);
        let matches = |s: &str| args.iter().any(|a| a.contains(s));
        if !ours || !id.map_or(matches(DIR), matches) {
            continue;
        }
        let field = |file: &str, key: &str| -> Option<u64> {
            let text = std::fs::read_to_string(path.join(file)).ok()?;
            let line = text.lines().find(|l| l.starts_with(key))?;
            line[key.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        if let (Some(rss), Some(pss)) = (field("status", "VmRSS:"), field("smaps_rollup", "Pss:")) {
            found.push((rss, pss));
        }
    }
    Ok(found)
}

/// The scale figures of one tool, in ms and KiB.
struct ScaleRow {
    first: f64,
    last: f64,
    ps: f64,
    ps_json: f64,
    rss: u64,
    pss: u64,
    rm: f64,
}

/// `n` detached sleeps, [`WIDTH`] at a time; `ps`; the monitors' memory; `rm -f` of all.
fn scale_test(tool: &Tool, n: usize) -> Result<ScaleRow> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WIDTH.min(n) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let started = Instant::now();
                    let out = tool.run(true, &["sleep", "100000"]).output();
                    let took = started.elapsed();
                    if let Ok(mut d) = done.lock() {
                        d.push((i, took, out));
                    }
                }
            });
        }
    });
    let mut done = done
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a scale thread panicked"))?;
    done.sort_by_key(|d| d.0);
    let mut times = Vec::new();
    for (i, took, out) in done {
        let out = out.with_context(|| format!("cannot start {}", tool.name))?;
        if !out.status.success() {
            bail!(
                "{} run -d #{i} failed: {}",
                tool.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        times.push(took);
    }
    let k = 20.min(n);
    let (first, last) = (percentiles(&times[..k]).0, percentiles(&times[n - k..]).0);
    let listed = output(tool.cmd().args(["ps", "-a"]))?.lines().count();
    if listed != n + 1 {
        bail!(
            "{} ps -a listed {} containers, not {n}",
            tool.name,
            listed - 1
        );
    }
    let time_ps = |json: bool| -> Result<f64> {
        let mut t = Vec::new();
        for _ in 0..5 {
            let mut cmd = tool.cmd();
            cmd.args(["ps", "-a"]);
            if json {
                cmd.args(["--format", "json"]);
            }
            let started = Instant::now();
            output(&mut cmd)?;
            t.push(started.elapsed());
        }
        Ok(percentiles(&t).0)
    };
    let (ps, ps_json) = (time_ps(false)?, time_ps(true)?);
    std::thread::sleep(Duration::from_secs(3));
    let mons = monitors(tool, None)?;
    if mons.len() != n {
        bail!(
            "{}: {} {} processes for {n} containers",
            tool.name,
            mons.len(),
            tool.monitor
        );
    }
    let ids = tool.all_ids()?;
    let started = Instant::now();
    tool.rm(&ids)?;
    let rm = started.elapsed().as_secs_f64() * 1000.0;
    if !tool.all_ids()?.is_empty() {
        bail!("{} rm -f left containers behind", tool.name);
    }
    Ok(ScaleRow {
        first,
        last,
        ps,
        ps_json,
        rss: mons.iter().map(|m| m.0).sum(),
        pss: mons.iter().map(|m| m.1).sum(),
        rm,
    })
}

fn print_scale(names: &[&str], rows: &[ScaleRow], n: usize) {
    println!(
        "\nScale: {n} detached `sleep`s, {WIDTH} at a time, left running; then `rm -f` of all"
    );
    println!(
        "{:<8} {:>12} {:>11} {:>6} {:>8} {:>10} {:>11} {:>11} {:>9}",
        "", "run -d 1-20", "last 20", "x", "ps -a", "ps json", "mon. RSS", "mon. PSS", "rm -f"
    );
    for (name, r) in names.iter().zip(rows) {
        println!(
            "{name:<8} {:>9.1} ms {:>8.1} ms {:>6.2} {:>5.0} ms {:>7.0} ms {:>7.1} MiB {:>7.1} MiB {:>6.1} s",
            r.first,
            r.last,
            r.last / r.first,
            r.ps,
            r.ps_json,
            mib(r.rss),
            mib(r.pss),
            r.rm / 1000.0
        );
    }
}
