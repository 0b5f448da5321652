//! `cargo xtask dist`: peapod's binaries as they ship: statically linked (glibc and
//! libseccomp inside) and position-dependent, in `target/<host>/release/`.
//!
//! A container runtime is a process started for every verb, so its start-up is part of every
//! container's: here a static, non-PIE `peapod-oci --version` takes about 0.8 ms against
//! 1.4 ms for the default dynamic PIE build (no dynamic loader, no libraries to map, no
//! relocations to write), and it needs nothing but the kernel at run time.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{cargo, output, run_command, target_dir};

/// Builds the static release binaries; returns the directory holding them.
pub(crate) fn build() -> Result<PathBuf> {
    let host = host_triple()?;
    let libseccomp = output(Command::new("cc").arg("-print-file-name=libseccomp.a"))?;
    let libseccomp = PathBuf::from(libseccomp.trim());
    let Some(lib_dir) = libseccomp.parent().filter(|_| libseccomp.is_absolute()) else {
        bail!(
            "cannot find libseccomp.a (Debian's libseccomp-dev has it; `cargo xtask deps` \
             installs it)"
        );
    };
    run_command(
        cargo()
            .args(["build", "--release", "--quiet", "--package", "peapod-cli"])
            .args(["--target", &host])
            // With --target, these flags reach only the binaries, not build scripts or
            // proc-macros (which cannot be static).
            .env(
                "RUSTFLAGS",
                "-C target-feature=+crt-static -C relocation-model=static",
            )
            .env("LIBSECCOMP_LINK_TYPE", "static")
            .env("LIBSECCOMP_LIB_PATH", lib_dir),
    )?;
    release_dir()
}

/// Where [`build`] puts the binaries.
pub(crate) fn release_dir() -> Result<PathBuf> {
    Ok(target_dir().join(host_triple()?).join("release"))
}

/// The triple rustc builds for by default (`host:` in `rustc -vV`).
fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let info = output(Command::new(rustc).arg("-vV"))?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host triple")
}

/// `cargo xtask dist`: build, then say where the binaries are.
pub(crate) fn run() -> Result<()> {
    let dir = build()?;
    for name in ["peapod-oci", "peapod"] {
        println!("{}", dir.join(name).display());
    }
    Ok(())
}
