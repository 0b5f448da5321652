//! A real Debian image (the `debian` fixture: Debian's minbase, layered by umoci, with
//! whiteouts) loaded into the store: the overlay of our unpacked layers must show exactly the
//! tree `umoci unpack` makes of the same image (paths, types, modes, owners, sizes, link
//! counts, symlink targets, file contents).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::path::{Path, PathBuf};
use std::process::Command;

use peapod_image::archive;
use peapod_image::store::Store;

fn debian() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(3).unwrap().join("fixtures/debian/oci");
    assert!(
        dir.join("index.json").is_file(),
        "no debian fixture in {}: run `cargo xtask fixtures --debian`",
        dir.display()
    );
    dir
}

/// Every entry under `root` (or under the overlay of `lowers`, mounted in a private mount
/// namespace) as one sorted line of metadata, plus a content hash per regular file.
fn listing(root: &Path, lowers: &[PathBuf]) -> Vec<String> {
    let script = r#"
        set -e
        if [ -n "$LOWERS" ]; then
            mkdir -p "$ROOT"
            mount -t overlay overlay -o "lowerdir=$LOWERS" "$ROOT"
        fi
        cd "$ROOT"
        find . -printf '%p %y %m %U:%G %n %s %l\n' | awk '$2 == "d" { $5 = "-"; $7 = "-" } { print }'
        find . -type f -print0 | xargs -0 sha256sum
    "#;
    let lowers: Vec<String> = lowers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("ROOT", root)
        .env("LOWERS", lowers.join(":"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(ToOwned::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_overlay_of_our_layers_is_the_tree_umoci_unpacks() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "run as root (cargo xtask test)"
    );
    let image = debian();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let loaded = archive::load_oci_dir(
        &store,
        &image,
        Some("latest"),
        Some("example.com/debian:12"),
    )
    .unwrap();
    let record = store.image(&loaded[0].id).unwrap().unwrap();
    assert_eq!(record.layers.len(), 4);
    let lowers: Vec<PathBuf> = record
        .layers
        .iter()
        .map(|l| store.layer_path(&l.chain_id))
        .collect();
    let ours = listing(&dir.path().join("merged"), &lowers);
    let bundle = dir.path().join("bundle");
    let out = Command::new("umoci")
        .args([
            "raw",
            "unpack",
            "--image",
            &format!("{}:latest", image.display()),
        ])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = listing(&bundle, &[]);
    assert!(theirs.len() > 7_000, "{} entries", theirs.len());
    assert!(
        theirs
            .iter()
            .any(|l| l.starts_with("./opt/peapod/many/14/099.txt "))
    );
    let only_ours: Vec<&String> = ours
        .iter()
        .filter(|l| theirs.binary_search(l).is_err())
        .collect();
    let only_theirs: Vec<&String> = theirs
        .iter()
        .filter(|l| ours.binary_search(l).is_err())
        .collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only in ours ({}): {:?}\nonly in umoci's ({}): {:?}",
        only_ours.len(),
        &only_ours[..only_ours.len().min(20)],
        only_theirs.len(),
        &only_theirs[..only_theirs.len().min(20)]
    );
}
