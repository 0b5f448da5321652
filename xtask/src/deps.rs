//! `cargo xtask deps`: the host packages peapod and its tests need, installed only if missing.

use std::process::Command;

use anyhow::{Result, bail};

use crate::util::{self, run_command};

/// Debian packages and why each is needed. Grow this list as issues need more.
const PACKAGES: &[(&str, &str)] = &[
    (
        "busybox-static",
        "the static busybox the test images are built from",
    ),
    ("nftables", "NAT and published ports"),
    ("iproute2", "network namespaces and links in tests"),
    ("skopeo", "validates the OCI fixtures"),
    ("umoci", "validates and unpacks the OCI fixtures"),
    (
        "podman",
        "a peer engine: reads back what `peapod save` writes; bench image",
    ),
    ("attr", "getfattr, to check unpacked xattrs"),
    (
        "mmdebstrap",
        "the debian fixture: a real Debian root filesystem from the archive",
    ),
    (
        "docker-registry",
        "image tests: a real registry (distribution 2.8) to pull from",
    ),
    (
        "apache2-utils",
        "image tests: htpasswd -B, the registry's basic-auth password file",
    ),
    (
        "openssl",
        "image tests: checks of the certificates the tests make",
    ),
    (
        "libseccomp-dev",
        "libseccomp, which compiles OCI seccomp profiles (linked by peapod-runtime)",
    ),
    ("pkg-config", "finds libseccomp when building"),
    (
        "tmux",
        "tty tests: a real terminal to type into, resize and read back (`-it`)",
    ),
    ("runc", "bench: a peer OCI runtime"),
    (
        "tini",
        "engine: the init `peapod run --init` mounts (tini-static)",
    ),
    ("zstd", "bench image: the floor's tar --zstd"),
    ("curl", "bench image: the floor's blob downloads"),
    ("crun", "bench: a peer OCI runtime"),
    (
        "netavark",
        "bench net: podman's network backend (its default bridge), as the issue measures it",
    ),
    ("iperf3", "bench net: TCP throughput over the bridges"),
    (
        "catatonit",
        "client tests: the init of the infra container podman builds for a pod",
    ),
    (
        "docker.io",
        "client tests and bench engine: docker as a peer (dockerd run privately by each)",
    ),
    (
        "containerd",
        "client tests: containerd (ctr, and its CRI plugin) drives peapod-oci",
    ),
    (
        "containernetworking-plugins",
        "client tests: the CNI bridge of a CRI pod network",
    ),
    (
        "protobuf-compiler",
        "client tests: protoc, which k8s-cri's build script needs",
    ),
    (
        "tmux",
        "client tests: a terminal for `podman run -it` and `docker run -it`",
    ),
    (
        "qemu-system-x86",
        "vm-test: the VM that runs the privileged tests on a cgroup v2 host",
    ),
    (
        "qemu-system-data",
        "vm-test: the qboot firmware (PVH boot of an uncompressed vmlinux)",
    ),
    (
        "linux-image-amd64",
        "vm-test: the guest kernel and its modules (/boot, /lib/modules)",
    ),
    ("xz-utils", "vm-test: unpacks the guest kernel's vmlinux"),
    (
        "e2fsprogs",
        "vm-test: mkfs.ext4 for the guest's scratch disk",
    ),
    (
        "criu",
        "checkpoint tests: the libraries of Debian 13's criu (see deps_criu.rs)",
    ),
];

/// Installs whatever is missing from [`PACKAGES`], then a working criu
/// ([`crate::deps_criu`]) and Debian's kubectl with Kubernetes' schema
/// ([`crate::deps_kubectl`]); does nothing if all are present.
pub(crate) fn ensure() -> Result<()> {
    ensure_packages()?;
    crate::deps_criu::ensure()?;
    crate::deps_kubectl::ensure()
}

fn ensure_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !installed(name))
        .collect();
    if missing.is_empty() {
        eprintln!("deps: all {} host packages are installed", PACKAGES.len());
        return Ok(());
    }
    if !util::is_root() {
        bail!(
            "deps: missing host packages {}; installing them needs root (run `cargo xtask deps` as root)",
            missing.join(", ")
        );
    }
    eprintln!("deps: installing {}", missing.join(", "));
    run_command(Command::new("apt-get").args(["update", "-q"]))?;
    // docker.io and containerd start their daemons when installed, unless invoke-rc.d's
    // policy says no: the tests start their own, privately. A policy of ours goes again
    // after the install; one already there is left as it is.
    let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
    let own_policy = !policy.exists();
    if own_policy {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            policy,
            "#!/bin/sh\n# cargo xtask deps: start no daemon while installing\nexit 101\n",
        )?;
        std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755))?;
    }
    let installed_now = run_command(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    );
    if own_policy {
        let _ = std::fs::remove_file(policy);
    }
    installed_now?;
    let still_missing: Vec<&str> = missing.into_iter().filter(|n| !installed(n)).collect();
    if !still_missing.is_empty() {
        bail!(
            "deps: apt-get reported success but {} is still not installed",
            still_missing.join(", ")
        );
    }
    Ok(())
}

/// Whether dpkg says the package is installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package])
        .output()
        .map(|out| out.status.success() && out.stdout == b"installed")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_that_does_not_exist_is_not_installed() {
        assert!(!installed("peapod-no-such-package"));
    }

    #[test]
    fn dpkg_itself_is_installed() {
        assert!(installed("dpkg"));
    }
}
