//! `cargo xtask demo`: what peapod does on a fresh machine, offline: the OCI runtime
//! (`peapod-oci`) step by step, then the engine (`peapod`, in [`crate::demo_engine`]) on the
//! busybox image. It says plainly what has not landed yet.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::util::{cargo, is_root, output, run_command, target_dir};
use crate::{deps, fixtures};

pub(crate) fn run() -> Result<()> {
    if !is_root() {
        bail!("the demo runs containers and needs root");
    }
    section("host packages");
    deps::ensure()?;

    section("build peapod");
    run_command(cargo().args(["build", "--release", "--package", "peapod-cli"]))?;
    let bin = target_dir().join("release");
    for name in ["peapod", "peapod-oci"] {
        println!(
            "  {}",
            output(Command::new(bin.join(name)).arg("--version"))?.trim()
        );
    }

    section("test images (built offline from Debian's busybox-static)");
    let dir = fixtures::build_default()?;
    for image in ["busybox", "layered"] {
        println!(
            "  {}: oci/, oci-archive.tar, docker-archive.tar",
            dir.join(image).display()
        );
    }

    let oci = Oci {
        bin: bin.join("peapod-oci"),
        root: target_dir().join("demo/state"),
    };
    let bundle = busybox_bundle(&dir, &target_dir().join("demo/bundle"), &oci)?;

    section("peapod-oci run: a busybox shell in its own namespaces, with a 64 MiB memory limit");
    let script = "echo \"hostname: $(hostname)\"; echo \"my pid: $$\"; echo \"processes I can see: $(ls -d /proc/[0-9]* | wc -l)\"; \
                  echo \"mounts I can see: $(wc -l < /proc/self/mounts)\"; echo \"network links: $(ls /sys/class/net | tr '\\n' ' ')\"; \
                  echo \"root filesystem read-only: $(touch /x 2>/dev/null && echo no || echo yes)\"; \
                  echo \"memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) bytes\"";
    write_config(&bundle, &["sh", "-c", script])?;
    oci.show(&["run", "--bundle", path(&bundle)?, "demo-run"])?;

    section("the lifecycle, step by step");
    write_config(&bundle, &["sleep", "600"])?;
    oci.show(&["create", "--bundle", path(&bundle)?, "demo"])?;
    oci.show(&["state", "demo"])?;
    if let Ok(limit) =
        std::fs::read_to_string("/sys/fs/cgroup/memory/peapod/demo/memory.limit_in_bytes")
    {
        println!(
            "  memory limit of the container's cgroup: {} bytes",
            limit.trim()
        );
    } else if let Ok(limit) = std::fs::read_to_string("/sys/fs/cgroup/peapod/demo/memory.max") {
        println!(
            "  memory limit of the container's cgroup: {} bytes",
            limit.trim()
        );
    }
    oci.show(&["start", "demo"])?;
    oci.show(&["list"])?;
    oci.show(&["ps", "demo"])?;
    oci.show(&["kill", "demo", "KILL"])?;
    std::thread::sleep(std::time::Duration::from_millis(100));
    oci.show(&["state", "demo"])?;
    oci.show(&["delete", "demo"])?;

    crate::demo_engine::run(&bin.join("peapod"), &dir, &target_dir().join("demo/engine"))?;

    section("more");
    println!("  the OCI runtime against crun and runc: cargo xtask bench runtime");
    Ok(())
}

struct Oci {
    bin: PathBuf,
    root: PathBuf,
}

impl Oci {
    /// Runs `peapod-oci --root … ARGS` on our own stdout and stderr, echoing the command. (Not
    /// through pipes: a created container's process inherits them and holds them open.)
    fn show(&self, args: &[&str]) -> Result<()> {
        println!("\n$ peapod-oci {}", args.join(" "));
        std::io::Write::flush(&mut std::io::stdout())?;
        let status = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .status()?;
        if !status.success() {
            bail!("peapod-oci {} failed: {status}", args.join(" "));
        }
        Ok(())
    }
}

/// Unpacks the busybox fixture into `dir/rootfs` (fresh) and writes `peapod-oci spec`'s config.
fn busybox_bundle(fixtures: &Path, dir: &Path, oci: &Oci) -> Result<PathBuf> {
    for id in ["demo", "demo-run"] {
        let _ = Command::new(&oci.bin)
            .arg("--root")
            .arg(&oci.root)
            .args(["delete", "--force", id])
            .output();
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let image = format!("{}:latest", fixtures.join("busybox/oci").display());
    run_command(
        Command::new("umoci")
            .args(["raw", "unpack", "--image", &image])
            .arg(dir.join("rootfs")),
    )?;
    run_command(Command::new(&oci.bin).args(["spec", "--bundle"]).arg(dir))?;
    Ok(dir.to_path_buf())
}

/// Sets the args and a 64 MiB memory limit in the bundle's config.
fn write_config(bundle: &Path, args: &[&str]) -> Result<()> {
    let path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    config["process"]["args"] = json!(args);
    config["root"]["readonly"] = json!(true);
    config["linux"]["resources"]["memory"] = json!({"limit": 64 * 1024 * 1024});
    // The container sees its own cgroup (a cgroup namespace and a read-only cgroup mount).
    if let Some(namespaces) = config["linux"]["namespaces"].as_array_mut() {
        if !namespaces.iter().any(|n| n["type"] == "cgroup") {
            namespaces.push(json!({"type": "cgroup"}));
        }
    }
    if let Some(mounts) = config["mounts"].as_array_mut() {
        if !mounts.iter().any(|m| m["destination"] == "/sys/fs/cgroup") {
            mounts.push(
                json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
            );
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}

fn path(p: &Path) -> Result<&str> {
    p.to_str().context("non-UTF-8 path")
}

fn section(title: &str) {
    println!("\n== {title}");
}
