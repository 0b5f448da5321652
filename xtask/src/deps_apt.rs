//! `apt-get` on a private list of sources, for packages `cargo xtask deps` unpacks under a
//! directory of its own instead of installing them (criu from Debian 13, Debian 12's
//! kubectl and Kubernetes sources): the host's apt lists, cache and installed packages are
//! left as they are.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::run_command;

/// A scratch apt state under a temp directory, its lists already updated.
pub(crate) struct PrivateApt {
    tmp: PathBuf,
}

impl PrivateApt {
    /// Makes the state under `$TMPDIR/NAME` (anew) with these `sources.list` lines
    /// (`{archive}` stands for the host's Debian archive), and runs `apt-get update`.
    pub(crate) fn new(name: &str, lines: &[&str]) -> Result<Self> {
        let tmp = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&tmp);
        for dir in ["lists/partial", "cache/archives/partial", "parts", "debs"] {
            std::fs::create_dir_all(tmp.join(dir))?;
        }
        let archive = archive_uri()?;
        let list: String = lines
            .iter()
            .map(|l| format!("{}\n", l.replace("{archive}", &archive)))
            .collect();
        std::fs::write(tmp.join("sources.list"), list)?;
        let apt = Self { tmp };
        run_command(apt.command().arg("update"))?;
        Ok(apt)
    }

    /// `apt-get` with the private state, run in [`Self::debs`].
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new("apt-get");
        cmd.current_dir(self.debs()).arg("-q");
        for (key, path) in [
            ("Dir::Etc::SourceList", self.tmp.join("sources.list")),
            ("Dir::Etc::SourceParts", self.tmp.join("parts")),
            ("Dir::State::Lists", self.tmp.join("lists")),
            ("Dir::Cache", self.tmp.join("cache")),
        ] {
            cmd.arg("-o").arg(format!("{key}={}", path.display()));
        }
        cmd.arg("-o").arg("APT::Sandbox::User=root");
        cmd
    }

    /// Where `apt-get download` and `apt-get source` put their files.
    pub(crate) fn debs(&self) -> PathBuf {
        self.tmp.join("debs")
    }

    /// Unpacks every `.deb` downloaded into `root` (made if missing).
    pub(crate) fn unpack_debs(&self, root: &Path) -> Result<()> {
        std::fs::create_dir_all(root)?;
        for deb in std::fs::read_dir(self.debs())? {
            let deb = deb?.path();
            if deb.extension().is_some_and(|e| e == "deb") {
                run_command(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(root))?;
            }
        }
        Ok(())
    }
}

impl Drop for PrivateApt {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// The URI of the Debian archive the host's apt uses (deb822 `URIs:` or a `deb` line).
fn archive_uri() -> Result<String> {
    let mut texts = Vec::new();
    for entry in std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path: PathBuf = entry.path();
        if path
            .extension()
            .is_some_and(|e| e == "sources" || e == "list")
        {
            texts.push(std::fs::read_to_string(path).unwrap_or_default());
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
