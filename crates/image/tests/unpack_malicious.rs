//! Hostile layers: each case built here with raw tar headers, unpacked beside a sentinel
//! directory, and asserted to fail with a clear error naming the entry or to be contained
//! as documented, with the sentinel untouched. All run unprivileged
//! ([`UnpackOptions::rootless`]). The fuzz is in `unpack_fuzz.rs`.

// Test helpers: a failed step should fail the test loudly, so unwrap is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod unpack_util;

use std::os::unix::fs::PermissionsExt;

use peapod_image::unpack::{UnpackError, UnpackOptions};
use tar::{EntryType, Header};
use unpack_util::{Scene, apply, header, link, opts, tar};

fn file(path: &str, data: &'static [u8]) -> (Header, &'static [u8]) {
    (
        header(path, EntryType::Regular, data.len() as u64, 0o644),
        data,
    )
}

fn dir(path: &str) -> (Header, &'static [u8]) {
    (header(path, EntryType::Directory, 0, 0o755), b"")
}

fn symlink(path: &str, target: &str) -> (Header, &'static [u8]) {
    (link(path, EntryType::Symlink, target), b"")
}

fn hardlink(path: &str, target: &str) -> (Header, &'static [u8]) {
    (link(path, EntryType::Link, target), b"")
}

#[test]
fn an_absolute_path_lands_inside_dest() {
    let s = Scene::new();
    s.unpack(&tar(&[file("/abs.txt", b"abs\n")]), &opts())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.dest.join("abs.txt")).unwrap(),
        "abs\n"
    );
    s.assert_untouched();
}

#[test]
fn dotdot_out_of_the_root_is_refused_naming_the_entry() {
    let s = Scene::new();
    let err = s
        .unpack(&tar(&[file("../../evil", b"x")]), &opts())
        .unwrap_err();
    assert!(matches!(err, UnpackError::Breakout { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "entry \"../../evil\": path \"../../evil\" climbs out of the layer root"
    );
    let err = s
        .unpack(&tar(&[file("a/../../outside/passwd", b"x")]), &opts())
        .unwrap_err();
    assert!(matches!(err, UnpackError::Breakout { .. }), "{err}");
    s.assert_untouched();
}

#[test]
fn a_file_through_a_symlink_of_the_same_layer_stays_inside() {
    let s = Scene::new();
    let outside = s.outside().display().to_string();
    // To the root, and climbing above it: both stay at dest.
    s.unpack(
        &tar(&[
            symlink("up", "../../.."),
            file("up/evil", b"contained\n"),
            symlink("root", "/"),
            file("root/passwd", b"contained\n"),
        ]),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.dest.join("evil")).unwrap(),
        "contained\n"
    );
    assert_eq!(
        std::fs::read_to_string(s.dest.join("passwd")).unwrap(),
        "contained\n"
    );
    // To the host path of the sentinel: that path does not exist inside dest.
    let err = s
        .unpack(
            &tar(&[symlink("host", &outside), file("host/passwd", b"evil\n")]),
            &opts(),
        )
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "entry \"host/passwd\": cannot resolve its parent directory inside the root"
        ),
        "{err}"
    );
    s.assert_untouched();
}

#[test]
fn a_file_through_a_symlink_of_an_earlier_layer_stays_inside() {
    let s = Scene::new();
    let outside = s.outside().display().to_string();
    s.unpack(
        &tar(&[symlink("etc", &outside), symlink("up", "../..")]),
        &apply(),
    )
    .unwrap();
    let err = s
        .unpack(&tar(&[file("etc/passwd", b"evil\n")]), &apply())
        .unwrap_err();
    assert!(err.to_string().contains("etc/passwd"), "{err}");
    s.unpack(&tar(&[file("up/evil", b"contained\n")]), &apply())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.dest.join("evil")).unwrap(),
        "contained\n"
    );
    s.assert_untouched();
}

#[test]
fn hardlinks_to_outside_are_refused() {
    let s = Scene::new();
    // /etc/passwd means dest/etc/passwd, which is not there.
    let err = s
        .unpack(&tar(&[hardlink("pw", "/etc/passwd")]), &opts())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "entry \"pw\": cannot resolve the hard link target's directory: \
         No such file or directory (os error 2)"
    );
    let err = s
        .unpack(&tar(&[hardlink("pw", "../outside/passwd")]), &opts())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "entry \"pw\": hard link target \"../outside/passwd\" climbs out of the layer root"
    );
    // Through a symlink to the host path: resolved inside dest, so not found either.
    let outside = s.outside().display().to_string();
    let err = s
        .unpack(
            &tar(&[symlink("o", &outside), hardlink("pw", "o/passwd")]),
            &opts(),
        )
        .unwrap_err();
    assert!(err.to_string().starts_with("entry \"pw\": "), "{err}");
    assert_eq!(
        std::fs::metadata(s.outside().join("passwd")).unwrap().len(),
        9
    );
    s.assert_untouched();
}

#[test]
fn a_symlink_to_the_root_then_directories_under_it_stay_inside() {
    let s = Scene::new();
    s.unpack(
        &tar(&[
            symlink("r", "/"),
            dir("r/etc/"),
            file("r/etc/passwd", b"inside\n"),
        ]),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.dest.join("etc/passwd")).unwrap(),
        "inside\n"
    );
    s.assert_untouched();
}

#[test]
fn a_symlink_is_replaced_by_a_directory_never_followed() {
    let s = Scene::new();
    let outside = s.outside().display().to_string();
    s.unpack(
        &tar(&[
            symlink("d", &outside),
            dir("d/"),
            file("d/passwd", b"inside\n"),
        ]),
        &opts(),
    )
    .unwrap();
    let d = std::fs::symlink_metadata(s.dest.join("d")).unwrap();
    assert!(d.is_dir());
    assert_eq!(
        std::fs::read_to_string(s.dest.join("d/passwd")).unwrap(),
        "inside\n"
    );
    s.assert_untouched();
}

#[test]
fn no_chmod_or_times_through_a_symlink() {
    let s = Scene::new();
    let target = s.outside().join("target").display().to_string();
    // GHSA-j4xf-2g29-59ph: a symlink, then an entry of the same name with a mode.
    let mut d = header("t", EntryType::Directory, 0, 0o777);
    d.set_mtime(1);
    d.set_cksum();
    s.unpack(&tar(&[symlink("t", &target), (d, b"")]), &opts())
        .unwrap();
    let mut f = header("u", EntryType::Fifo, 0, 0o777);
    f.set_cksum();
    s.unpack(&tar(&[symlink("u", &target), (f, b"")]), &opts())
        .unwrap();
    assert!(
        std::fs::symlink_metadata(s.dest.join("t"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(
        std::fs::metadata(s.outside().join("target"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o600
    );
    s.assert_untouched();
}

#[test]
fn a_pax_size_differential_is_refused() {
    let s = Scene::new();
    // A PAX reader sees one 1024-byte file; a reader ignoring PAX sees an empty file, then
    // the "data" as headers: a smuggled ../../evil.
    let smuggled = tar(&[file("../../evil", b"smuggled")]);
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("size", smuggled.len().to_string().as_bytes())])
        .unwrap();
    let h = header("innocent", EntryType::Regular, 0, 0o644);
    b.append(&h, &[][..]).unwrap();
    let mut bytes = b.into_inner().unwrap();
    // Splice the smuggled bytes in as the innocent entry's data.
    let end = bytes.len() - 1024;
    bytes.truncate(end);
    bytes.extend_from_slice(&smuggled);
    bytes.extend_from_slice(&[0; 1024]);
    let err = s.unpack(&bytes, &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "entry \"innocent\": PAX size {} disagrees with the header's size 0",
            smuggled.len()
        )
    );
    // Two size records (parsers differ on which wins), or one that is not a number.
    for records in [
        &[("size", &b"0"[..]), ("size", &b"512"[..])][..],
        &[("size", &b"0x10"[..])],
    ] {
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions(records.iter().copied()).unwrap();
        b.append(&header("innocent", EntryType::Regular, 0, 0o644), &[][..])
            .unwrap();
        let err = s.unpack(&b.into_inner().unwrap(), &opts()).unwrap_err();
        assert!(matches!(err, UnpackError::Header { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("entry \"innocent\": invalid header: "),
            "{err}"
        );
    }
    s.assert_untouched();
}

#[test]
fn a_declared_size_beyond_the_data_is_an_error() {
    let s = Scene::new();
    let mut bytes = tar(&[(
        header("big", EntryType::Regular, 1 << 30, 0o644),
        &[0u8; 0][..],
    )]);
    // Header, then ten bytes, then the stream ends.
    bytes.truncate(512);
    bytes.extend_from_slice(b"0123456789");
    let err = s.unpack(&bytes, &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "entry \"big\": the stream ends after 10 of its 1073741824 bytes"
    );
    s.assert_untouched();
}

#[test]
fn too_many_entries_are_refused() {
    let s = Scene::new();
    let names: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
    let entries: Vec<_> = names.iter().map(|n| file(n, b"")).collect();
    let limited = UnpackOptions {
        max_entries: 10,
        ..opts()
    };
    let err = s.unpack(&tar(&entries), &limited).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the layer has more than 10 entries (entry \"f10\" is one too many)"
    );
    assert!(!s.dest.join("f10").exists());
    // Ten is fine.
    let s = Scene::new();
    let r = s.unpack(&tar(&entries[..10]), &limited).unwrap();
    assert_eq!(r.entries, 10);
}

#[test]
fn an_overlong_name_is_refused() {
    let s = Scene::new();
    let long = "a/".repeat(2500) + "f";
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("path", long.as_bytes())])
        .unwrap();
    b.append(&header("short", EntryType::Regular, 0, 0o644), &[][..])
        .unwrap();
    let err = s.unpack(&b.into_inner().unwrap(), &opts()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with(": path is 5001 bytes long, over the limit of 4095"),
        "{err}"
    );
    assert!(!s.dest.join("a").exists());
    s.assert_untouched();
}

#[test]
fn a_truncated_header_or_bad_checksum_is_a_read_error() {
    let s = Scene::new();
    let mut bytes = tar(&[file("f", b"data")]);
    bytes[0] ^= 0x20;
    let err = s.unpack(&bytes, &opts()).unwrap_err();
    assert!(matches!(err, UnpackError::Read { .. }), "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn extension_headers_over_the_budget_are_refused() {
    let s = Scene::new();
    // A GNU long name of 2 MiB: the parser would hold it all in memory.
    let mut long = Header::new_gnu();
    long.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    long.set_entry_type(EntryType::GNULongName);
    long.set_size(2 << 20);
    long.set_mode(0o644);
    long.set_uid(0);
    long.set_gid(0);
    long.set_mtime(0);
    long.set_cksum();
    let name = vec![b'a'; 2 << 20];
    let bytes = tar(&[
        (long, name.as_slice()),
        (header("f", EntryType::Regular, 0, 0o644), b""),
    ]);
    let err = s.unpack(&bytes, &opts()).unwrap_err();
    assert!(matches!(err, UnpackError::Read { entries: 0, .. }), "{err}");
    assert!(
        err.to_string().contains(
            "the extension headers (GNU long names, PAX records) before the next entry exceed 1048576 bytes"
        ),
        "{err}"
    );
    // A large PAX record within the budget is fine (skipped by the rootless xattr policy).
    let s = Scene::new();
    let big = vec![b'v'; 200_000];
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("SCHILY.xattr.trusted.big", big.as_slice())])
        .unwrap();
    b.append(&header("f", EntryType::Regular, 2, 0o644), &b"ok"[..])
        .unwrap();
    let r = s.unpack(&b.into_inner().unwrap(), &opts()).unwrap();
    assert_eq!((r.files, r.xattrs, r.xattrs_skipped), (1, 0, 1));
    s.assert_untouched();
}

#[test]
fn deep_paths_beyond_the_parent_cache_work() {
    let s = Scene::new();
    let deep = "d/".repeat(100);
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        (format!("{deep}one"), &b"1"[..]),
        (format!("{deep}two"), &b"2"[..]),
        (format!("{}three", "d/".repeat(70)), &b"3"[..]),
        ("d/four".to_owned(), &b"4"[..]),
    ] {
        b.append_pax_extensions([("path", name.as_bytes())])
            .unwrap();
        b.append(&header("x", EntryType::Regular, 1, 0o644), data)
            .unwrap();
    }
    s.unpack(&b.into_inner().unwrap(), &opts()).unwrap();
    let read = |p: String| std::fs::read_to_string(s.dest.join(p)).unwrap();
    assert_eq!(read(format!("{deep}one")), "1");
    assert_eq!(read(format!("{deep}two")), "2");
    assert_eq!(read(format!("{}three", "d/".repeat(70))), "3");
    assert_eq!(read("d/four".to_owned()), "4");
    s.assert_untouched();
}

#[test]
fn the_root_entry_sets_the_roots_mode_and_nothing_else_can_name_it() {
    let s = Scene::new();
    s.unpack(
        &tar(&[(header("./", EntryType::Directory, 0, 0o750), b"")]),
        &opts(),
    )
    .unwrap();
    let mode = std::fs::metadata(&s.dest).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o750);
    let err = s.unpack(&tar(&[file("/", b"x")]), &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "entry \"/\": invalid path: only a directory can name the root"
    );
    s.assert_untouched();
}

#[test]
fn rootless_skips_device_nodes_but_makes_fifos() {
    let s = Scene::new();
    let mut null = header("null", EntryType::Char, 0, 0o666);
    null.set_device_major(1).unwrap();
    null.set_device_minor(3).unwrap();
    null.set_cksum();
    let r = s
        .unpack(
            &tar(&[
                (null, b""),
                (header("fifo", EntryType::Fifo, 0, 0o640), b""),
            ]),
            &opts(),
        )
        .unwrap();
    assert_eq!((r.devices, r.fifos, r.skipped), (0, 1, 1));
    assert!(!s.dest.join("null").exists());
    use std::os::unix::fs::FileTypeExt;
    let fifo = std::fs::symlink_metadata(s.dest.join("fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.permissions().mode() & 0o7777, 0o640);
}

#[test]
fn later_entries_replace_earlier_ones_of_any_type() {
    let s = Scene::new();
    s.unpack(
        &tar(&[
            file("x", b"file"),
            dir("x/"),
            file("x/y", b"y"),
            file("x", b"file again"),
            symlink("z", "x"),
            file("z", b"z"),
        ]),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(s.dest.join("x")).unwrap(),
        "file again"
    );
    assert_eq!(std::fs::read_to_string(s.dest.join("z")).unwrap(), "z");
    assert!(
        std::fs::symlink_metadata(s.dest.join("z"))
            .unwrap()
            .is_file()
    );
    s.assert_untouched();
}

#[test]
fn the_parent_cache_follows_a_directory_replaced_by_a_symlink() {
    let s = Scene::new();
    s.unpack(
        &tar(&[
            dir("a/"),
            dir("a/b/"),
            file("a/b/one", b"1"),
            dir("x/"),
            dir("x/b/"),
            // Replaces the directory a (and a/b, which the cache held) by a symlink.
            symlink("a", "x"),
            file("a/b/two", b"2"),
        ]),
        &opts(),
    )
    .unwrap();
    assert!(
        std::fs::symlink_metadata(s.dest.join("a"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(s.dest.join("x/b/two")).unwrap(),
        "2"
    );
    assert!(!s.dest.join("x/b/one").exists());
    s.assert_untouched();
}

#[test]
fn a_whiteout_removes_a_tree_deeper_than_any_path() {
    let s = Scene::new();
    // 1,500 levels, then a symlink to the bottom and 1,500 more below it: 3,000 levels, more
    // than a path can name, which removal must still walk without recursing.
    let a = "a/".repeat(1500);
    let b = "b/".repeat(1500);
    let mut layer = tar::Builder::new(Vec::new());
    for (name, kind, target) in [
        (a.clone(), EntryType::Directory, None),
        (
            "s".to_owned(),
            EntryType::Symlink,
            Some(a.trim_end_matches('/')),
        ),
        (format!("s/{b}"), EntryType::Directory, None),
        (format!("s/{b}f"), EntryType::Regular, None),
    ] {
        let mut records = vec![("path", name.as_bytes())];
        if let Some(t) = target {
            records.push(("linkpath", t.as_bytes()));
        }
        layer.append_pax_extensions(records).unwrap();
        layer.append(&header("x", kind, 0, 0o755), &[][..]).unwrap();
    }
    let r = s.unpack(&layer.into_inner().unwrap(), &apply()).unwrap();
    assert_eq!((r.dirs, r.symlinks, r.files), (2, 1, 1));
    // (Through the symlink: the real path is too long to name.)
    assert!(s.dest.join(format!("s/{b}f")).exists());
    let r = s
        .unpack(&tar(&[file(".wh.a", b""), file(".wh.s", b"")]), &apply())
        .unwrap();
    assert_eq!(r.whiteouts, 2);
    assert_eq!(std::fs::read_dir(&s.dest).unwrap().count(), 0);
    s.assert_untouched();
}
