//! `cargo xtask bench build`: `peapod build` against `podman build` (Debian's podman,
//! `--runtime runc`, which this hybrid-cgroup host needs) of one Containerfile: busybox,
//! a COPY of 1,000 small files, three RUNs, ENV and CMD. Uncached (`--no-cache`) and fully
//! cached, contenders alternating within each round, stores and context on a tmpfs (this
//! VM's root ext4 has no journal). Checks first that peapod's image runs and that both
//! have the same number of layers. Prints medians and ratios against the targets
//! (uncached ≤ ⅓ of podman's time, cached ≤ ⅕).
//!
//! `PEAPOD_BENCH_BIN=PATH` measures that `peapod` binary instead of building the static
//! release one (for a quick look while developing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::bench::{Contender, percentiles, time_one};
use crate::util::{output, run_command};

const CONTAINERFILE: &str = "FROM localhost/busybox:latest
COPY files /files
RUN ls /files | wc -l > /count
RUN echo two > /two && rm /bin/ls
RUN cat /count /two > /summary
ENV APP=bench
CMD [\"cat\", \"/summary\"]
";

/// Where the peapod binary is: `PEAPOD_BENCH_BIN`, else the static release build.
fn peapod_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PEAPOD_BENCH_BIN") {
        return Ok(PathBuf::from(p));
    }
    crate::dist::build()?;
    Ok(crate::dist::release_dir()?.join("peapod"))
}

pub(crate) fn run(runs: usize) -> Result<()> {
    let peapod = peapod_binary()?;
    // podman refuses a run root of 50 characters or more.
    let runroot = PathBuf::from("/run/peapod-bench-bb");
    let result = crate::util::on_tmpfs("bench-build", "4g", |dir| {
        let result = run_in(dir, &runroot, &peapod, runs);
        let _ = podman(dir, &runroot)
            .args(["rmi", "--all", "--force"])
            .output();
        result
    });
    let _ = std::fs::remove_dir_all(&runroot);
    result
}

fn podman(dir: &Path, runroot: &Path) -> Command {
    let mut cmd = Command::new("podman");
    cmd.arg("--root")
        .arg(dir.join("podman"))
        .arg("--runroot")
        .arg(runroot)
        .args([
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
        ])
        .args(["--events-backend", "file", "--runtime", "runc"]);
    cmd
}

fn podman_build(dir: &Path, runroot: &Path, no_cache: bool) -> Command {
    let mut cmd = podman(dir, runroot);
    cmd.args(["build", "-q", "--pull=never", "--network", "none"])
        .args([
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
        ])
        .args(["-t", "bench"]);
    if no_cache {
        cmd.arg("--no-cache");
    }
    cmd.arg(dir.join("context"));
    cmd
}

fn peapod_build(peapod: &Path, dir: &Path, no_cache: bool) -> Command {
    let mut cmd = Command::new(peapod);
    cmd.arg("--root")
        .arg(dir.join("peapod"))
        .arg("--runroot")
        .arg(dir.join("peapod-run"))
        .args([
            "build",
            "-q",
            "--pull",
            "never",
            "--cgroup-parent",
            "/peapod-bench",
        ])
        .args(["-t", "bench"]);
    if no_cache {
        cmd.arg("--no-cache");
    }
    cmd.arg(dir.join("context"));
    cmd
}

fn run_in(dir: &Path, runroot: &Path, peapod: &Path, runs: usize) -> Result<()> {
    let busybox = crate::fixtures::build_default()?.join("busybox/oci");
    let context = dir.join("context");
    std::fs::create_dir_all(context.join("files"))?;
    for i in 0..1000 {
        std::fs::write(
            context.join("files").join(format!("f{i:04}.txt")),
            format!("file {i}\n"),
        )?;
    }
    std::fs::write(context.join("Containerfile"), CONTAINERFILE)?;
    let source = format!("oci:{}:latest", busybox.display());
    let mut pp = Command::new(peapod);
    pp.arg("--root").arg(dir.join("peapod"));
    run_command(pp.args(["pull", "-q", &source]))?;
    let mut tag = Command::new(peapod);
    tag.arg("--root").arg(dir.join("peapod"));
    run_command(tag.args(["tag", "localhost/oci:latest", "localhost/busybox:latest"]))?;
    let id = output(podman(dir, runroot).args(["pull", "-q", &source]))?;
    run_command(podman(dir, runroot).args(["tag", id.trim(), "localhost/busybox:latest"]))?;
    // Each must build; peapod's image must run and give the answer, and podman's have as
    // many layers (the build tests cross-check the two filesystems).
    run_command(&mut peapod_build(peapod, dir, true)).context("peapod build")?;
    run_command(&mut podman_build(dir, runroot, true)).context("podman build")?;
    let mut run = Command::new(peapod);
    run.arg("--root")
        .arg(dir.join("peapod"))
        .arg("--runroot")
        .arg(dir.join("peapod-run"))
        .args(["run", "--rm", "--network", "none"])
        .args(["--cgroup-parent", "/peapod-bench", "bench"]);
    let got = output(&mut run).context("peapod run of the built image")?;
    if got != "1000\ntwo\n" {
        bail!("peapod's image printed {got:?}, not 1000 and two");
    }
    let layers = "{{len .RootFS.Layers}}";
    let mut ours = Command::new(peapod);
    ours.arg("--root")
        .arg(dir.join("peapod"))
        .args(["image", "inspect", "--format", layers, "bench"]);
    let theirs =
        output(podman(dir, runroot).args(["image", "inspect", "--format", layers, "bench"]))?;
    let ours = output(&mut ours)?;
    if ours.trim() != theirs.trim() {
        bail!(
            "peapod's image has {} layers, podman's {}",
            ours.trim(),
            theirs.trim()
        );
    }
    let mut table = Vec::new();
    for (what, no_cache) in [("uncached", true), ("cached", false)] {
        let (p, d, d2, rr) = (
            peapod.to_path_buf(),
            dir.to_path_buf(),
            dir.to_path_buf(),
            runroot.to_path_buf(),
        );
        let contenders = [
            Contender {
                name: "peapod build",
                command: Box::new(move |_| peapod_build(&p, &d, no_cache)),
            },
            Contender {
                name: "podman build",
                command: Box::new(move |_| podman_build(&d2, &rr, no_cache)),
            },
        ];
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
        // One warm-up round, then `runs` measured ones.
        for i in 0..=runs {
            for (c, out) in contenders.iter().zip(samples.iter_mut()) {
                let t = time_one(c, i)?;
                if i > 0 {
                    out.push(t);
                }
            }
        }
        let medians: Vec<f64> = samples.iter().map(|s| percentiles(s).0).collect();
        table.push((what, medians));
    }
    println!(
        "\nBuild: busybox + COPY of 1,000 files, 3 RUNs, ENV, CMD; {runs} runs each, round-robin"
    );
    println!(
        "{:<10} {:>14} {:>14} {:>10} {:>8}",
        "", "peapod ms", "podman ms", "ratio", "target"
    );
    for (what, m) in &table {
        let target = if *what == "uncached" {
            "≤ 0.33"
        } else {
            "≤ 0.20"
        };
        println!(
            "{what:<10} {:>14.1} {:>14.1} {:>10.3} {target:>8}",
            m[0],
            m[1],
            m[0] / m[1]
        );
    }
    Ok(())
}
