//! The engine part of `cargo xtask demo`: the seed's factory machine with `peapod`. The
//! busybox image (the mould) is loaded, containers are pressed from it in the foreground
//! and in the background, their logs read, commands run inside, their limits shown from
//! inside, and everything removed; the demo then checks that nothing is left.
//!
//! `bridge` is peapod's default network mode, so the demo's containers are on the default
//! network: the demo runs every `peapod` in a network namespace of its own ([`DEMO_HOST`],
//! entered with `nsenter --net`, as the tests' fake host), so that the bridge `peapod0`, the
//! veths and the nft table live there and go with it, and the real host's network is left
//! as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::describe;

/// The cgroup parent of the demo's containers (under every hierarchy).
const CGROUP_PARENT: &str = "/peapod-demo";
const IMAGE: &str = "docker.io/library/busybox:latest";
const NAME: &str = "demo-press";
/// The network namespace the demo's `peapod` runs in (`/run/netns/peapod-demo`).
const DEMO_HOST: &str = "peapod-demo";

/// The demo's network namespace ([`DEMO_HOST`], `lo` up), deleted on drop with everything in
/// it.
struct DemoHost;

impl DemoHost {
    /// Makes it afresh (one an interrupted demo left is deleted first).
    fn new() -> Result<Self> {
        let _ = Command::new("ip")
            .args(["netns", "del", DEMO_HOST])
            .stderr(std::process::Stdio::null())
            .status();
        crate::util::run_command(Command::new("ip").args(["netns", "add", DEMO_HOST]))?;
        let host = Self;
        crate::util::run_command(
            Command::new("ip").args(["-n", DEMO_HOST, "link", "set", "lo", "up"]),
        )?;
        Ok(host)
    }
}

impl Drop for DemoHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", DEMO_HOST])
            .status();
    }
}

/// `peapod` with the demo's private root, runroot and cgroup parent.
pub(crate) struct Peapod {
    bin: PathBuf,
    dir: PathBuf,
}

impl Peapod {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{DEMO_HOST}"))
            .arg(&self.bin)
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"));
        match args.split_first() {
            Some((verb @ (&"run" | &"create"), rest)) => {
                cmd.arg(verb)
                    .args(["--cgroup-parent", CGROUP_PARENT])
                    .args(rest);
            }
            Some((&"pod", ["create", rest @ ..])) => {
                cmd.args(["pod", "create"])
                    .args(["--cgroup-parent", CGROUP_PARENT])
                    .args(rest);
            }
            _ => {
                cmd.args(args);
            }
        }
        cmd
    }

    /// Echoes `$ peapod ARGS` and runs it on our stdout and stderr; its exit code.
    pub(crate) fn show_code(&self, args: &[&str]) -> Result<i32> {
        let shown: Vec<String> = args.iter().map(|a| quote(a)).collect();
        println!("\n$ peapod {}", shown.join(" "));
        std::io::Write::flush(&mut std::io::stdout())?;
        let mut cmd = self.cmd(args);
        let status = cmd
            .status()
            .with_context(|| format!("cannot start `{}`", describe(&cmd)))?;
        Ok(status.code().unwrap_or(128))
    }

    /// [`Self::show_code`], failing unless it succeeds.
    pub(crate) fn show(&self, args: &[&str]) -> Result<()> {
        match self.show_code(args)? {
            0 => Ok(()),
            code => bail!("peapod {} failed with exit code {code}", args.join(" ")),
        }
    }

    /// The demo's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs quietly; stdout.
    pub(crate) fn quiet(&self, args: &[&str]) -> Result<String> {
        crate::util::output(&mut self.cmd(args))
    }
}

/// Runs the engine demo with the release `bin`ary on the fixtures in `fixtures`, in a
/// fresh directory `dir`.
pub(crate) fn run(bin: &Path, fixtures: &Path, dir: &Path) -> Result<()> {
    let p = Peapod {
        bin: bin.to_path_buf(),
        dir: dir.to_path_buf(),
    };
    let _host = DemoHost::new()?;
    fresh(&p)?;

    section("peapod load: the mould (an image) from a docker-archive");
    let archive = fixtures.join("busybox/docker-archive.tar");
    let archive = archive.to_str().context("a non-UTF-8 fixtures path")?;
    p.show(&["load", "-i", archive])?;
    p.show(&["images"])?;

    section("peapod run: a container in the foreground (its output here, its exit code ours)");
    p.show(&["run", "--rm", IMAGE, "echo", "hello from a pea"])?;
    let code = p.show_code(&["run", "--rm", IMAGE, "sh", "-c", "exit 3"])?;
    println!("  (exit code {code})");
    if code != 3 {
        bail!("the container exited 3, peapod said {code}");
    }

    section("detached, with limits: 64 MiB of memory, half a CPU");
    let script = "echo \"pressed at $(date +%T)\"; trap 'echo stopping; exit 0' TERM; \
                  while true; do sleep 0.2; done";
    p.show(&[
        "run", "-d", "--name", NAME, "-m", "64m", "--cpus", "0.5", IMAGE, "sh", "-c", script,
    ])?;
    p.show(&["ps"])?;
    // It is on the default network, made on first use.
    p.show(&["network", "ls"])?;
    wait_for_log(&p)?;
    p.show(&["logs", NAME])?;
    p.show(&[
        "exec",
        NAME,
        "sh",
        "-c",
        "echo \"hostname: $(hostname)\"; ps",
    ])?;
    println!("\n  the limits, as the container's own cgroup files say (v1, or v2):");
    let inside = "cd /sys/fs/cgroup; if [ -e memory.max ]; then \
                  echo \"memory.max: $(cat memory.max)\"; echo \"cpu.max: $(cat cpu.max)\"; else \
                  echo \"memory/memory.limit_in_bytes: $(cat memory/memory.limit_in_bytes)\"; \
                  echo \"cpu/cpu.cfs_quota_us: $(cat cpu/cpu.cfs_quota_us) \
                  of cpu/cpu.cfs_period_us: $(cat cpu/cpu.cfs_period_us)\"; fi";
    p.show(&["exec", NAME, "sh", "-c", inside])?;
    if p.cmd(&["stats", "--help"]).output()?.status.success() {
        p.show(&["stats", "--no-stream", NAME])?;
    } else {
        println!("\n  (peapod stats: not in this build yet)");
    }

    section("stop and remove");
    p.show(&["stop", NAME])?;
    p.show(&["logs", "--tail", "1", NAME])?;
    p.show(&["rm", NAME])?;
    p.show(&["ps", "-a"])?;
    crate::demo_pod::run(&p, IMAGE)?;
    nothing_left(&p)?;
    println!("\n  nothing left: no container, mount, cgroup or monitor process");
    Ok(())
}

/// Removes what an earlier, interrupted demo left, and starts from an empty directory.
fn fresh(p: &Peapod) -> Result<()> {
    if p.dir.join("root").exists()
        && let Ok(pods) = p.quiet(&["pod", "ls", "-q", "--no-trunc"])
    {
        for id in pods.lines() {
            let _ = p.quiet(&["pod", "rm", "-f", id]);
        }
    }
    if p.dir.join("root").exists()
        && let Ok(ids) = p.quiet(&["ps", "-aq"])
    {
        for id in ids.lines() {
            let _ = p.quiet(&["rm", "-f", id]);
        }
    }
    let mounts = mounts_under(&p.dir)?;
    if !mounts.is_empty() {
        bail!(
            "{} still has mounts ({}): unmount them first",
            p.dir.display(),
            mounts.join(", ")
        );
    }
    if p.dir.exists() {
        std::fs::remove_dir_all(&p.dir)
            .with_context(|| format!("cannot remove {}", p.dir.display()))?;
    }
    std::fs::create_dir_all(&p.dir).with_context(|| format!("cannot create {}", p.dir.display()))
}

/// Waits (10 s at most) for the detached container's first log line.
fn wait_for_log(p: &Peapod) -> Result<()> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while p.quiet(&["logs", NAME])?.trim().is_empty() {
        if std::time::Instant::now() > until {
            bail!("{NAME} logged nothing in 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// Fails if a container, mount, monitor or cgroup of the demo is left; removes the
/// (empty) cgroup parent.
fn nothing_left(p: &Peapod) -> Result<()> {
    let ids = p.quiet(&["ps", "-aq"])?;
    if !ids.trim().is_empty() {
        bail!("containers left: {ids}");
    }
    let mounts = mounts_under(&p.dir)?;
    if !mounts.is_empty() {
        bail!("mounts left: {mounts:?}");
    }
    let needle = p.dir.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let me = std::process::id().to_string();
        if entry.file_name() != me.as_str() && String::from_utf8_lossy(&cmdline).contains(&needle) {
            bail!("a process is left: {}", String::from_utf8_lossy(&cmdline));
        }
    }
    // v1 and hybrid: under each hierarchy; v2: under /sys/fs/cgroup itself.
    let rel = CGROUP_PARENT.trim_start_matches('/');
    let mut parents = vec![Path::new("/sys/fs/cgroup").join(rel)];
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")?.flatten() {
        parents.push(hierarchy.path().join(rel));
    }
    for parent in parents.iter().filter(|p| p.is_dir()) {
        let children = std::fs::read_dir(parent)
            .with_context(|| format!("cannot read {}", parent.display()))?;
        if let Some(child) = children.flatten().find(|c| c.path().is_dir()) {
            bail!("a cgroup is left: {}", child.path().display());
        }
        std::fs::remove_dir(parent)
            .with_context(|| format!("cannot remove the cgroup {}", parent.display()))?;
    }
    Ok(())
}

/// Mount points under `dir` (from /proc/self/mountinfo).
fn mounts_under(dir: &Path) -> Result<Vec<String>> {
    let prefix = dir.to_string_lossy().into_owned();
    Ok(std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_owned)
        .collect())
}

/// `arg` as a shell would need it typed (single quotes unless it is plain).
fn quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+-,".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

pub(crate) fn section(title: &str) {
    println!("\n== {title}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_shown_as_a_shell_needs_them() {
        assert_eq!(super::quote("-m"), "-m");
        assert_eq!(super::quote("exit 3"), "'exit 3'");
        assert_eq!(super::quote("it's"), "'it'\\''s'");
        assert_eq!(super::quote(""), "''");
    }
}
