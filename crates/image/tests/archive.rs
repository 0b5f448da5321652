//! Archives against real tools: the fixtures (written by our xtask, checked by skopeo and
//! umoci) are loaded; what `save` writes is read back by us and by skopeo.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::path::{Path, PathBuf};
use std::process::Command;

use peapod_image::archive::{self, ArchiveFormat};
use peapod_image::store::Store;

fn fixtures() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(3).unwrap().join("fixtures");
    assert!(
        dir.join("busybox/oci").is_dir(),
        "no fixtures in {}: run `cargo xtask fixtures`",
        dir.display()
    );
    dir
}

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test must run as root (cargo xtask test)"
    );
}

/// The image id (config digest) skopeo reads from an image reference.
fn skopeo_config_digest(reference: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--config", reference])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("sha256:{}", sha256_hex(&out.stdout))
}

fn sha256_hex(bytes: &[u8]) -> String {
    peapod_image::Digest::of(bytes).hex().to_owned()
}

fn tree(root: &Path) -> Vec<String> {
    let out = Command::new("find")
        .arg(".")
        .args(["-printf", "%p %y %m %U:%G %s %l\n"])
        .current_dir(root)
        .output()
        .unwrap();
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            // Directory sizes depend on the filesystem, not on the image.
            let mut f: Vec<&str> = l.split(' ').collect();
            if f[1] == "d" {
                f[4] = "-";
            }
            f.join(" ")
        })
        .collect();
    lines.sort();
    lines
}

#[test]
#[ignore = "root: cargo xtask test"]
fn every_fixture_form_loads_to_the_same_image_as_skopeo_reads() {
    assert_root();
    for name in ["busybox", "layered"] {
        let dir = fixtures().join(name);
        let want = skopeo_config_digest(&format!("oci:{}:latest", dir.join("oci").display()));
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let from_dir = archive::load_oci_dir(
            &store,
            &dir.join("oci"),
            Some("latest"),
            Some("fixture/x:dir"),
        )
        .unwrap();
        let from_oci = archive::load_file(&store, &dir.join("oci-archive.tar"), None).unwrap();
        let from_docker =
            archive::load_file(&store, &dir.join("docker-archive.tar"), None).unwrap();
        for loaded in [&from_dir, &from_oci, &from_docker] {
            assert_eq!(loaded.len(), 1, "{name}");
            assert_eq!(loaded[0].id.to_string(), want, "{name}");
        }
        assert_eq!(from_dir[0].names, ["docker.io/fixture/x:dir"]);
        let image = store.image(&from_docker[0].id).unwrap().unwrap();
        for layer in &image.layers {
            assert!(store.has_layer(&layer.chain_id), "{name}: {layer:?}");
            assert!(store.has_blob(&layer.blob_digest), "{name}: {layer:?}");
        }
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn save_then_load_keeps_the_digests_and_skopeo_reads_what_we_wrote() {
    assert_root();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let loaded = archive::load_file(
        &store,
        &fixtures().join("layered/oci-archive.tar"),
        Some("example.com/layered:1"),
    )
    .unwrap();
    let image = store.image(&loaded[0].id).unwrap().unwrap();
    let names = store.names_of(&image.id).unwrap();
    assert_eq!(names, ["example.com/layered:1"]);
    for (format, transport) in [
        (ArchiveFormat::OciArchive, "oci-archive"),
        (ArchiveFormat::DockerArchive, "docker-archive"),
    ] {
        let out = root.path().join(format!("{transport}.tar"));
        let file = std::fs::File::create(&out).unwrap();
        archive::save(&store, &[(image.clone(), names.clone())], format, file).unwrap();
        assert_eq!(
            skopeo_config_digest(&format!("{transport}:{}", out.display())),
            image.id.to_string(),
            "{transport}"
        );
        let fresh = tempfile::tempdir().unwrap();
        let other = Store::open(fresh.path()).unwrap();
        let again = archive::load_file(&other, &out, None).unwrap();
        assert_eq!(again[0].id, image.id, "{transport}");
        assert_eq!(again[0].names, ["example.com/layered:1"], "{transport}");
        let reloaded = other.image(&image.id).unwrap().unwrap();
        let diff_ids = |i: &peapod_image::store::ImageRecord| {
            i.layers
                .iter()
                .map(|l| l.diff_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(diff_ids(&reloaded), diff_ids(&image), "{transport}");
        if format == ArchiveFormat::OciArchive {
            // Blobs as stored: the manifest digest survives too.
            assert_eq!(reloaded.manifest_digest, image.manifest_digest);
        }
        // The unpacked top layer is the same tree either way.
        let top = |s: &Store, i: &peapod_image::store::ImageRecord| {
            tree(&s.layer_path(&i.layers.last().unwrap().chain_id))
        };
        assert_eq!(top(&other, &reloaded), top(&store, &image), "{transport}");
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_compressed_archive_and_one_from_a_pipe_load_too() {
    assert_root();
    let src = fixtures().join("busybox/docker-archive.tar");
    let root = tempfile::tempdir().unwrap();
    let gz = root.path().join("a.tar.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -c {} > {}", src.display(), gz.display()))
        .status()
        .unwrap();
    assert!(status.success());
    let store = Store::open(&root.path().join("store")).unwrap();
    let a = archive::load_file(&store, &gz, None).unwrap();
    let b = archive::load(
        &store,
        Path::new("-"),
        std::fs::File::open(&src).unwrap(),
        None,
        None,
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a[0].names, ["docker.io/library/busybox:latest"]);
    assert_eq!(
        std::fs::read_dir(root.path().join("store/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn what_is_not_an_image_archive_is_refused_clearly_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(&root.path().join("store")).unwrap();
    let check = |path: &Path, want: &str| {
        let err = archive::load_file(&store, path, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{}: {err}", path.display());
        assert!(store.image_ids().unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(root.path().join("store/tmp"))
                .unwrap()
                .count(),
            0
        );
    };
    let junk = root.path().join("junk");
    std::fs::write(&junk, vec![7u8; 2048]).unwrap();
    check(&junk, "junk");
    // A tar without a manifest.
    let empty = root.path().join("empty.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&empty).unwrap());
    let mut h = tar::Header::new_ustar();
    h.set_size(2);
    h.set_cksum();
    b.append_data(&mut h, "hello", &b"hi"[..]).unwrap();
    b.finish().unwrap();
    drop(b);
    check(&empty, "not an image archive");
    check(&root.path().join("missing.tar"), "cannot open");
}
