//! `cargo xtask demo`: what peapod does on a fresh machine, offline. It shows what exists and
//! says plainly what has not landed yet.

use std::process::Command;

use anyhow::Result;

use crate::util::{cargo, output, run_command, target_dir};
use crate::{deps, fixtures};

pub(crate) fn run() -> Result<()> {
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
        println!("  {}", dir.join(image).display());
        for form in ["oci/", "oci-archive.tar", "docker-archive.tar"] {
            println!("    {form}");
        }
    }

    section("not there yet");
    println!(
        "  peapod-oci running a bundle, the container lifecycle and its isolation: the OCI runtime issue"
    );
    println!("  peapod run / pod / pull: the engine issues");
    println!("  The demo shows only what exists; it grows as these land.");
    Ok(())
}

fn section(title: &str) {
    println!("\n== {title}");
}
