//! `Images::pull` end to end against the real registry: the whole pipeline (manifest,
//! index, config, layers streamed through the store and the unpacker) and its failures.

use std::sync::Mutex;

use peapod_image::Images;
use peapod_image::images::PullOptions;
use peapod_image::pull::{Progress, Quiet};

use super::support::registry::Registry;
use super::support::{fixture, layout};
use super::{anonymous_tls, basic};

fn options(reg: &Registry) -> PullOptions {
    PullOptions {
        registry: reg.options(),
        ..PullOptions::default()
    }
}

fn tmp_is_empty(root: &std::path::Path) -> bool {
    std::fs::read_dir(root.join("tmp"))
        .unwrap()
        .next()
        .is_none()
}

/// The config digest (image id) of the fixture layout's `tag`, as skopeo reads it.
fn fixture_id(dir: &std::path::Path, tag: &str) -> String {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--config"])
        .arg(format!("oci:{}:{tag}", dir.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    peapod_image::Digest::of(&out.stdout).to_string()
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps); root to unpack"]
fn a_pull_by_tag_then_by_digest_stores_the_image_skopeo_pushed() {
    let reg = anonymous_tls();
    let r = reg.push_busybox("lib/busybox:1");
    let root = tempfile::tempdir().unwrap();
    let images = Images::open(root.path()).unwrap();
    let pulled = images.pull(&r.to_string(), &options(&reg), &Quiet).unwrap();
    assert_eq!(
        pulled.id.to_string(),
        fixture_id(&fixture("busybox"), "latest")
    );
    assert_eq!(pulled.fetched, 1);
    let names = images.store().names_of(&pulled.id).unwrap();
    assert!(names.contains(&r.to_string()), "{names:?}");
    let by_digest = names.iter().find(|n| n.contains('@')).unwrap().clone();
    let again = images.pull(&by_digest, &options(&reg), &Quiet).unwrap();
    assert_eq!((again.id, again.fetched), (pulled.id, 0));
    assert!(tmp_is_empty(root.path()));
    // What was pulled is what `images` and `inspect` show.
    assert_eq!(images.resolve(&r.to_string()).unwrap().layers.len(), 1);
    // And the crate doc's example: unpacked into a plain directory.
    let rootfs = root.path().join("rootfs");
    images.unpack_into(&r.to_string(), &rootfs).unwrap();
    assert!(rootfs.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        std::path::Path::new("/bin/busybox")
    );
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps); root to unpack"]
fn an_index_pull_picks_the_platform_and_an_unknown_one_is_refused() {
    let reg = anonymous_tls();
    let dir = tempfile::tempdir().unwrap();
    let two = layout::two_platforms(&fixture("busybox"), dir.path());
    reg.push_oci(dir.path(), "multi", "multi:1");
    let r = reg.reference("multi:1").to_string();
    let root = tempfile::tempdir().unwrap();
    let images = Images::open(root.path()).unwrap();
    let amd = images.pull(&r, &options(&reg), &Quiet).unwrap();
    let arm_opts = PullOptions {
        platform: "linux/arm64".parse().unwrap(),
        ..options(&reg)
    };
    let arm = images.pull(&r, &arm_opts, &Quiet).unwrap();
    assert_ne!(amd.id, arm.id);
    assert_eq!(
        images.resolve(&arm.id.to_string()).unwrap().architecture,
        "arm64"
    );
    assert!(
        amd.names
            .iter()
            .any(|n| n.ends_with(&format!("@{}", two.index))),
        "{:?}",
        amd.names
    );
    let before = images.store().image_ids().unwrap();
    let s390x = PullOptions {
        platform: "linux/s390x".parse().unwrap(),
        ..options(&reg)
    };
    let err = images.pull(&r, &s390x, &Quiet).unwrap_err().to_string();
    assert!(err.contains("no image for platform linux/s390x"), "{err}");
    assert!(err.contains("linux/amd64, linux/arm64/v8"), "{err}");
    assert_eq!(images.store().image_ids().unwrap(), before);
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps); root to unpack"]
fn gzip_and_zstd_pushes_of_the_debian_image_pull_to_the_same_layers() {
    let reg = anonymous_tls();
    let debian = fixture("debian");
    reg.push_oci(&debian, "latest", "debian:gzip");
    // Another registry for the zstd copy: skopeo reuses blobs a registry already has (the
    // gzip ones) rather than recompressing them.
    let zreg = anonymous_tls();
    zreg.push_with(
        &format!("oci:{}:latest", debian.display()),
        "debian:zstd",
        false,
        &["--dest-compress-format", "zstd", "--dest-compress"],
    );
    let root = tempfile::tempdir().unwrap();
    let images = Images::open(root.path()).unwrap();
    let gz = images
        .pull(
            &reg.reference("debian:gzip").to_string(),
            &options(&reg),
            &Quiet,
        )
        .unwrap();
    let zst = images
        .pull(
            &zreg.reference("debian:zstd").to_string(),
            &options(&zreg),
            &Quiet,
        )
        .unwrap();
    let (gz, zst) = (
        images.resolve(&gz.id.to_string()).unwrap(),
        images.resolve(&zst.id.to_string()).unwrap(),
    );
    assert_eq!(gz.layers.len(), 4);
    assert!(
        zst.layers.iter().all(|l| l.media_type.ends_with("+zstd")),
        "{:?}",
        zst.layers
    );
    let chains = |i: &peapod_image::store::ImageRecord| {
        i.layers
            .iter()
            .map(|l| l.chain_id.clone())
            .collect::<Vec<_>>()
    };
    // Same content: same diff_ids, same unpacked directories (shared, not duplicated).
    assert_eq!(chains(&gz), chains(&zst));
    assert!(root.path().join("layers").read_dir().unwrap().count() == 4);
}

/// Kills the registry the first time bytes of a layer arrive.
struct KillOnFirstBytes<'a>(&'a Mutex<Registry>);

impl Progress for KillOnFirstBytes<'_> {
    fn layer_bytes(&self, _blob: &peapod_image::Digest, _bytes: u64) {
        self.0.lock().unwrap().kill();
    }
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps); root to unpack"]
fn a_registry_killed_mid_pull_records_nothing_and_a_later_pull_succeeds() {
    let reg = anonymous_tls();
    let dir = tempfile::tempdir().unwrap();
    layout::big_layer(dir.path(), 16 << 20);
    reg.push_oci(dir.path(), "big", "big:1");
    let r = reg.reference("big:1").to_string();
    let opts = options(&reg);
    let reg = Mutex::new(reg);
    let root = tempfile::tempdir().unwrap();
    let images = Images::open(root.path()).unwrap();
    let err = images
        .pull(&r, &opts, &KillOnFirstBytes(&reg))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broke off") || err.contains("cannot reach"),
        "{err}"
    );
    assert!(images.store().image_ids().unwrap().is_empty());
    assert!(
        tmp_is_empty(root.path()),
        "a half-pulled layer was left in tmp/"
    );
    assert_eq!(root.path().join("layers").read_dir().unwrap().count(), 0);
    let mut reg = reg.into_inner().unwrap();
    let restarted = reg.restart_later(std::time::Duration::ZERO);
    reg.adopt(restarted);
    let pulled = images.pull(&r, &opts, &Quiet).unwrap();
    assert_eq!(pulled.fetched, 1);
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps); root to unpack"]
fn a_pull_without_credentials_is_refused_and_leaves_nothing() {
    let reg = basic();
    reg.push_busybox("private/busybox:1");
    let root = tempfile::tempdir().unwrap();
    let images = Images::open(root.path()).unwrap();
    let err = images
        .pull(
            &reg.reference("private/busybox:1").to_string(),
            &options(&reg),
            &Quiet,
        )
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("401 Unauthorized"), "{err}");
    assert!(images.store().image_ids().unwrap().is_empty());
    assert!(tmp_is_empty(root.path()));
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps); root to unpack"]
fn a_docker_manifest_list_pulls_like_an_oci_index() {
    let reg = anonymous_tls();
    let dir = tempfile::tempdir().unwrap();
    layout::two_platforms(&fixture("busybox"), dir.path());
    let source = format!("oci:{}:multi", dir.path().display());
    reg.push_with(&source, "docker/multi:1", true, &["--format", "v2s2"]);
    let root = tempfile::tempdir().unwrap();
    let images = Images::open(root.path()).unwrap();
    let r = reg.reference("docker/multi:1").to_string();
    let pulled = images.pull(&r, &options(&reg), &Quiet).unwrap();
    let image = images.resolve(&pulled.id.to_string()).unwrap();
    assert_eq!(
        image.manifest_media_type,
        peapod_image::manifest::DOCKER_MANIFEST
    );
    assert_eq!(image.architecture, "amd64");
    assert!(
        image
            .layers
            .iter()
            .all(|l| l.media_type == peapod_image::manifest::DOCKER_LAYER_GZIP)
    );
    // The same content as the OCI fixture: the same diff_id.
    let oci = Images::open(&root.path().join("other")).unwrap();
    let loaded =
        peapod_image::archive::load_oci_dir(oci.store(), &fixture("busybox"), Some("latest"), None)
            .unwrap();
    let oci_image = oci.resolve(&loaded[0].id.to_string()).unwrap();
    assert_eq!(image.layers[0].diff_id, oci_image.layers[0].diff_id);
}
