//! The unpacker on the fixture images (`cargo xtask fixtures`), compared with what umoci
//! makes of the same images, and the overlay form of each layer.

// Test helpers: a failed step should fail the test loudly, so unwrap is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod unpack_util;

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::process::Command;

use peapod_image::unpack::{
    Compression, OPAQUE_XATTR, UnpackMode, UnpackOptions, decompress, unpack,
};
use unpack_util::*;

#[test]
fn diff_ids_match_the_configs() {
    for name in ["busybox", "layered"] {
        let f = fixture(name);
        assert_eq!(f.layers.len(), f.diff_ids.len());
        for i in 0..f.layers.len() {
            let dest = tempfile::tempdir().unwrap();
            let r = unpack_layer(&f, i, dest.path(), &UnpackOptions::rootless());
            assert_eq!(r.diff_id.to_string(), f.diff_ids[i], "{name} layer {i}");
            assert!(r.entries > 0 && r.size > r.bytes, "{name} layer {i}: {r:?}");
        }
    }
}

#[test]
fn a_zstd_layer_unpacks_like_its_gzip_twin() {
    let f = fixture("layered");
    let tar = layer_tar(&f, 1);
    let zst = zstd::stream::encode_all(tar.as_slice(), 1).unwrap();
    let mut blob = std::io::BufReader::new(zst.as_slice());
    let compression = peapod_image::unpack::detect(&mut blob).unwrap();
    assert_eq!(
        compression,
        Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd").unwrap()
    );
    let dest = tempfile::tempdir().unwrap();
    let r = unpack(
        decompress(blob, compression).unwrap(),
        dest.path(),
        &UnpackOptions::rootless(),
    )
    .unwrap();
    assert_eq!(r.diff_id.to_string(), f.diff_ids[1]);
    assert_eq!(
        std::fs::read_to_string(dest.path().join("data/opaque/new.txt")).unwrap(),
        "new\n"
    );
}

#[test]
fn rootless_apply_makes_the_layered_tree_without_owners() {
    let f = fixture("layered");
    let dest = tempfile::tempdir().unwrap();
    let opts = UnpackOptions {
        mode: UnpackMode::Apply,
        ..UnpackOptions::rootless()
    };
    for i in 0..f.layers.len() {
        unpack_layer(&f, i, dest.path(), &opts);
    }
    let data = dest.path().join("data");
    let read = |p: &str| std::fs::read_to_string(data.join(p)).unwrap();
    assert_eq!(read("kept.txt"), "kept, rewritten by layer 3\n");
    let mut opaque: Vec<_> = std::fs::read_dir(data.join("opaque"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    opaque.sort();
    assert_eq!(opaque, ["new.txt"]);
    assert!(!data.join("removed.txt").exists() && !data.join("gone-dir").exists());
    let orig = std::fs::metadata(data.join("original.txt")).unwrap();
    let link = std::fs::metadata(data.join("hardlink.txt")).unwrap();
    assert_eq!((orig.ino(), orig.nlink()), (link.ino(), 2));
    assert_eq!(
        std::fs::read_link(data.join("symlink")).unwrap().to_str(),
        Some("kept.txt")
    );
    assert_eq!(
        xattrs(&data.join("xattr.txt"))
            .get("user.peapod")
            .map(Vec::as_slice),
        Some(&b"fixture"[..])
    );
    assert_eq!(
        std::fs::metadata(data.join("setuid")).unwrap().mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        std::fs::metadata(data.join("owned")).unwrap().mode() & 0o7777,
        0o640
    );
}

#[test]
fn apply_mode_whiteouts_hide_only_the_lower_layers() {
    let dest = tempfile::tempdir().unwrap();
    let opts = UnpackOptions {
        mode: UnpackMode::Apply,
        ..UnpackOptions::rootless()
    };
    let file = |p: &str, data: &'static [u8]| {
        (
            header(p, tar::EntryType::Regular, data.len() as u64, 0o644),
            data,
        )
    };
    let dir = |p: &str| (header(p, tar::EntryType::Directory, 0, 0o755), &b""[..]);
    let lower = tar(&[
        dir("d/"),
        file("d/old", b"old"),
        dir("d/sub/"),
        file("d/sub/x", b"x"),
        file("keep", b"k"),
    ]);
    unpack(lower.as_slice(), dest.path(), &opts).unwrap();
    // The opaque marker comes after an entry of its own layer, and a whiteout names an entry
    // of its own layer: both hide only what the lower layer made.
    let upper = tar(&[
        dir("d/"),
        file("d/new", b"new"),
        dir("d/sub/"),
        file("d/sub/mine", b"mine"),
        file("d/.wh..wh..opq", b""),
        file("mine", b"m"),
        file(".wh.mine", b""),
        file(".wh.keep", b""),
        file("nowhere/.wh.x", b""),
    ]);
    let r = unpack(upper.as_slice(), dest.path(), &opts).unwrap();
    assert_eq!((r.whiteouts, r.opaques), (3, 1));
    let mut names: Vec<String> = snapshot(dest.path()).into_keys().collect();
    names.sort();
    // d/sub was made again by the upper layer: its lower content is hidden all the same.
    assert_eq!(names, ["d", "d/new", "d/sub", "d/sub/mine", "mine"]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn apply_mode_matches_umoci_for_each_fixture() {
    assert_root();
    for name in ["busybox", "layered"] {
        let tmp = tempfile::tempdir().unwrap();
        let want = umoci_unpack(name, tmp.path());
        let dest = tmp.path().join("peapod");
        std::fs::create_dir(&dest).unwrap();
        let f = fixture(name);
        for i in 0..f.layers.len() {
            unpack_layer(&f, i, &dest, &UnpackOptions::with_mode(UnpackMode::Apply));
        }
        let got = snapshot(&dest);
        if name == "layered" {
            assert_eq!(
                (got["data/owned"].uid, got["data/owned"].gid),
                (65534, 65534)
            );
        }
        assert_same_tree(&got, &snapshot(&want));
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn overlay_mode_makes_whiteout_devices_and_opaque_xattrs() {
    assert_root();
    let f = fixture("layered");
    let tmp = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for i in 0..f.layers.len() {
        let dir = tmp.path().join(format!("l{i}"));
        std::fs::create_dir(&dir).unwrap();
        reports.push(unpack_layer(&f, i, &dir, &UnpackOptions::default()));
    }
    let whiteout = |p: &str| {
        let md = std::fs::symlink_metadata(tmp.path().join(p)).unwrap();
        assert!(md.file_type().is_char_device(), "{p}");
        assert_eq!(md.rdev(), 0, "{p}");
    };
    whiteout("l1/data/removed.txt");
    whiteout("l2/data/gone-dir");
    assert_eq!(
        xattrs(&tmp.path().join("l1/data/opaque"))
            .get(std::str::from_utf8(OPAQUE_XATTR).unwrap())
            .map(Vec::as_slice),
        Some(&b"y"[..])
    );
    // The whiteout files themselves are never made, and no other directory is opaque.
    for (i, name) in [(1, "data/.wh.removed.txt"), (1, "data/opaque/.wh..wh..opq")] {
        assert!(!tmp.path().join(format!("l{i}/{name}")).exists());
    }
    assert!(xattrs(&tmp.path().join("l1/data")).is_empty());
    assert_eq!((reports[1].whiteouts, reports[1].opaques), (1, 1));
    assert_eq!(
        (reports[2].whiteouts, reports[2].opaques, reports[2].devices),
        (1, 0, 0)
    );
    let owned = std::fs::metadata(tmp.path().join("l2/data/owned")).unwrap();
    assert_eq!(
        (owned.uid(), owned.gid(), owned.mode() & 0o7777),
        (65534, 65534, 0o640)
    );
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_overlay_of_the_layers_is_umocis_tree() {
    assert_root();
    let f = fixture("layered");
    let tmp = tempfile::tempdir().unwrap();
    let want = umoci_unpack("layered", tmp.path());
    let mut lowers = Vec::new();
    for i in 0..f.layers.len() {
        let dir = tmp.path().join(format!("l{i}"));
        std::fs::create_dir(&dir).unwrap();
        unpack_layer(&f, i, &dir, &UnpackOptions::default());
        lowers.insert(0, dir.display().to_string());
    }
    let merged = tmp.path().join("merged");
    let copy = tmp.path().join("copy");
    std::fs::create_dir(&merged).unwrap();
    std::fs::create_dir(&copy).unwrap();
    // A private mount namespace, so that nothing is left mounted on the host; the merged
    // view is copied out (cp -a keeps modes, owners, times, xattrs and hard links).
    let script = format!(
        "mount -t overlay overlay -o lowerdir={} {} && cp -a {}/. {}",
        lowers.join(":"),
        merged.display(),
        merged.display(),
        copy.display()
    );
    let status = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
    let mut want = snapshot(&want);
    let mut got = snapshot(&copy);
    // cp -a sets the copy's directory times itself; directories' times are not compared
    // anyway, and the root's mode is cp's.
    for t in [&mut want, &mut got] {
        t.values_mut()
            .for_each(|n| n.xattrs.retain(|k, _| !k.starts_with("trusted.")));
    }
    assert_same_tree(&got, &want);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn devices_owners_setuid_and_capabilities_as_root() {
    assert_root();
    use tar::EntryType;
    let owned = |mut h: tar::Header, uid: u64, gid: u64| {
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_cksum();
        h
    };
    let dev = |path: &str, kind: EntryType, mode: u32, major: u32, minor: u32| {
        let mut h = header(path, kind, 0, mode);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_cksum();
        h
    };
    // security.capability v2, effective, cap_net_raw (13) permitted.
    let cap: Vec<u8> = [0x0200_0001u32, 1 << 13, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&dev("null", EntryType::Char, 0o666, 1, 3), &[][..])
        .unwrap();
    b.append(
        &owned(dev("loop0", EntryType::Block, 0o660, 7, 0), 0, 6),
        &[][..],
    )
    .unwrap();
    b.append(
        &owned(header("fifo", EntryType::Fifo, 0, 0o620), 1000, 1001),
        &[][..],
    )
    .unwrap();
    b.append(
        &owned(header("suid", EntryType::Regular, 2, 0o6755), 1000, 1000),
        &b"#!"[..],
    )
    .unwrap();
    b.append_pax_extensions([("SCHILY.xattr.security.capability", cap.as_slice())])
        .unwrap();
    b.append(
        &owned(header("ping", EntryType::Regular, 2, 0o755), 0, 0),
        &b"#!"[..],
    )
    .unwrap();
    // On a symlink: trusted.* is set (through /proc/self/fd, never following the link),
    // user.* is left out (the kernel refuses it there).
    b.append_pax_extensions([
        ("SCHILY.xattr.user.x", &b"1"[..]),
        ("SCHILY.xattr.trusted.t", &b"2"[..]),
    ])
    .unwrap();
    b.append(
        &owned(link("link", EntryType::Symlink, "suid"), 1000, 1000),
        &[][..],
    )
    .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let r = peapod_image::unpack::unpack(
        b.into_inner().unwrap().as_slice(),
        dest.path(),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (
            r.devices,
            r.fifos,
            r.files,
            r.symlinks,
            r.xattrs,
            r.xattrs_skipped
        ),
        (2, 1, 2, 1, 2, 1)
    );
    let t = snapshot(dest.path());
    let got = |p: &str| {
        let n = &t[p];
        (n.kind, n.mode, n.uid, n.gid, n.data.clone())
    };
    assert_eq!(
        got("null"),
        ("char", 0o666, 0, 0, format!("{:x}", libc::makedev(1, 3)))
    );
    assert_eq!(
        got("loop0"),
        ("block", 0o660, 0, 6, format!("{:x}", libc::makedev(7, 0)))
    );
    assert_eq!(got("fifo"), ("fifo", 0o620, 1000, 1001, String::new()));
    // chown before chmod: the setuid and setgid bits survive.
    assert_eq!(got("suid").1, 0o6755);
    assert_eq!(
        (t["suid"].uid, t["link"].uid, t["link"].gid),
        (1000, 1000, 1000)
    );
    // xattrs after chown: the capability survives.
    assert_eq!(t["ping"].xattrs.get("security.capability"), Some(&cap));
    assert_eq!(
        t["link"].xattrs.iter().collect::<Vec<_>>(),
        [(&"trusted.t".to_owned(), &b"2".to_vec())]
    );
    assert!(t["suid"].xattrs.is_empty());
}

#[test]
fn a_gnu_sparse_file_from_gnu_tar_unpacks_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = std::fs::File::create(src.join("f")).unwrap();
    f.set_len(5 << 20).unwrap();
    drop(f);
    std::fs::OpenOptions::new()
        .append(true)
        .open(src.join("f"))
        .unwrap()
        .write_all(b"tail\n")
        .unwrap();
    let archive = tmp.path().join("s.tar");
    let status = Command::new("tar")
        .args(["--sparse", "--format=gnu", "-C"])
        .arg(&src)
        .arg("-cf")
        .arg(&archive)
        .arg("f")
        .status()
        .unwrap();
    assert!(status.success());
    // Really a sparse entry: 5 MiB of holes in a few blocks.
    assert!(std::fs::metadata(&archive).unwrap().len() < 64 * 1024);
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let r = unpack(
        std::fs::File::open(&archive).unwrap(),
        &dest,
        &UnpackOptions::rootless(),
    )
    .unwrap();
    assert_eq!(r.files, 1);
    assert_eq!(
        std::fs::read(dest.join("f")).unwrap(),
        std::fs::read(src.join("f")).unwrap()
    );
}
