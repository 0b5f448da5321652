use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use super::*;

/// (path, type, mode, mtime, size, link target) of each entry, in order.
fn entries(tar_bytes: &[u8]) -> Vec<(String, char, u32, u64, u64, String)> {
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let kind = match h.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Link => 'h',
                tar::EntryType::Regular => 'f',
                _ => '?',
            };
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                kind,
                h.mode().unwrap(),
                h.mtime().unwrap(),
                h.size().unwrap(),
                link,
            )
        })
        .collect()
}

fn sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("b/sub")).unwrap();
    fs::write(d.join("b/sub/z"), b"zz").unwrap();
    fs::write(d.join("a"), b"hello").unwrap();
    fs::set_permissions(d.join("a"), fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("../a", d.join("b/link")).unwrap();
    fs::hard_link(d.join("a"), d.join("c")).unwrap();
    dir
}

#[test]
fn entries_are_sorted_with_modes_links_and_the_epoch() {
    let dir = sample();
    let mut out = Vec::new();
    let stats = write_tar(dir.path(), &mut out, Some(1_700_000_000)).unwrap();
    let got = entries(&out);
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["a", "b", "b/link", "b/sub", "b/sub/z", "c"]);
    assert_eq!(stats.entries, 6);
    assert!(got.iter().all(|e| e.3 == 1_700_000_000));
    assert_eq!(got[1].1, 'd');
    assert_eq!((got[0].1, got[0].2, got[0].4), ('f', 0o750, 5));
    assert_eq!((got[2].1, got[2].5.as_str()), ('l', "../a"));
    assert_eq!((got[5].1, got[5].5.as_str(), got[5].4), ('h', "a", 0));
}

#[test]
fn the_same_tree_gives_the_same_bytes_and_without_epoch_keeps_mtimes() {
    let one = sample();
    let two = sample();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    write_tar(one.path(), &mut a, Some(0)).unwrap();
    write_tar(two.path(), &mut b, Some(0)).unwrap();
    assert_eq!(a, b);
    let mut c = Vec::new();
    write_tar(one.path(), &mut c, None).unwrap();
    let mtime = fs::metadata(one.path().join("a")).unwrap().mtime() as u64;
    assert_eq!(entries(&c)[0].3, mtime);
}

#[test]
fn a_missing_directory_is_an_error_naming_it() {
    let err = write_tar(Path::new("/nonexistent-peapod-build"), Vec::new(), None).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-peapod-build"),
        "{err}"
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn whiteouts_and_opaque_directories_become_oci_whiteouts_and_the_dir_the_layer() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(root.path().join("tmp"))
        .unwrap()
        .keep();
    nix::sys::stat::mknod(
        &dir.join("gone"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
    fs::create_dir(dir.join("opaque")).unwrap();
    fs::write(dir.join("opaque/kept"), b"k").unwrap();
    let c = CString::new(dir.join("opaque").as_os_str().as_bytes()).unwrap();
    // SAFETY: valid NUL-terminated strings and value.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    assert_eq!(rc, 0);
    let layer = commit_dir(&store, &dir, None, Some(5)).unwrap();
    assert!(!dir.exists(), "the directory is moved into the store");
    let unpacked = store.layer_path(&layer.chain_id);
    assert!(unpacked.join("opaque/kept").is_file());
    let mut gz = flate2::read::GzDecoder::new(store.open_blob(&layer.blob_digest).unwrap());
    let mut plain = Vec::new();
    gz.read_to_end(&mut plain).unwrap();
    assert_eq!(Digest::of(&plain), layer.diff_id);
    assert_eq!(plain.len() as u64, layer.size);
    let names: Vec<String> = entries(&plain).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [".wh.gone", "opaque", "opaque/.wh..wh..opq", "opaque/kept"]
    );
}
