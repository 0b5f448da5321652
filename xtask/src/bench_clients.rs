//! `cargo xtask bench clients`: the OCI runtimes (runc, crun, peapod-oci) under real
//! clients, side by side in one run: `ctr run --rm busybox true` through containerd's runc
//! shim (`--runc-binary`), and `docker run --rm --runtime R busybox true` through a private
//! dockerd (`--add-runtime`). Iterations go round-robin over the runtimes.
//!
//! The floor is the same client, shim and calls with a *null runtime*: a shell script that
//! answers the shim's `create` with a process that waits on a fifo, `start` by writing to
//! it, and everything else with success, so the floor holds everything but a runtime's own
//! work (and a little more: four shell start-ups). A runtime's share is its median minus
//! that floor; the target is a share at most 0.6x crun's.
//!
//! Runs in the private mount namespace `bench runtime` uses (crun 1.8 needs the hybrid
//! host's cgroup2 mount hidden); the daemons' roots are on a tmpfs there, and the daemons
//! are stopped by pid afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{Contender, percentiles, time_one};
use crate::dist;
use crate::util::{run_command, target_dir};

const IMAGE: &str = "docker.io/library/busybox:latest";

/// The null runtime (see the module doc); `FIFOS` is replaced by a directory of its own.
const NULL_RUNTIME: &str = r#"#!/bin/sh
pidfile= verb= id=
while [ $# -gt 0 ]; do
  case "$1" in
    --root|--log|--log-format|--criu|--bundle|-b|--console-socket) shift ;;
    --pid-file) shift; pidfile="$1" ;;
    -*) ;;
    *) if [ -z "$verb" ]; then verb="$1"; else id="$1"; fi ;;
  esac
  shift
done
case "$verb" in
  create) mkfifo "FIFOS/$id"; (read x < "FIFOS/$id") & printf %s $! > "$pidfile" ;;
  start) echo go > "FIFOS/$id" ;;
  delete) rm -f "FIFOS/$id" ;;
esac
"#;

/// A daemon started for the benchmark, stopped (SIGTERM, by pid) on drop.
struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    /// Starts `cmd` (its output to `log`), then waits (30 s at most) until `ready` succeeds.
    fn start(
        name: &'static str,
        mut cmd: Command,
        log: &Path,
        ready: &mut Command,
    ) -> Result<Self> {
        let file = std::fs::File::create(log)?;
        if let Some(dir) = log.parent() {
            cmd.current_dir(dir);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let daemon = Self { name, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready.output().is_ok_and(|o| o.status.success()) {
            if Instant::now() > deadline {
                bail!("{name} did not answer in 30 s (its log: {})", log.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(daemon)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            eprintln!("bench: {} ignored SIGTERM for 30 s; killing it", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the benchmark with `runs` measured iterations per contender (after 3 warm-up ones).
pub(crate) fn run(runs: usize) -> Result<()> {
    let dir = target_dir().join("bench-clients");
    std::fs::create_dir_all(&dir)?;
    // Inside the benchmark's private mount namespace: the tmpfs goes with it.
    run_command(
        Command::new("mount")
            .args(["-t", "tmpfs", "bench-clients"])
            .arg(&dir),
    )?;
    let peapod = dist::release_dir()?.join("peapod-oci");
    let null = dir.join("null-runtime");
    std::fs::create_dir_all(dir.join("fifos"))?;
    let script = NULL_RUNTIME.replace("FIFOS", &dir.join("fifos").display().to_string());
    std::fs::write(&null, script)?;
    run_command(Command::new("chmod").arg("755").arg(&null))?;
    let runtimes: [(&'static str, PathBuf); 4] = [
        ("floor (null runtime)", null),
        ("runc", PathBuf::from("/usr/sbin/runc")),
        ("crun", PathBuf::from("/usr/bin/crun")),
        ("peapod-oci", peapod),
    ];
    let fixtures = target_dir().join("fixtures");
    let archive = fixtures.join("busybox/docker-archive.tar");

    let containerd = start_containerd(&dir)?;
    run_command(
        ctr(&dir)
            .args(["images", "import", "--snapshotter", "native"])
            .arg(&archive),
    )?;
    let mut ctr_contenders = Vec::new();
    for (name, binary) in &runtimes {
        let (dir, binary, name) = (dir.clone(), binary.clone(), *name);
        ctr_contenders.push(Contender {
            name,
            command: Box::new(move |i| {
                let mut cmd = ctr(&dir);
                cmd.args(["run", "--rm", "--snapshotter", "native", "--runc-binary"])
                    .arg(&binary)
                    .arg("--runc-root")
                    .arg(dir.join(format!("state-{}", name.split(' ').next().unwrap_or(name))))
                    .args(["--cgroup", &format!("/peapod-bench/c{i}"), IMAGE])
                    .arg(format!("c{i}"))
                    .arg("true");
                cmd
            }),
        });
    }
    let ctr_samples = measure(&ctr_contenders, runs)?;
    drop(containerd);

    let dockerd = start_dockerd(&dir, &runtimes)?;
    run_command(docker(&dir).args(["load", "-q", "-i"]).arg(&archive))?;
    let mut docker_contenders = Vec::new();
    for (name, _) in &runtimes {
        let (dir, name) = (dir.clone(), *name);
        docker_contenders.push(Contender {
            name,
            command: Box::new(move |_| {
                let mut cmd = docker(&dir);
                let runtime = name.split(' ').next().unwrap_or(name);
                cmd.args(["run", "--rm", "--runtime", runtime, "busybox", "true"]);
                cmd
            }),
        });
    }
    let docker_samples = measure(&docker_contenders, runs)?;
    drop(dockerd);

    remove_cgroup_trees(&["peapod-bench", "peapod-bench-docker"]);
    report(
        "ctr run --rm busybox true",
        &ctr_contenders,
        &ctr_samples,
        runs,
    );
    report(
        "docker run --rm busybox true",
        &docker_contenders,
        &docker_samples,
        runs,
    );
    Ok(())
}

/// One check run, 3 warm-up rounds, then `runs` timed rounds, round-robin.
fn measure(contenders: &[Contender], runs: usize) -> Result<Vec<Vec<Duration>>> {
    let mut samples = vec![Vec::new(); contenders.len()];
    for round in 0..runs + 3 {
        for (c, out) in contenders.iter().zip(samples.iter_mut()) {
            let sample = time_one(c, round)?;
            if round >= 3 {
                out.push(sample);
            }
        }
    }
    Ok(samples)
}

fn report(title: &str, contenders: &[Contender], samples: &[Vec<Duration>], runs: usize) {
    let medians: Vec<f64> = samples.iter().map(|s| percentiles(s).0).collect();
    let floor = medians[0];
    let crun = contenders
        .iter()
        .position(|c| c.name == "crun")
        .map_or(f64::NAN, |i| medians[i]);
    println!("\n{title} ({runs} runs each, round-robin)");
    println!(
        "{:<22} {:>10} {:>8} {:>8} {:>9} {:>13}",
        "", "median ms", "p10", "p90", "x crun", "share x crun"
    );
    for (c, s) in contenders.iter().zip(samples) {
        let (med, p10, p90) = percentiles(s);
        println!(
            "{:<22} {med:>10.1} {p10:>8.1} {p90:>8.1} {:>9.2} {:>13.2}",
            c.name,
            med / crun,
            (med - floor) / (crun - floor)
        );
    }
}

fn ctr(dir: &Path) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(dir.join("containerd/c.sock"))
        .args(["--namespace", "bench"]);
    cmd
}

fn docker(dir: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/docker");
    cmd.arg("--host")
        .arg(format!("unix://{}/docker/docker.sock", dir.display()));
    cmd
}

fn start_containerd(dir: &Path) -> Result<Daemon> {
    let root = dir.join("containerd");
    std::fs::create_dir_all(&root)?;
    let r = root.display();
    let config = format!(
        "version = 2\nroot = \"{r}/root\"\nstate = \"{r}/state\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{r}/c.sock\"\n[ttrpc]\n  address = \"{r}/c.sock.ttrpc\"\n\
         [debug]\n  address = \"{r}/debug.sock\"\n\
         [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{r}/opt\"\n"
    );
    std::fs::write(root.join("config.toml"), config)?;
    let mut cmd = Command::new("containerd");
    cmd.arg("--config").arg(root.join("config.toml"));
    Daemon::start(
        "containerd",
        cmd,
        &root.join("log"),
        ctr(dir).arg("version"),
    )
}

fn start_dockerd(dir: &Path, runtimes: &[(&str, PathBuf)]) -> Result<Daemon> {
    let root = dir.join("docker");
    std::fs::create_dir_all(&root)?;
    let config = serde_json::json!({"deprecated-key-path": root.join("key.json")});
    std::fs::write(root.join("daemon.json"), config.to_string())?;
    let mut cmd = Command::new("dockerd");
    cmd.arg("--data-root")
        .arg(root.join("data"))
        .arg("--exec-root")
        .arg(root.join("exec"))
        .arg("--pidfile")
        .arg(root.join("docker.pid"))
        .arg("--config-file")
        .arg(root.join("daemon.json"))
        .arg(format!(
            "--host=unix://{}",
            root.join("docker.sock").display()
        ))
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
        .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
        .args([
            "--cgroup-parent",
            "/peapod-bench-docker",
            "--storage-driver",
            "vfs",
        ]);
    for (name, binary) in runtimes.iter().filter(|(name, _)| *name != "runc") {
        let name = name.split(' ').next().unwrap_or(name);
        cmd.arg(format!("--add-runtime={name}={}", binary.display()));
    }
    Daemon::start(
        "dockerd",
        cmd,
        &root.join("log"),
        docker(dir).arg("version"),
    )
}

/// Removes the cgroup parents the runtimes and dockerd left (empty ones), deepest first,
/// in every hierarchy.
fn remove_cgroup_trees(names: &[&str]) {
    fn remove(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    remove(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut roots: Vec<PathBuf> = hierarchies.flatten().map(|e| e.path()).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    for root in roots {
        for name in names {
            let dir = root.join(name);
            if dir.is_dir() {
                remove(&dir);
            }
        }
    }
}
