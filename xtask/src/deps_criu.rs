//! `cargo xtask deps`, part two: a criu that works on this host's kernel and the guest's.
//!
//! Debian 12's criu 3.17.1 fails `criu check` on the hosts' kernel 6.18 ("vdso: Failed to
//! fill self vdso symtable"). Debian 13's criu 4.1.1 passes it there, but needs glibc 2.38
//! and Debian 12 has 2.36. So its package, its libcompel1 and Debian 13's libc6 are
//! fetched from the Debian archive the host already uses (`apt-get download` with a
//! private list of sources, [`crate::deps_apt`]), unpacked under
//! [`DIR`], and run through that glibc's own loader by the wrapper [`DIR`]`/criu`; every
//! other library is the host's (Debian 12's `criu` package, in the package list, brings
//! them in). The VM guest sees the host's root read-only, so the same wrapper serves it.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::deps_apt::PrivateApt;
use crate::util::{self, run_command};

/// Where criu 4.x lives; the privileged tests run `DIR/criu` (or `$PEAPOD_CRIU`).
pub(crate) const DIR: &str = "/usr/local/lib/peapod-criu";

/// The Debian suite and packages taken from it.
const SUITE: &str = "trixie";
const PACKAGES: &[&str] = &["criu", "libcompel1", "libc6"];

/// Installs criu under [`DIR`] unless a working one is there.
pub(crate) fn ensure() -> Result<()> {
    let wrapper = Path::new(DIR).join("criu");
    if works(&wrapper) {
        eprintln!("deps: {} passes `criu check`", wrapper.display());
        return Ok(());
    }
    if !util::is_root() {
        bail!(
            "deps: no working criu at {DIR}; installing it needs root (run `cargo xtask deps` as root)"
        );
    }
    let apt = PrivateApt::new(
        "peapod-deps-criu",
        &[&format!("deb {{archive}} {SUITE} main")],
    )?;
    run_command(
        apt.command()
            .arg("download")
            .args(PACKAGES.iter().map(|p| format!("{p}/{SUITE}"))),
    )?;
    let root = Path::new(DIR).join("root");
    let _ = std::fs::remove_dir_all(&root);
    apt.unpack_debs(&root)?;
    write_wrapper(&wrapper, &root)?;
    if !works(&wrapper) {
        let out = Command::new(&wrapper).arg("check").output()?;
        bail!(
            "deps: {} fails `criu check`: {}",
            wrapper.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("deps: criu from Debian {SUITE} installed under {DIR}");
    Ok(())
}

/// `DIR/criu`: runs the unpacked criu through the unpacked glibc's loader.
fn write_wrapper(wrapper: &Path, root: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let libs = root.join("usr/lib/x86_64-linux-gnu");
    let script = format!(
        "#!/bin/sh\n# cargo xtask deps: Debian {SUITE}'s criu with its own glibc (see xtask/src/deps_criu.rs)\n\
         exec {libs}/ld-linux-x86-64.so.2 --library-path {libs} --argv0 criu {criu} \"$@\"\n",
        libs = libs.display(),
        criu = root.join("usr/sbin/criu").display()
    );
    std::fs::write(wrapper, script)?;
    std::fs::set_permissions(wrapper, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Whether `criu check` passes.
fn works(criu: &Path) -> bool {
    Command::new(criu)
        .arg("check")
        .output()
        .is_ok_and(|out| out.status.success())
}
