//! An image becomes a running container: the busybox fixture loaded into an image store,
//! its layers overlaid under a container's upper directory, the user resolved from the
//! image's own /etc/passwd, config.json built with docker's defaults, and the bundle run by
//! our OCI runtime (the `peapod-oci` binary). What the process wrote lands in the upper
//! directory; nothing is left mounted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::path::{Path, PathBuf};
use std::process::Command;

use peapod_engine::rootfs::ContainerRootfs;
use peapod_engine::spec::{ContainerConfig, ImageConfig, build_spec, resolve_user};
use peapod_image::Images;

fn target_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_path_buf()
}

fn peapod_oci() -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(2)
        .unwrap()
        .join("peapod-oci");
    assert!(
        exe.is_file(),
        "{} is not built: cargo build -p peapod-cli",
        exe.display()
    );
    exe
}

fn mounted_under(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&*dir.to_string_lossy()))
        .map(ToOwned::to_owned)
        .collect()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn an_image_runs_as_its_own_user_and_writes_into_the_upper_dir() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "run as root (cargo xtask test)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let images = Images::open(&tmp.path().join("store")).unwrap();
    let fixture = target_dir().join("fixtures/busybox/oci");
    let loaded =
        peapod_image::archive::load_oci_dir(images.store(), &fixture, Some("latest"), None)
            .unwrap();
    let record = images.store().image(&loaded[0].id).unwrap().unwrap();
    let layers: Vec<PathBuf> = record
        .layers
        .iter()
        .map(|l| images.store().layer_path(&l.chain_id))
        .collect();

    let dir = tmp.path().join("containers/c1");
    let rootfs = ContainerRootfs::at(&dir);
    rootfs.create().unwrap();
    let merged = rootfs.mount(&layers).unwrap();
    let passwd = rootfs
        .read_file("/etc/passwd", 1 << 20)
        .unwrap()
        .unwrap_or_default();
    let group = rootfs
        .read_file("/etc/group", 1 << 20)
        .unwrap()
        .unwrap_or_default();
    assert_eq!(rootfs.read_file("/etc/no-such-file", 10).unwrap(), None);
    let user = resolve_user("nobody", &passwd, &group).unwrap();
    let image = ImageConfig::from_image_config(&images.config(&record).unwrap()).unwrap();
    assert_eq!(image.cmd, ["sh"]);
    let opts = ContainerConfig {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "id > /tmp/out; echo $HOME $HOSTNAME $PATH >> /tmp/out".into(),
        ],
        ..ContainerConfig::default()
    };
    let id = format!("engine-bundle-{}", std::process::id());
    let spec = build_spec(
        &image,
        &opts,
        &user,
        "c1host",
        &merged,
        &format!("/peapod-test/{id}"),
    )
    .unwrap();
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&spec).unwrap()).unwrap();

    let state = tmp.path().join("state");
    let out = Command::new(peapod_oci())
        .arg("--root")
        .arg(&state)
        .args(["run", "--bundle"])
        .arg(&dir)
        .arg(&id)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(rootfs.upper().join("tmp/out")).unwrap();
    assert_eq!(
        written,
        "uid=65534(nobody) gid=65534(nobody)\n/nonexistent c1host /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    // The image's layers were not touched.
    assert!(layers.iter().all(|l| !l.join("tmp/out").exists()));
    rootfs.remove().unwrap();
    assert!(
        mounted_under(tmp.path()).is_empty(),
        "{:?}",
        mounted_under(tmp.path())
    );
    assert!(!dir.exists());
}
