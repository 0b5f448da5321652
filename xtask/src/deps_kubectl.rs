//! `cargo xtask deps`, part three: Debian's kubectl and the Kubernetes schema it validates
//! against, for the test that `kubectl apply --dry-run=client` takes `peapod kube generate`'s
//! manifests (`crates/cli/tests/kubectl/`).
//!
//! - `kubectl`: Debian 12's `kubernetes-client` (1.20.2), unpacked from its package rather
//!   than installed: its `/usr/bin/kubectl` would clash with a `kubectl` package already
//!   there (the machines here have Google's, 1.32, as `kubectl`).
//! - `swagger.json`: the official OpenAPI v2 document of the same release,
//!   `api/openapi-spec/swagger.json` of Debian's `kubernetes` source package (Apache-2.0,
//!   as Kubernetes), read out of its upstream tarball and checked against [`SWAGGER_SHA256`].
//!
//! Both come from the Debian archive the host uses, through a private apt state
//! ([`crate::deps_apt`]), and go under [`DIR`], which the VM guest sees too.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use crate::deps_apt::PrivateApt;
use crate::fixtures::sha256_hex;
use crate::util::{self, run_command};
use anyhow::{Context, Result, bail};

/// Where they go; the test reads `DIR/kubectl` and `DIR/swagger.json`.
pub(crate) const DIR: &str = "/usr/local/lib/peapod-kubectl";

/// The Debian suite, the one with `kubernetes-client`.
const SUITE: &str = "bookworm";

/// Kubernetes 1.20.2's `api/openapi-spec/swagger.json`.
const SWAGGER_SHA256: &str = "c7354e6ab4034a89873229a9b7c1fa31fa6242b2e5f5a9b67c3be4fc67cb903c";

/// Where the document is in the source tarball (after its top directory).
const SWAGGER_PATH: &str = "api/openapi-spec/swagger.json";

/// Puts kubectl and the document under [`DIR`] unless both are there and right.
pub(crate) fn ensure() -> Result<()> {
    let dir = Path::new(DIR);
    if ready(dir) {
        eprintln!("deps: Debian's kubectl and Kubernetes' swagger.json are in {DIR}");
        return Ok(());
    }
    if !util::is_root() {
        bail!(
            "deps: no kubectl and swagger.json in {DIR}; fetching them needs root (run `cargo xtask deps` as root)"
        );
    }
    let apt = PrivateApt::new(
        "peapod-deps-kubectl",
        &[
            &format!("deb {{archive}} {SUITE} main"),
            &format!("deb-src {{archive}} {SUITE} main"),
        ],
    )?;
    run_command(
        apt.command()
            .args(["download", &format!("kubernetes-client/{SUITE}")]),
    )?;
    run_command(
        apt.command()
            .args(["source", "--download-only", &format!("kubernetes/{SUITE}")]),
    )?;
    let root = apt.debs().join("root");
    apt.unpack_debs(&root)?;
    std::fs::create_dir_all(dir)?;
    std::fs::copy(root.join("usr/bin/kubectl"), dir.join("kubectl"))
        .with_context(|| format!("cannot copy kubectl into {DIR}"))?;
    let tarball = std::fs::read_dir(apt.debs())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".orig.tar.gz"))
        .context("deps: apt-get source gave no kubernetes_*.orig.tar.gz")?;
    let swagger = swagger_from(&tarball)?;
    let sum = sha256_hex(&swagger);
    if sum != SWAGGER_SHA256 {
        bail!(
            "deps: {SWAGGER_PATH} of {} has sha256 {sum}, not {SWAGGER_SHA256}",
            tarball.display()
        );
    }
    let tmp = dir.join(".swagger.json.tmp");
    std::fs::write(&tmp, &swagger)?;
    std::fs::rename(&tmp, dir.join("swagger.json"))?;
    if !ready(dir) {
        bail!("deps: {DIR}/kubectl does not run (`kubectl version --client`)");
    }
    eprintln!("deps: Debian {SUITE}'s kubectl and Kubernetes' swagger.json put in {DIR}");
    Ok(())
}

/// Whether `kubectl version --client` runs and the document is the expected one.
fn ready(dir: &Path) -> bool {
    let runs = Command::new(dir.join("kubectl"))
        .args(["version", "--client"])
        .output()
        .is_ok_and(|out| out.status.success());
    runs && std::fs::read(dir.join("swagger.json")).is_ok_and(|b| sha256_hex(&b) == SWAGGER_SHA256)
}

/// `*/api/openapi-spec/swagger.json` out of a `.tar.gz`.
fn swagger_from(tarball: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(tarball)
        .with_context(|| format!("cannot open {}", tarball.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let inner: std::path::PathBuf = path.components().skip(1).collect();
        if inner == Path::new(SWAGGER_PATH) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            return Ok(bytes);
        }
    }
    bail!("deps: no {SWAGGER_PATH} in {}", tarball.display())
}
