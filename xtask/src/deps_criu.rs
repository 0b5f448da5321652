//! `cargo xtask deps`, part two: a criu that works on this host's kernel and the guest's.
//!
//! Debian 12's criu 3.17.1 fails `criu check` on the hosts' kernel 6.18 ("vdso: Failed to
//! fill self vdso symtable"). Debian 13's criu 4.1.1 passes it there, but needs glibc 2.38
//! and Debian 12 has 2.36. So its package, its libcompel1 and Debian 13's libc6 are
//! fetched from the Debian archive the host already uses (`apt-get download` with a
//! private list of sources: nothing of the host's apt state changes), unpacked under
//! [`DIR`], and run through that glibc's own loader by the wrapper [`DIR`]`/criu`; every
//! other library is the host's (Debian 12's `criu` package, in the package list, brings
//! them in). The VM guest sees the host's root read-only, so the same wrapper serves it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

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
    let tmp = std::env::temp_dir().join("peapod-deps-criu");
    let _ = std::fs::remove_dir_all(&tmp);
    for dir in ["lists/partial", "cache/archives/partial", "parts", "debs"] {
        std::fs::create_dir_all(tmp.join(dir))?;
    }
    let list = tmp.join("sources.list");
    std::fs::write(&list, format!("deb {} {SUITE} main\n", archive_uri()?))?;
    let apt = |cmd: &mut Command| {
        cmd.arg("-q")
            .arg("-o")
            .arg(format!("Dir::Etc::SourceList={}", list.display()))
            .arg("-o")
            .arg(format!(
                "Dir::Etc::SourceParts={}",
                tmp.join("parts").display()
            ))
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", tmp.join("lists").display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", tmp.join("cache").display()))
            .arg("-o")
            .arg("APT::Sandbox::User=root");
    };
    let mut update = Command::new("apt-get");
    apt(&mut update);
    run_command(update.arg("update"))?;
    let mut download = Command::new("apt-get");
    apt(&mut download);
    download.current_dir(tmp.join("debs")).arg("download");
    download.args(PACKAGES.iter().map(|p| format!("{p}/{SUITE}")));
    run_command(&mut download)?;

    let root = Path::new(DIR).join("root");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    for deb in std::fs::read_dir(tmp.join("debs"))? {
        let deb = deb?.path();
        run_command(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    }
    write_wrapper(&wrapper, &root)?;
    let _ = std::fs::remove_dir_all(&tmp);
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

/// The URI of the Debian archive the host's apt uses (deb822 `URIs:` or a `deb` line).
fn archive_uri() -> Result<String> {
    let mut texts = Vec::new();
    for dir in ["/etc/apt/sources.list.d"] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path: PathBuf = entry.path();
            if path
                .extension()
                .is_some_and(|e| e == "sources" || e == "list")
            {
                texts.push(std::fs::read_to_string(path).unwrap_or_default());
            }
        }
    }
    texts.push(std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default());
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("URIs:").map(str::trim).or_else(|| {
                l.strip_prefix("deb ")
                    .and_then(|r| r.split_whitespace().next())
            })
        })
        .flat_map(str::split_whitespace)
        .find(|uri| uri.trim_end_matches('/').ends_with("/debian"))
        .map(str::to_owned)
        .context("deps: no Debian archive in the host's apt sources")
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
