//! The engine benchmark's private dockerd, and the clean-up of everything the benchmark made:
//! containers, processes, mounts under [`DIR`], and the tools' cgroup parents.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{DIR, Tool};

/// The cgroup parents the tools' containers go under (dockerd's through its own flag), and
/// the benchmark's own warm cgroup (see `bench::CgroupWarmer`), in case it was left behind.
pub(super) const CGROUP_PARENTS: [&str; 4] = [
    "peapod-bench-engine",
    "peapod-bench-podman",
    "peapod-bench-docker",
    super::WARM_CGROUP,
];

/// What the benchmark started: the tools whose containers it removes, and dockerd.
#[derive(Default)]
pub(super) struct Peers {
    pub(super) tools: Vec<Tool>,
    dockerd: Option<Child>,
}

impl Peers {
    /// Starts dockerd privately under `dir`; returns the docker CLI that talks to it.
    pub(super) fn start_docker(&mut self, dir: &Path) -> Result<Tool> {
        let config = dir.join("docker.json");
        std::fs::write(
            &config,
            serde_json::json!({"deprecated-key-path": dir.join("docker-key.json")}).to_string(),
        )?;
        let socket = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("dockerd.log"))?;
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("docker"))
            .arg("--exec-root")
            .arg(dir.join("docker-exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("--config-file")
            .arg(&config)
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            .args(["--cgroup-parent", &format!("/{}", CGROUP_PARENTS[2])])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start dockerd (Debian's docker.io)")?;
        self.dockerd = Some(child);
        let docker = Tool {
            name: "docker",
            // /usr/local/bin/docker may be a newer CLI than this daemon speaks.
            program: PathBuf::from("/usr/bin/docker"),
            global: vec!["-H".into(), format!("unix://{}", socket.display()).into()],
            run_flags: Vec::new(),
            rm_flags: Vec::new(),
            monitor: "containerd-shim-runc-v2",
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = docker
                .cmd()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if up {
                return Ok(docker);
            }
            if Instant::now() > deadline {
                bail!(
                    "dockerd did not answer on {} within 30 s (see {}/dockerd.log)",
                    socket.display(),
                    dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Removes every container of the tools, stops dockerd (SIGTERM, then SIGKILL after
    /// 30 s), kills what is left in the cgroup parents or names [`DIR`], unmounts what is
    /// mounted under it and removes the cgroup parents. Says what it could not remove.
    pub(super) fn clean(&mut self, dir: &Path) {
        for tool in &self.tools {
            if let Ok(ids) = tool.all_ids()
                && !ids.is_empty()
            {
                let _ = tool.rm(&ids);
            }
        }
        if let Some(mut child) = self.dockerd.take() {
            signal("TERM", child.id());
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let hierarchies = cgroup_mounts();
        for pid in processes_of(&hierarchies) {
            signal("KILL", pid);
        }
        std::thread::sleep(Duration::from_millis(200));
        for mount in mounts_under(dir) {
            let _ = Command::new("umount").arg("-l").arg(&mount).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: Vec<PathBuf> = hierarchies
                .iter()
                .flat_map(|h| CGROUP_PARENTS.map(|p| h.join(p)))
                .filter(|p| remove_tree(p).is_err())
                .collect();
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("bench engine: cannot remove the cgroups {left:?}");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn signal(name: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// The mount points of the cgroup hierarchies (v1 and v2), from /proc/self/mountinfo.
fn cgroup_mounts() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = left.split(' ').nth(4)?;
            matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(unescape(point)))
        })
        .collect()
}

/// Mount points under `dir` (not `dir` itself), deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(|p| PathBuf::from(unescape(p))))
        .filter(|p| p.starts_with(dir) && p != dir)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    points
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    field.replace("\\040", " ").replace("\\011", "\t")
}

/// Every process in the cgroup parents (any hierarchy), or whose command line names [`DIR`].
fn processes_of(hierarchies: &[PathBuf]) -> Vec<u32> {
    let mut pids = Vec::new();
    for h in hierarchies {
        for parent in CGROUP_PARENTS {
            collect_procs(&h.join(parent), &mut pids);
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if pid != std::process::id() && String::from_utf8_lossy(&cmdline).contains(DIR) {
                pids.push(pid);
            }
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn collect_procs(cgroup: &Path, pids: &mut Vec<u32>) {
    let Ok(entries) = std::fs::read_dir(cgroup) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_procs(&entry.path(), pids);
        }
    }
    let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
    pids.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
}

/// Removes a cgroup and its children (rmdir, deepest first); fine if it does not exist.
fn remove_tree(cgroup: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(cgroup) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    std::fs::remove_dir(cgroup)
}
