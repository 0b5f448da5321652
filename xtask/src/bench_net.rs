//! `cargo xtask bench net`: container networking, peapod against podman (Debian's 4.3 with
//! netavark 1.4, its default bridge network `podman`) and docker (Debian's `docker.io` 20.10,
//! its default bridge `docker0`), side by side in one run.
//!
//! Everything runs inside a fake host: a network namespace of the benchmark's own
//! ([`HOST`]), entered with `nsenter --net` (no other namespace changes, so it costs every
//! tool the same); the bridges, NAT rules and all traffic stay in it, and it goes at the end.
//! dockerd is started inside it (its own data root, exec root and socket, iptables on, as by
//! default), podman is told `--network-backend netavark`.
//!
//! - `run --rm busybox true` on the default bridge network and with `--network none`,
//!   round-robin over the tools with the cgroup warm before each (see `bench::CgroupWarmer`):
//!   medians, the ratio to podman's, and the difference bridge − none, which is the network's
//!   set-up and teardown as each tool does them;
//! - TCP throughput container → fake host over the bridge: iperf3 (Debian's, the host's
//!   binary and libraries bind-mounted read-only into the busybox container and run through
//!   its dynamic loader, the same for every tool) against a server in the fake host, and the
//!   bare veth path: a namespace with a veth pair on a bridge of its own and no engine at
//!   all. Medians of 5 runs of 3 s, round-robin; the ratio to the bare path.
//!
//! State lives on a tmpfs at [`DIR`]; everything made (containers, dockerd, the iperf3
//! server, mounts, namespaces, cgroup parents) is removed at the end, failed or not.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{CgroupWarmer, Contender, percentiles, time_one};
use crate::util::{output, run_command, target_dir};

/// The benchmark's tmpfs.
const DIR: &str = "/run/ppbench-net";
/// The fake host's network namespace (`/run/netns/NAME`).
const HOST: &str = "ppbench-net";
/// The bare veth path's namespace.
const BARE: &str = "ppbench-bare";
/// The image each tool loads from the busybox fixture's docker-archive.
const IMAGE: &str = "busybox:latest";
/// The cgroup parent of each tool's containers (dockerd's through its own flag).
const CGROUPS: [&str; 3] = [
    "ppbench-net-peapod",
    "ppbench-net-podman",
    "ppbench-net-docker",
];
/// How long each iperf3 run sends, in seconds.
const SECONDS: &str = "3";
/// How many iperf3 runs per contender (round-robin); the median is shown.
const ROUNDS: usize = 5;

/// One engine: how to run it (a program with its global flags, inside the fake host or not),
/// what `run` needs besides, and the address of its default bridge.
#[derive(Clone)]
struct Engine {
    name: &'static str,
    /// The command line before the verb.
    argv: Vec<String>,
    run_flags: Vec<String>,
    /// What puts a container on the default bridge network (nothing: it is the default).
    bridge_flags: Vec<String>,
    gateway: &'static str,
}

impl Engine {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]).args(args);
        cmd
    }

    /// `run --rm [--network none] FLAGS EXTRA busybox ARGS`.
    fn run(&self, none: bool, extra: &[String], args: &[&str]) -> Command {
        let mut cmd = self.cmd(&["run", "--rm"]);
        if none {
            cmd.args(["--network", "none"]);
        } else {
            cmd.args(&self.bridge_flags);
        }
        cmd.args(&self.run_flags).args(extra).arg(IMAGE).args(args);
        cmd
    }
}

fn netns(name: &str) -> String {
    format!("--net=/run/netns/{name}")
}

fn engines(dir: &Path, release: &Path) -> Vec<Engine> {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let d = dir.display();
    let peapod = release.join("peapod");
    vec![
        Engine {
            name: "peapod",
            argv: s(&["nsenter", &netns(HOST), &peapod.to_string_lossy()])
                .into_iter()
                .chain(s(&[
                    "--root",
                    &format!("{d}/peapod"),
                    "--runroot",
                    &format!("{d}/peapod-run"),
                ]))
                .collect(),
            run_flags: s(&["--cgroup-parent", &format!("/{}", CGROUPS[0])]),
            // `bridge` is its default network mode too.
            bridge_flags: Vec::new(),
            gateway: "10.90.0.1",
        },
        Engine {
            name: "podman",
            argv: [
                s(&[
                    "nsenter",
                    &netns(HOST),
                    "podman",
                    "--network-backend",
                    "netavark",
                ]),
                crate::bench::podman_global(&d.to_string()),
            ]
            .concat(),
            run_flags: s(&[
                "--ulimit",
                "nofile=20000:20000",
                "--ulimit",
                "nproc=32768:32768",
                "--cgroup-parent",
                &format!("/{}", CGROUPS[1]),
            ]),
            bridge_flags: Vec::new(),
            gateway: "10.88.0.1",
        },
        Engine {
            name: "docker",
            // /usr/local/bin/docker may be a newer CLI than this daemon speaks.
            argv: s(&["/usr/bin/docker", "-H", &format!("unix://{d}/docker.sock")]),
            run_flags: Vec::new(),
            bridge_flags: Vec::new(),
            gateway: "172.17.0.1",
        },
    ]
}

/// What the benchmark started, removed by [`Made::clean`].
#[derive(Default)]
struct Made {
    engines: Vec<Engine>,
    children: Vec<Child>,
}

pub(crate) fn run(runs: usize) -> Result<()> {
    let dir = Path::new(DIR);
    std::fs::create_dir_all(dir)?;
    run_command(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8g", "ppbench-net"])
            .arg(dir),
    )?;
    let mut made = Made::default();
    let result = run_in(dir, runs, &mut made);
    made.clean(dir);
    result
}

fn run_in(dir: &Path, runs: usize, made: &mut Made) -> Result<()> {
    for ns in [HOST, BARE] {
        run_command(Command::new("ip").args(["netns", "add", ns]))?;
        run_command(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]))?;
    }
    made.children.push(start_dockerd(dir)?);
    let engines = engines(dir, &crate::dist::release_dir()?);
    made.engines = engines.clone();
    wait_docker(&engines[2], dir)?;
    let archive = target_dir().join("fixtures/busybox/docker-archive.tar");
    for e in &engines {
        run_command(e.cmd(&["load", "-q", "-i"]).arg(&archive))?;
    }
    let contenders: Vec<Contender> = engines
        .iter()
        .flat_map(|e| {
            [false, true].map(|none| {
                let e = e.clone();
                let mode = if none { "none" } else { "bridge" };
                Contender {
                    // A name for messages, made once per contender.
                    name: Box::leak(format!("{} {mode}", e.name).into_boxed_str()),
                    command: Box::new(move |_| e.run(none, &[], &["true"])),
                }
            })
        })
        .collect();
    for c in &contenders {
        output(&mut (c.command)(0)).with_context(|| format!("a run on {} fails", c.name))?;
    }
    let warm = CgroupWarmer::new("ppbench-net-warm")?;
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
    drop(warm);
    let medians: Vec<f64> = samples.iter().map(|s| percentiles(s).0).collect();
    println!("\n`run --rm busybox true` in a fake host ({runs} runs each, round-robin): median ms");
    println!(
        "{:<8} {:>10} {:>10} {:>12} {:>14}",
        "", "bridge", "none", "bridge-none", "bridge/podman"
    );
    for (k, e) in engines.iter().enumerate() {
        let (bridge, none) = (medians[2 * k], medians[2 * k + 1]);
        println!(
            "{:<8} {bridge:>10.2} {none:>10.2} {:>12.2} {:>14.2}",
            e.name,
            bridge - none,
            bridge / medians[2]
        );
    }
    throughput(&engines, made)
}

/// iperf3 container → fake host per engine, and over a bare veth pair.
fn throughput(engines: &[Engine], made: &mut Made) -> Result<()> {
    bare_path()?;
    let server = Command::new("nsenter")
        .args([&netns(HOST), "iperf3", "-s", "-p", "5201"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the iperf3 server (Debian's iperf3)")?;
    made.children.push(server);
    std::thread::sleep(Duration::from_millis(300));
    let iperf = which("iperf3")?;
    let lib = Path::new("/lib/x86_64-linux-gnu");
    let mounts: Vec<String> = [
        "--tmpfs".to_owned(),
        "/tmp".to_owned(),
        "-v".to_owned(),
        format!("{}:/ipf/iperf3:ro", iperf.display()),
        "-v".to_owned(),
        format!("{}:/ipf/lib:ro", lib.display()),
    ]
    .to_vec();
    let client = |gateway: &str| -> Vec<String> {
        [
            "/ipf/lib/ld-linux-x86-64.so.2",
            "--library-path",
            "/ipf/lib",
            "/ipf/iperf3",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain(["-c", gateway, "-p", "5201", "-t", SECONDS, "-J"].map(str::to_owned))
        .collect()
    };
    let bare = Contender {
        name: "bare veth",
        command: Box::new(|_| {
            let mut c = Command::new("nsenter");
            c.arg(netns(BARE)).args([
                "iperf3",
                "-c",
                "10.89.0.1",
                "-p",
                "5201",
                "-t",
                SECONDS,
                "-J",
            ]);
            c
        }),
    };
    let mut contenders = vec![bare];
    for e in engines {
        let args = client(e.gateway);
        let (e, mounts) = (e.clone(), mounts.clone());
        contenders.push(Contender {
            name: e.name,
            command: Box::new(move |_| {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                e.run(false, &mounts, &args)
            }),
        });
    }
    // Round-robin, so that a noisy moment hits every contender alike.
    let mut got: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for _ in 0..ROUNDS {
        for (c, out) in contenders.iter().zip(got.iter_mut()) {
            out.push(gbits(&mut (c.command)(0)).with_context(|| c.name.to_owned())?);
        }
    }
    let rows: Vec<(&str, f64)> = contenders
        .iter()
        .zip(&mut got)
        .map(|(c, g)| {
            g.sort_by(f64::total_cmp);
            (c.name, g[g.len() / 2])
        })
        .collect();
    println!(
        "\nTCP throughput container -> fake host over the bridge (iperf3, {SECONDS} s, median of {ROUNDS}, round-robin)"
    );
    println!("{:<10} {:>10} {:>10}", "", "Gbit/s", "x bare");
    let base = rows[0].1;
    for (name, g) in &rows {
        println!("{name:<10} {g:>10.2} {:>10.3}", g / base);
    }
    Ok(())
}

/// The bare path: namespace [`BARE`] with `eth0` (10.89.0.2/24) whose peer is on bridge
/// `ppbench0` (10.89.0.1/24) in the fake host.
fn bare_path() -> Result<()> {
    let ip = |args: &[&str]| run_command(Command::new("ip").args(args));
    ip(&["-n", HOST, "link", "add", "ppbench0", "type", "bridge"])?;
    ip(&["-n", HOST, "addr", "add", "10.89.0.1/24", "dev", "ppbench0"])?;
    ip(&["-n", HOST, "link", "set", "ppbench0", "up"])?;
    ip(&[
        "-n",
        HOST,
        "link",
        "add",
        "ppbench-h",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        BARE,
    ])?;
    ip(&[
        "-n",
        HOST,
        "link",
        "set",
        "ppbench-h",
        "master",
        "ppbench0",
        "up",
    ])?;
    ip(&["-n", BARE, "addr", "add", "10.89.0.2/24", "dev", "eth0"])?;
    ip(&["-n", BARE, "link", "set", "eth0", "up"])
}

/// One iperf3 client run (`-J`): Gbit/s received.
fn gbits(cmd: &mut Command) -> Result<f64> {
    let text = output(cmd)?;
    let doc: serde_json::Value = serde_json::from_str(text.trim())
        .with_context(|| format!("iperf3 -J printed no JSON: {text}"))?;
    let bits = doc["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .with_context(|| format!("no end.sum_received in iperf3's report: {text}"))?;
    Ok(bits / 1e9)
}

fn which(program: &str) -> Result<PathBuf> {
    let path = output(Command::new("sh").args(["-c", &format!("command -v {program}")]))?;
    let path = PathBuf::from(path.trim());
    // The real file: a bind mount of a symlink would point outside the container.
    std::fs::canonicalize(&path).with_context(|| format!("no {program} (Debian's iperf3 package)"))
}

/// dockerd inside the fake host, with its default bridge and iptables rules (there).
fn start_dockerd(dir: &Path) -> Result<Child> {
    let config = dir.join("docker.json");
    std::fs::write(
        &config,
        serde_json::json!({"deprecated-key-path": dir.join("docker-key.json")}).to_string(),
    )?;
    let log = std::fs::File::create(dir.join("dockerd.log"))?;
    Command::new("nsenter")
        .arg(netns(HOST))
        .arg("dockerd")
        .arg("--data-root")
        .arg(dir.join("docker"))
        .arg("--exec-root")
        .arg(dir.join("docker-exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .arg("--config-file")
        .arg(&config)
        .arg("-H")
        .arg(format!("unix://{}/docker.sock", dir.display()))
        .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
        .args(["--cgroup-parent", &format!("/{}", CGROUPS[2])])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start dockerd (Debian's docker.io)")
}

fn wait_docker(docker: &Engine, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !docker
        .cmd(&["version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        if Instant::now() > deadline {
            bail!(
                "dockerd did not answer within 30 s (see {}/dockerd.log)",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

impl Made {
    /// Removes the engines' containers, stops dockerd and the iperf3 server (TERM, then
    /// KILL after 30 s), unmounts what is under `dir` and `dir`, deletes the namespaces
    /// and the cgroup parents. Says what it could not remove.
    fn clean(&mut self, dir: &Path) {
        for e in &self.engines {
            if let Ok(ids) = output(&mut e.cmd(&["ps", "-aq"])) {
                let ids: Vec<&str> = ids.lines().collect();
                if !ids.is_empty() {
                    let _ = output(e.cmd(&["rm", "-f"]).args(&ids));
                }
            }
        }
        for child in &mut self.children {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| Path::new(m).starts_with(dir) && Path::new(m) != dir)
            .collect();
        mounts.sort_unstable_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        let _ = Command::new("umount").arg("-l").arg(dir).status();
        let _ = std::fs::remove_dir(dir);
        for ns in [HOST, BARE] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        // Under each v1 hierarchy, or the v2 one.
        let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
        roots.extend(
            std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
                .map(|h| h.path()),
        );
        for parent in CGROUPS {
            for p in roots.iter().map(|r| r.join(parent)).filter(|p| p.is_dir()) {
                if remove_tree(&p).is_err() {
                    eprintln!("bench net: cannot remove the cgroup {}", p.display());
                }
            }
        }
    }
}

/// Removes a cgroup directory and its children, deepest first.
fn remove_tree(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    std::fs::remove_dir(path)
}
