//! `cargo xtask bench clients`: the OCI runtimes (runc, crun, peapod-oci) under real
//! clients, side by side in one run: `ctr run --rm busybox true` through containerd's runc
//! shim (`--runc-binary`), and `docker run --rm --runtime R busybox true` through a private
//! dockerd (`--add-runtime`), and through containerd's CRI plugin a kubelet's pod of one
//! container (RunPodSandbox, busybox `true` created and started, the pod stopped and
//! removed) per runtime handler, by `examples/cri_bench.rs` (a CRI client that needs the
//! workspace's dev-dependencies, hence an example and not xtask code). Iterations go
//! round-robin over the runtimes.
//!
//! The floor is the same client, shim and calls with a *null runtime*: a shell script that
//! answers the shim's `create` with a process that waits on a fifo, `start` by writing to
//! it, `kill` by signalling that process, and everything else with success, so the floor
//! holds everything but a runtime's own work (and a little more: a shell start-up per
//! call). A CRI pod's sandbox (the container the CRI plugin annotates
//! `io.kubernetes.cri.container-type: sandbox`) then lives until it is killed, as the pause
//! process does; every other process ends at `start`, as busybox `true` does. A runtime's
//! share is its median minus that floor; the target is a share at most 0.6x crun's.
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
use crate::util::{cargo, output, run_command, target_dir};

const IMAGE: &str = "docker.io/library/busybox:latest";

/// The null runtime (see the module doc); `FIFOS` is replaced by a directory of its own.
const NULL_RUNTIME: &str = r#"#!/bin/sh
pidfile= verb= id= arg= bundle=.
while [ $# -gt 0 ]; do
  case "$1" in
    --root|--log|--log-format|--criu|--console-socket|--process) shift ;;
    --bundle|-b) shift; bundle="$1" ;;
    --pid-file) shift; pidfile="$1" ;;
    -*) ;;
    *) if [ -z "$verb" ]; then verb="$1"; elif [ -z "$id" ]; then id="$1"; else arg="$1"; fi ;;
  esac
  shift
done
case "$verb" in
  create)
    mkfifo "FIFOS/$id"
    if grep -q '"io.kubernetes.cri.container-type": *"sandbox"' "$bundle/config.json"; then
      (read x < "FIFOS/$id"; exec sleep 2147483647) &
    else
      (read x < "FIFOS/$id") &
    fi
    printf %s $! > "$pidfile"; printf %s $! > "FIFOS/$id.pid" ;;
  start) echo go > "FIFOS/$id" ;;
  kill)
    sig="${arg:-TERM}"; sig="${sig#SIG}"; pid="$(cat "FIFOS/$id.pid" 2>/dev/null)"
    case "$sig" in
      *[!0-9]*) kill -s "$sig" "$pid" 2>/dev/null ;;
      *) kill -"$sig" "$pid" 2>/dev/null ;;
    esac ;;
  delete) rm -f "FIFOS/$id" "FIFOS/$id.pid" ;;
esac
exit 0
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

    let containerd = start_containerd(&dir.join("containerd"), "")?;
    run_command(
        ctr(&dir.join("containerd"), "bench")
            .args(["images", "import", "--snapshotter", "native"])
            .arg(&archive),
    )?;
    let mut ctr_contenders = Vec::new();
    for (name, binary) in &runtimes {
        let (dir, binary, name) = (dir.clone(), binary.clone(), *name);
        ctr_contenders.push(Contender {
            name,
            command: Box::new(move |i| {
                let mut cmd = ctr(&dir.join("containerd"), "bench");
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

    let cri_samples = cri_pods(&dir, &runtimes, runs)?;

    remove_cgroup_trees(&["peapod-bench", "peapod-bench-docker"]);
    let names = |c: &[Contender]| c.iter().map(|c| c.name).collect::<Vec<_>>();
    let title = "ctr run --rm busybox true";
    report(title, &names(&ctr_contenders), &ctr_samples, runs, true);
    let title = "docker run --rm busybox true";
    report(
        title,
        &names(&docker_contenders),
        &docker_samples,
        runs,
        true,
    );
    let title = "CRI: RunPodSandbox, busybox true created and started, pod stopped and removed";
    let cri_names: Vec<&str> = runtimes.iter().map(|(n, _)| *n).collect();
    report(title, &cri_names, &cri_samples, runs, true);
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

/// Medians, p10, p90 and ratios to crun; with a floor (the first row), each runtime's
/// share (median minus floor) against crun's.
fn report(title: &str, names: &[&str], samples: &[Vec<Duration>], runs: usize, floor: bool) {
    let medians: Vec<f64> = samples.iter().map(|s| percentiles(s).0).collect();
    let base = if floor { medians[0] } else { 0.0 };
    let crun = names
        .iter()
        .position(|n| *n == "crun")
        .map_or(f64::NAN, |i| medians[i]);
    println!("\n{title} ({runs} runs each, round-robin)");
    println!(
        "{:<22} {:>10} {:>8} {:>8} {:>9} {:>13}",
        "", "median ms", "p10", "p90", "x crun", "share x crun"
    );
    for (name, s) in names.iter().zip(samples) {
        let (med, p10, p90) = percentiles(s);
        let share = if floor {
            format!("{:.2}", (med - base) / (crun - base))
        } else {
            "-".to_owned()
        };
        println!(
            "{name:<22} {med:>10.1} {p10:>8.1} {p90:>8.1} {:>9.2} {share:>13}",
            med / crun
        );
    }
}

/// `ctr` on the containerd whose root is `root`, in `namespace`.
fn ctr(root: &Path, namespace: &str) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(root.join("c.sock"))
        .args(["--namespace", namespace]);
    cmd
}

fn docker(dir: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/docker");
    cmd.arg("--host")
        .arg(format!("unix://{}/docker/docker.sock", dir.display()));
    cmd
}

/// A containerd with its root at `root`, its config ending with `plugins` (the CRI plugin
/// is off unless `plugins` configures it).
fn start_containerd(root: &Path, plugins: &str) -> Result<Daemon> {
    std::fs::create_dir_all(root)?;
    let r = root.display();
    let disabled = if plugins.is_empty() {
        "\"io.containerd.grpc.v1.cri\""
    } else {
        ""
    };
    let config = format!(
        "version = 2\nroot = \"{r}/root\"\nstate = \"{r}/state\"\n\
         disabled_plugins = [{disabled}]\n\
         [grpc]\n  address = \"{r}/c.sock\"\n[ttrpc]\n  address = \"{r}/c.sock.ttrpc\"\n\
         [debug]\n  address = \"{r}/debug.sock\"\n\
         [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{r}/opt\"\n{plugins}"
    );
    std::fs::write(root.join("config.toml"), config)?;
    let mut cmd = Command::new("containerd");
    cmd.arg("--config").arg(root.join("config.toml"));
    Daemon::start(
        "containerd",
        cmd,
        &root.join("log"),
        ctr(root, "default").arg("version"),
    )
}

/// The CRI pods of `examples/cri_bench.rs` on a containerd with the CRI plugin and a
/// handler per runtime (named by the first word of the runtime's name): the timed pods,
/// per runtime.
fn cri_pods(dir: &Path, runtimes: &[(&str, PathBuf)], runs: usize) -> Result<Vec<Vec<Duration>>> {
    run_command(cargo().args([
        "build",
        "--quiet",
        "-p",
        "peapod-cli",
        "--example",
        "cri_bench",
    ]))?;
    let bench = target_dir().join("debug/examples/cri_bench");
    let root = dir.join("cri");
    let handler = |name: &str| name.split(' ').next().unwrap_or(name).to_owned();
    let handlers: Vec<String> = runtimes
        .iter()
        .map(|(name, binary)| format!("{}={}", handler(name), binary.display()))
        .collect();
    let plugins = output(
        Command::new(&bench)
            .arg("config")
            .arg(&root)
            .args(&handlers),
    )?;
    let containerd = start_containerd(&root, &plugins)?;
    for image in ["busybox", "pause"] {
        let archive = target_dir().join(format!("fixtures/{image}/docker-archive.tar"));
        run_command(
            ctr(&root, "k8s.io")
                .args(["images", "import", "--snapshotter", "native"])
                .arg(archive),
        )?;
    }
    let names: Vec<String> = runtimes.iter().map(|(name, _)| handler(name)).collect();
    let timed = output(
        Command::new(&bench)
            .arg("run")
            .arg(root.join("c.sock"))
            .arg(runs.to_string())
            .args(&names),
    )?;
    drop(containerd);
    let mut samples = vec![Vec::new(); names.len()];
    for line in timed.lines() {
        let (name, ms) = line
            .split_once(' ')
            .context("cri_bench printed a bad line")?;
        let index = names
            .iter()
            .position(|n| *n == name)
            .context("an unknown handler")?;
        let ms: f64 = ms.parse().context("cri_bench printed a bad time")?;
        samples[index].push(Duration::from_secs_f64(ms / 1000.0));
    }
    Ok(samples)
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
