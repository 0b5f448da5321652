//! `cargo xtask bench pod`: `peapod pod` against `podman pod` (Debian's 4.3), side by side in
//! one run, round-robin, the busybox fixture's docker-archive loaded into each:
//!
//! - `pod create` + `pod rm` of an empty pod (podman's infra is made from its pause image,
//!   built on first use from Debian's catatonit; peapod's infra is its own binary);
//! - a pod with three containers: `pod create`, three `run -d --pod P busybox sleep 1000`,
//!   `pod rm -f P` (podman with `-t 0`, so that neither waits a stop timeout).
//!
//! - the idle RSS of what holds a pod's namespaces: peapod's infra process, podman's infra
//!   container (catatonit) with its conmon.
//!
//! Medians, p10/p90 and the peapod/podman ratio are printed. Everything lives on a tmpfs at
//! [`DIR`]; each tool's pods go under a cgroup parent of the benchmark's, removed at the end
//! with every process and mount it made.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::percentiles;
use crate::util::{run_command, target_dir};

/// The benchmark's tmpfs (short: podman refuses long run roots).
const DIR: &str = "/run/peapod-bench-pod";
/// The cgroup parents of the two tools' pods.
const CGROUPS: [&str; 2] = ["peapod-bench-pod", "peapod-bench-podpm"];

/// One engine: its program and global flags, and what `pod create`/`pod rm` need besides.
struct Tool {
    name: &'static str,
    program: PathBuf,
    global: Vec<OsString>,
    create_flags: Vec<&'static str>,
    /// Its environment (podman: `CONTAINERS_CONF`).
    env: Vec<(&'static str, String)>,
    /// What `pod rm -f` needs besides (podman: `-t 0`, not to wait a stop timeout).
    rm_flags: Vec<&'static str>,
}

impl Tool {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.global).args(args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    fn check(&self, args: &[&str]) -> Result<()> {
        let out = self
            .cmd(args)
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("cannot run {}", self.name))?;
        if !out.status.success() {
            bail!(
                "{} {args:?}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// One empty pod made and removed.
    fn empty_pod(&self, name: &str) -> Result<Duration> {
        let started = Instant::now();
        let mut create = vec!["pod", "create", "--name", name];
        create.extend(&self.create_flags);
        self.check(&create)?;
        self.check(&["pod", "rm", name])?;
        Ok(started.elapsed())
    }

    /// A pod of three `sleep`s made, started and removed.
    fn three_pod(&self, name: &str) -> Result<Duration> {
        let started = Instant::now();
        let mut create = vec!["pod", "create", "--name", name];
        create.extend(&self.create_flags);
        self.check(&create)?;
        for _ in 0..3 {
            self.check(&[
                "run",
                "-d",
                "--pod",
                name,
                "busybox:latest",
                "sleep",
                "1000",
            ])?;
        }
        let mut rm = vec!["pod", "rm", "-f"];
        rm.extend(&self.rm_flags);
        rm.push(name);
        self.check(&rm)?;
        Ok(started.elapsed())
    }
}

pub(crate) fn run(runs: usize) -> Result<()> {
    let dir = Path::new(DIR);
    std::fs::create_dir_all(dir)?;
    run_command(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4g", "peapod-bench-pod"])
            .arg(dir),
    )?;
    let result = run_in(dir, runs);
    clean();
    let _ = Command::new("umount").arg("-l").arg(dir).status();
    let _ = std::fs::remove_dir(dir);
    result
}

fn run_in(dir: &Path, runs: usize) -> Result<()> {
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
        // As podman's below: the pods are compared without a network.
        create_flags: vec!["--cgroup-parent", "/peapod-bench-pod", "--network", "none"],
        rm_flags: Vec::new(),
        env: Vec::new(),
    };
    // This machine's hard open-files limit (20000) is below podman's default rlimits, which
    // its infra container gets too (README, "Driving peapod-oci from podman").
    let conf = dir.join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n",
    )?;
    let podman = Tool {
        name: "podman",
        program: "podman".into(),
        global: crate::bench::podman_global(DIR)
            .into_iter()
            .map(OsString::from)
            .collect(),
        create_flags: vec![
            "--cgroup-parent",
            "/peapod-bench-podpm",
            "--network",
            "none",
        ],
        rm_flags: vec!["-t", "0"],
        env: vec![("CONTAINERS_CONF", conf.display().to_string())],
    };
    let tools = [peapod, podman];
    for tool in &tools {
        run_command(
            Command::new(&tool.program)
                .args(&tool.global)
                .args(["load", "-q", "-i"])
                .arg(&archive),
        )?;
        // Warm-up: podman builds its pause image on the first pod.
        tool.empty_pod("warm")?;
        tool.three_pod("warm3")?;
    }
    let mut empty: [Vec<Duration>; 2] = Default::default();
    let mut three: [Vec<Duration>; 2] = Default::default();
    for i in 0..runs {
        for (t, tool) in tools.iter().enumerate() {
            empty[t].push(tool.empty_pod(&format!("e{i}"))?);
        }
    }
    for i in 0..runs.div_ceil(2) {
        for (t, tool) in tools.iter().enumerate() {
            three[t].push(tool.three_pod(&format!("t{i}"))?);
        }
    }
    println!(
        "\nPods, round-robin ({runs} empty pods, {} pods of three each)",
        runs.div_ceil(2)
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10}",
        "", "median ms", "p10 ms", "p90 ms", "x podman"
    );
    for (label, samples) in [
        ("pod create + pod rm", &empty),
        ("pod of 3: create, run -d x3, rm -f", &three),
    ] {
        let podman = percentiles(&samples[1]).0;
        for (tool, s) in tools.iter().zip(samples.iter()) {
            let (med, p10, p90) = percentiles(s);
            println!(
                "{:<34} {med:>10.2} {p10:>10.2} {p90:>10.2} {:>10.3}",
                format!("{label} ({})", tool.name),
                med / podman
            );
        }
    }
    infra_rss(&tools)?;
    Ok(())
}

/// The RSS (KiB) of a process, from `/proc/PID/status`.
fn rss_kib(pid: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim()))
        .with_context(|| format!("no process {}", pid.trim()))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// What holds an idle pod's namespaces, 3 s after it started: peapod's infra process against
/// podman's infra container (catatonit) and the conmon that watches it.
fn infra_rss(tools: &[Tool; 2]) -> Result<()> {
    for tool in tools {
        let mut create = vec!["pod", "create", "--name", "idle"];
        create.extend(&tool.create_flags);
        tool.check(&create)?;
        tool.check(&["pod", "start", "idle"])?;
    }
    std::thread::sleep(Duration::from_secs(3));
    let text = |tool: &Tool, args: &[&str]| -> Result<String> {
        let out = tool.cmd(args).stdout(Stdio::piped()).output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let ours = text(
        &tools[0],
        &["pod", "inspect", "--format", "{{.InfraPid}}", "idle"],
    )?;
    let infra = text(
        &tools[1],
        &[
            "pod",
            "inspect",
            "--format",
            "{{.InfraContainerID}}",
            "idle",
        ],
    )?;
    let pause = text(
        &tools[1],
        &["inspect", "--format", "{{.State.Pid}}", &infra],
    )?;
    let conmon = text(
        &tools[1],
        &["inspect", "--format", "{{.State.ConmonPid}}", &infra],
    )?;
    println!("\nIdle RSS of what holds a pod's namespaces, 3 s after `pod start`");
    println!(
        "peapod   __peapod-infra            {:>8.2} MiB",
        rss_kib(&ours)? as f64 / 1024.0
    );
    println!(
        "podman   catatonit + conmon        {:>8.2} MiB ({:.2} + {:.2})",
        (rss_kib(&pause)? + rss_kib(&conmon)?) as f64 / 1024.0,
        rss_kib(&pause)? as f64 / 1024.0,
        rss_kib(&conmon)? as f64 / 1024.0
    );
    for tool in tools {
        let mut rm = vec!["pod", "rm", "-f"];
        rm.extend(&tool.rm_flags);
        rm.push("idle");
        tool.check(&rm)?;
    }
    Ok(())
}

/// Kills what is left in the benchmark's cgroups, unmounts under [`DIR`], removes the cgroups.
fn clean() {
    let hierarchies: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let mut roots: Vec<PathBuf> = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(hierarchies);
    for root in &roots {
        for parent in CGROUPS {
            for procs in walk(&root.join(parent)) {
                let text = std::fs::read_to_string(procs.join("cgroup.procs")).unwrap_or_default();
                for pid in text.lines() {
                    let _ = Command::new("kill")
                        .args(["-KILL", pid])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(DIR) && *m != DIR)
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = Command::new("umount").arg("-l").arg(m).status();
    }
    for root in &roots {
        for parent in CGROUPS {
            let mut dirs = walk(&root.join(parent));
            dirs.sort_by_key(|d| std::cmp::Reverse(d.as_os_str().len()));
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

/// `dir` and every directory below it.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return out;
    }
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}
