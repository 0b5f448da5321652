//! `cargo xtask bench image`: `peapod pull` against `podman pull` (Debian's podman) and the
//! floor (each layer blob fetched with curl and piped into `tar -x`, one after the other), for
//! the `debian` fixture (four layers, ~63 MB gzip) pushed to a local `docker-registry` in
//! gzip and zstd; then `peapod load` against `podman load` of its docker-archive. Every run
//! starts from an empty store; contenders alternate within each round; everything (registry
//! storage, stores) lives on a tmpfs, since this VM's root ext4 has no journal and creating
//! files right after mass deletion is many times slower there. Prints medians, ratios and
//! the peak RSS of each tool (through the runtime benchmark's wait4 probe).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{Contender, peak_rss, percentiles, rss_probe, time_one};
use crate::util::{output, run_command, target_dir};

/// One contender's result: name, median ms, peak RSS in KiB.
type Row = (&'static str, f64, i64);

/// A registry of our own on 127.0.0.1, stopped (by pid) on drop.
struct Registry {
    child: Child,
    port: u16,
}

impl Registry {
    fn start(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("registry").display()
            ),
        )?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start docker-registry (cargo xtask deps installs it)")?;
        let registry = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("docker-registry did not listen on 127.0.0.1:{port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(registry)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory emptied before each timed run.
fn fresh(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

fn podman(root: &Path, runroot: &Path) -> Command {
    let mut cmd = Command::new("podman");
    cmd.arg("--root")
        .arg(root)
        .arg("--runroot")
        .arg(runroot)
        .args([
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
        ])
        .args(["--events-backend", "file"]);
    cmd
}

/// The layer digests of `reference`'s manifest in the registry.
fn layer_digests(reference: &str) -> Result<Vec<String>> {
    let raw = output(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{reference}")),
    )?;
    let manifest: serde_json::Value = serde_json::from_str(&raw)?;
    Ok(manifest["layers"]
        .as_array()
        .context("a manifest without layers")?
        .iter()
        .filter_map(|l| l["digest"].as_str().map(ToOwned::to_owned))
        .collect())
}

pub(crate) fn run(runs: usize) -> Result<()> {
    crate::util::on_tmpfs("bench-image", "12g", |dir| run_in(dir, runs))
}

fn run_in(dir: &Path, runs: usize) -> Result<()> {
    let peapod = crate::dist::release_dir()?.join("peapod");
    let fixture = target_dir().join("fixtures/debian/oci");
    // Two registries: skopeo reuses the blobs a registry already has rather than
    // recompressing them, so the zstd copy gets a registry of its own.
    let registry = Registry::start(&dir.join("gzip"))?;
    let zregistry = Registry::start(&dir.join("zstd"))?;
    let archive = dir.join("debian-docker-archive.tar");
    for (reg, extra) in [
        (&registry, &[][..]),
        (
            &zregistry,
            &["--dest-compress", "--dest-compress-format", "zstd"][..],
        ),
    ] {
        run_command(
            Command::new("skopeo")
                .args(["copy", "--quiet", "--dest-tls-verify=false"])
                .args(extra)
                .arg(format!("oci:{}:latest", fixture.display()))
                .arg(format!("docker://{}/debian:1", reg.host())),
        )?;
    }
    run_command(
        Command::new("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!("oci:{}:latest", fixture.display()))
            .arg(format!(
                "docker-archive:{}:debian:latest",
                archive.display()
            )),
    )?;
    let store = dir.join("store");
    // podman refuses a run root of 50 characters or more.
    let runroot = PathBuf::from("/run/peapod-bench-rr");
    let probe = rss_probe(dir)?;
    let mut table = Vec::new();
    for (tag, reg) in [("gzip", &registry), ("zstd", &zregistry)] {
        let host = reg.host();
        let reference = format!("{host}/debian:1");
        let layers = layer_digests(&reference)?;
        let untar = if tag == "zstd" {
            "tar --zstd -x"
        } else {
            "tar -xz"
        };
        let (store_a, store_b, store_c, rr) =
            (store.clone(), store.clone(), store.clone(), runroot.clone());
        let (pp, r1, r2, r3) = (
            peapod.clone(),
            reference.clone(),
            reference.clone(),
            host.clone(),
        );
        let contenders = vec![
            Contender {
                name: "floor (curl | tar)",
                command: Box::new(move |_| {
                    let mut cmd = Command::new("sh");
                    cmd.arg("-c")
                        .arg(format!(
                            "set -e; for d in {}; do mkdir -p \"$OUT/$d\"; curl -sf http://{r3}/v2/debian/blobs/$d | {untar} -C \"$OUT/$d\"; done",
                            layers.join(" ")
                        ))
                        .env("OUT", &store_a);
                    cmd
                }),
            },
            Contender {
                name: "peapod pull",
                command: Box::new(move |_| {
                    let mut cmd = Command::new(&pp);
                    cmd.arg("--root")
                        .arg(&store_b)
                        .args(["pull", "-q", "--tls-verify=false", &r1]);
                    cmd
                }),
            },
            Contender {
                name: "podman pull",
                command: Box::new(move |_| {
                    let mut cmd = podman(&store_c, &rr);
                    cmd.args(["pull", "-q", "--tls-verify=false", &r2]);
                    cmd
                }),
            },
        ];
        table.push((
            format!("pull ({tag})"),
            measure(&contenders, &store, &runroot, runs, &probe)?,
        ));
    }
    let (a, b, pp) = (archive.clone(), archive.clone(), peapod.clone());
    let (s1, s2, rr) = (store.clone(), store.clone(), runroot.clone());
    let loaders = vec![
        Contender {
            name: "peapod load",
            command: Box::new(move |_| {
                let mut cmd = Command::new(&pp);
                cmd.arg("--root")
                    .arg(&s1)
                    .args(["load", "-q", "-i"])
                    .arg(&a);
                cmd
            }),
        },
        Contender {
            name: "podman load",
            command: Box::new(move |_| {
                let mut cmd = podman(&s2, &rr);
                cmd.args(["load", "-q", "-i"]).arg(&b);
                cmd
            }),
        },
    ];
    table.push((
        "load (docker-archive)".into(),
        measure(&loaders, &store, &runroot, runs, &probe)?,
    ));
    print_table(&table, runs);
    drop((registry, zregistry));
    Ok(())
}

/// Median ms and peak RSS (KiB) per contender, each run from an empty store, round-robin.
fn measure(
    contenders: &[Contender],
    store: &Path,
    runroot: &Path,
    runs: usize,
    probe: &Path,
) -> Result<Vec<Row>> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for i in 0..=runs {
        for (c, out) in contenders.iter().zip(samples.iter_mut()) {
            fresh(store)?;
            fresh(runroot)?;
            let t = time_one(c, i)?;
            if i > 0 {
                out.push(t);
            }
        }
    }
    let mut rows = Vec::new();
    for (c, s) in contenders.iter().zip(&samples) {
        fresh(store)?;
        fresh(runroot)?;
        let rss = peak_rss(probe, c, 0)?;
        rows.push((c.name, percentiles(s).0, rss));
    }
    fresh(store)?;
    let _ = std::fs::remove_dir_all(runroot);
    Ok(rows)
}

fn print_table(table: &[(String, Vec<Row>)], runs: usize) {
    println!(
        "\nImages: the debian fixture (4 layers) from a local registry, {runs} runs each, empty store each run, round-robin"
    );
    println!(
        "{:<24} {:<20} {:>10} {:>10} {:>10} {:>12}",
        "", "", "median ms", "x first", "x podman", "peak RSS"
    );
    for (what, rows) in table {
        let first = rows.first().map_or(f64::NAN, |r| r.1);
        let podman = rows
            .iter()
            .find(|r| r.0.starts_with("podman"))
            .map_or(f64::NAN, |r| r.1);
        for (name, med, rss) in rows {
            println!(
                "{what:<24} {name:<20} {med:>10.0} {:>10.2} {:>10.2} {:>8.1} MiB",
                med / first,
                med / podman,
                *rss as f64 / 1024.0
            );
        }
    }
}
