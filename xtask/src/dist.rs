//! `cargo xtask dist`: peapod's binaries as they ship: statically linked (glibc and
//! libseccomp inside) and position-dependent, in `target/<host>/release/`.
//!
//! A container runtime is a process started for every verb, so its start-up is part of every
//! container's: here a static, non-PIE `peapod-oci --version` takes about 0.8 ms against
//! 1.4 ms for the default dynamic PIE build (no dynamic loader, no libraries to map, no
//! relocations to write), and it needs nothing but the kernel at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::test::Tally;
use crate::util::{cargo, output, run_command, target_dir};

/// How a static, position-dependent binary is built; shared with the test fixtures' checker
/// (same flags, same target directory: neither build undoes the other's).
pub(crate) const STATIC_RUSTFLAGS: &str =
    "-C target-feature=+crt-static -C relocation-model=static";

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
            .env("RUSTFLAGS", STATIC_RUSTFLAGS)
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

/// Part of `cargo xtask test`: builds the shipped binaries and runs a container with them,
/// since the static build must work, not only link. Counts as one test in `total`.
pub(crate) fn smoke_test(total: &mut Tally) -> Result<()> {
    eprintln!("test: the shipped (static) peapod-oci runs a container");
    let result = smoke();
    match &result {
        Ok(()) => {
            total.passed += 1;
            eprintln!("test dist::the_shipped_static_binary_runs_a_container ... ok");
        }
        Err(e) => {
            total.failed += 1;
            eprintln!("test dist::the_shipped_static_binary_runs_a_container ... FAILED: {e:#}");
        }
    }
    result
}

fn smoke() -> Result<()> {
    let peapod = build()?.join("peapod-oci");
    if has_interpreter(&peapod)? {
        bail!("{} is dynamically linked", peapod.display());
    }
    let dir = target_dir().join("dist-smoke");
    let bundle = crate::bench::busybox_bundle(&dir, &peapod, &["sh", "-c", "echo up $(hostname)"])?;
    let id = format!("dist-smoke-{}", std::process::id());
    let root = dir.join("state");
    let out = Command::new(&peapod)
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot start {}", peapod.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || stdout != "up peapod\n" {
        bail!(
            "run: {}; stdout {stdout:?}, stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if root.join(&id).exists() {
        bail!("run left its state directory {}", root.join(&id).display());
    }
    // v1 hierarchies and hybrid's unified one are below /sys/fs/cgroup, pure v2 is it.
    let hierarchies = std::fs::read_dir("/sys/fs/cgroup")?
        .flatten()
        .map(|h| h.path())
        .chain([PathBuf::from("/sys/fs/cgroup")]);
    for hierarchy in hierarchies {
        let left = hierarchy.join(format!("peapod-{id}"));
        if left.exists() {
            bail!("run left its cgroup {}", left.display());
        }
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))
}

/// Whether the ELF file has a `PT_INTERP` program header (a dynamic loader to run it).
fn has_interpreter(path: &Path) -> Result<bool> {
    const PT_INTERP: u32 = 3;
    let elf = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let field = |at: usize, len: usize| -> Result<u64> {
        let bytes = elf
            .get(at..at + len)
            .with_context(|| format!("{} is not a 64-bit ELF file", path.display()))?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte)))
    };
    if elf.get(..5) != Some(&[0x7f, b'E', b'L', b'F', 2][..]) {
        bail!("{} is not a 64-bit ELF file", path.display());
    }
    let (phoff, phentsize, phnum) = (field(0x20, 8)?, field(0x36, 2)?, field(0x38, 2)?);
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize)?;
        if field(at, 4)? == u64::from(PT_INTERP) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dynamic_executable_has_an_interpreter_and_a_static_one_not() {
        assert!(super::has_interpreter(std::path::Path::new("/bin/sh")).unwrap());
        assert!(!super::has_interpreter(std::path::Path::new("/bin/busybox")).unwrap());
        assert!(super::has_interpreter(std::path::Path::new("/etc/hostname")).is_err());
    }
}
