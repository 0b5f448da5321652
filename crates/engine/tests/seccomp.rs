//! Seccomp profiles at work: busybox (and, when built, the debian fixture) run by our OCI
//! runtime under peapod's default profile, a docker-format profile and podman's own. Ordinary
//! commands work; what the profile denies fails with EPERM; a capability unlocks its calls.
//! Every run leaves nothing mounted and no cgroup behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cgroups_of, mounted_under, peapod_oci, target_dir};
use peapod_engine::rootfs::ContainerRootfs;
use peapod_engine::spec::seccomp::{default_profile, from_docker_profile};
use peapod_engine::spec::{ContainerConfig, ImageConfig, build_spec, resolve_user};
use peapod_image::Images;
use serde_json::Value;

/// One image loaded into a private store, ready to run containers from.
struct Image {
    tmp: tempfile::TempDir,
    layers: Vec<PathBuf>,
    config: ImageConfig,
    runs: u32,
}

impl Image {
    fn load(fixture: &str) -> Image {
        assert!(
            nix::unistd::geteuid().is_root(),
            "run as root (cargo xtask test)"
        );
        let tmp = tempfile::tempdir().unwrap();
        let images = Images::open(&tmp.path().join("store")).unwrap();
        let dir = target_dir().join("fixtures").join(fixture).join("oci");
        let loaded =
            peapod_image::archive::load_oci_dir(images.store(), &dir, Some("latest"), None)
                .unwrap();
        let record = images.store().image(&loaded[0].id).unwrap().unwrap();
        let layers = record
            .layers
            .iter()
            .map(|l| images.store().layer_path(&l.chain_id))
            .collect();
        let config = ImageConfig::from_image_config(&images.config(&record).unwrap()).unwrap();
        Image {
            tmp,
            layers,
            config,
            runs: 0,
        }
    }

    /// Runs `script` with `sh -c` as root with `cap_add`, under the profile `seccomp` makes
    /// of the container's bounding set (`None`: no filter); returns (success, stdout+stderr).
    fn run(
        &mut self,
        script: &str,
        cap_add: &[&str],
        seccomp: impl Fn(&[String]) -> Option<Value>,
    ) -> (bool, String) {
        self.runs += 1;
        let id = format!("engine-seccomp-{}-{}", std::process::id(), self.runs);
        let dir = self.tmp.path().join("containers").join(&id);
        let rootfs = ContainerRootfs::at(&dir);
        rootfs.create().unwrap();
        let merged = rootfs.mount(&self.layers).unwrap();
        let opts = ContainerConfig {
            cmd: vec!["sh".into(), "-c".into(), format!("exec 2>&1; {script}")],
            cap_add: cap_add.iter().map(|c| (*c).to_owned()).collect(),
            ..ContainerConfig::default()
        };
        let user = resolve_user("", "", "").unwrap();
        let spec = build_spec(
            &self.config,
            &opts,
            &user,
            "seccomp",
            &merged,
            &format!("/peapod-test/{id}"),
        )
        .unwrap();
        let mut spec = serde_json::to_value(&spec).unwrap();
        let bounding: Vec<String> =
            serde_json::from_value(spec["process"]["capabilities"]["bounding"].clone()).unwrap();
        if let Some(profile) = seccomp(&bounding) {
            spec["linux"]["seccomp"] = profile;
        }
        std::fs::write(dir.join("config.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
        let out = Command::new(peapod_oci())
            .arg("--root")
            .arg(self.tmp.path().join("state"))
            .args(["run", "--bundle"])
            .arg(&dir)
            .arg(&id)
            .output()
            .unwrap();
        rootfs.remove().unwrap();
        assert!(mounted_under(&dir).is_empty(), "{:?}", mounted_under(&dir));
        assert!(cgroups_of(&id).is_empty(), "{:?}", cgroups_of(&id));
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(
                mounted_under(self.tmp.path()).is_empty(),
                "{:?}",
                mounted_under(self.tmp.path())
            );
        }
    }
}

fn default(caps: &[String]) -> Option<Value> {
    Some(default_profile(caps))
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_default_profile_allows_ordinary_work_and_denies_namespaces_and_mounts() {
    let mut busybox = Image::load("busybox");
    let (ok, out) = busybox.run(
        "echo hi > /tmp/f && cat /tmp/f && ls / >/dev/null && id -u && sleep 0.1 && \
         mkdir /tmp/d && ln -s /tmp/d /tmp/l && rm -r /tmp/d /tmp/l /tmp/f && \
         sh -c 'echo child' && echo done",
        &[],
        default,
    );
    assert!(ok, "{out}");
    assert_eq!(out, "hi\n0\nchild\ndone\n");

    let probe = "unshare -n true; echo unshare=$?; mkdir /m; mount -t tmpfs t /m; echo mount=$?; \
                 touch /tmp/swap; swapon /tmp/swap; echo swapon=$?";
    // Without CAP_SYS_ADMIN all three fail with EPERM (busybox mount words it its own way).
    let (ok, denied) = busybox.run(probe, &[], default);
    assert!(ok, "{denied}");
    assert_eq!(
        denied,
        "unshare: unshare(0x40000000): Operation not permitted\nunshare=1\n\
         mount: permission denied (are you root?)\nmount=1\n\
         swapon: /tmp/swap: Operation not permitted\nswapon=1\n"
    );
    // With it, the profile lets unshare and mount through; swapon stays denied, by the
    // profile and not the kernel: without a filter the kernel gets to refuse the file itself.
    let (ok, admin) = busybox.run(probe, &["SYS_ADMIN"], default);
    assert!(ok, "{admin}");
    assert_eq!(
        admin,
        "unshare=0\nmount=0\nswapon: /tmp/swap: Operation not permitted\nswapon=1\n"
    );
    let (ok, unfiltered) = busybox.run(probe, &["SYS_ADMIN"], |_| None);
    assert!(ok, "{unfiltered}");
    assert!(
        unfiltered.starts_with("unshare=0\nmount=0\nswapon: /tmp/swap: "),
        "{unfiltered}"
    );
    assert!(
        !unfiltered.contains("Operation not permitted"),
        "{unfiltered}"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn docker_and_podman_profile_files_apply() {
    let mut busybox = Image::load("busybox");
    let no_mkdir = br#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    }"#;
    let docker = |caps: &[String]| from_docker_profile(no_mkdir, caps).unwrap();
    let (ok, out) = busybox.run(
        "mkdir /x; echo mkdir=$?; touch /y && echo touched",
        &[],
        docker,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Operation not permitted") && out.contains("mkdir=1\ntouched"),
        "{out}"
    );

    let podman_file = Path::new("/usr/share/containers/seccomp.json");
    let podman = std::fs::read(podman_file).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (apt-get install golang-github-containers-common)",
            podman_file.display()
        )
    });
    let podman = |caps: &[String]| from_docker_profile(&podman, caps).unwrap();
    let (ok, out) = busybox.run(
        "hostname && mkdir /x && echo made; unshare -n true; echo unshare=$?",
        &[],
        podman,
    );
    assert!(ok, "{out}");
    assert!(out.starts_with("seccomp\nmade\n"), "{out}");
    assert!(out.contains("unshare=1"), "{out}");
    // With CAP_SYS_ADMIN podman's profile lets unshare through and still denies swapon
    // with its own errno rule (the kernel alone would refuse the file, not the caller).
    let (ok, out) = busybox.run(
        "unshare -n true; echo unshare=$?; touch /s; swapon /s; echo swapon=$?",
        &["SYS_ADMIN"],
        podman,
    );
    assert!(ok, "{out}");
    assert_eq!(
        out,
        "unshare=0\nswapon: /s: Operation not permitted\nswapon=1\n"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn debian_runs_apt_and_dpkg_under_the_default_profile() {
    let mut debian = Image::load("debian");
    let (ok, out) = debian.run(
        "apt-get --version | head -n1 && dpkg -l | grep -c '^ii' && \
         perl -e 'print qq(perl ok\\n)' && getent passwd root",
        &[],
        default,
    );
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("apt "), "{out}");
    assert!(lines[1].parse::<u32>().unwrap() > 50, "{out}");
    assert_eq!(
        lines[2..],
        ["perl ok", "root:x:0:0:root:/root:/bin/bash"],
        "{out}"
    );
}
