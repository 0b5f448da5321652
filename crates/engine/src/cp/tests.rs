use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;

use super::extract::contained;
use super::*;

/// A container root with a few files, directories and hostile symlinks, and a host
/// directory: `(tempdir, root, host)`.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let host = tmp.path().join("host");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::create_dir_all(&host).unwrap();
    fs::write(root.join("etc/shadow"), "container shadow\n").unwrap();
    fs::write(root.join("dir/a"), "a\n").unwrap();
    fs::write(root.join("dir/sub/b"), "b\n").unwrap();
    symlink("/", root.join("evil")).unwrap();
    symlink("../../../../../..", root.join("up")).unwrap();
    symlink("/etc/shadow", root.join("shadowlink")).unwrap();
    symlink("../../../etc/shadow", root.join("dir/relshadow")).unwrap();
    symlink("/dir", root.join("dirlink")).unwrap();
    (tmp, root, host)
}

/// A tar stream's entries: name, type, and content or link target.
fn entries(tar: &[u8]) -> Vec<(String, tar::EntryType, String)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let kind = e.header().entry_type();
            let mut text = String::new();
            if let Some(link) = e.link_name().unwrap() {
                text = link.display().to_string();
            } else {
                e.read_to_string(&mut text).unwrap();
            }
            (name, kind, text)
        })
        .collect()
}

fn out(
    root: &Path,
    src: &str,
    follow: bool,
) -> Result<Vec<(String, tar::EntryType, String)>, CpError> {
    let mut buf = Vec::new();
    copy_out(root, src, follow, &mut buf)?;
    Ok(entries(&buf))
}

/// `copy_to_container` without `-L` or `-a`.
fn copy_in_from_host(src: &Path, root: &Path, dest: &str) -> Result<(), CpError> {
    copy_to_container(src, false, root, dest, &CopyInOptions::default())
}

/// A file's (uid, gid).
fn owner(path: &Path) -> (u32, u32) {
    let md = fs::symlink_metadata(path).unwrap();
    (md.uid(), md.gid())
}

fn names(list: &[(String, tar::EntryType, String)]) -> Vec<&str> {
    list.iter().map(|(n, _, _)| n.as_str()).collect()
}

use tar::EntryType::{Directory, Regular, Symlink};

#[test]
fn copy_out_streams_files_trees_and_contents() {
    let (_tmp, root, _) = setup();
    let file = out(&root, "/etc/shadow", false).unwrap();
    assert_eq!(
        file,
        [("shadow".into(), Regular, "container shadow\n".into())]
    );
    // A leading / is optional.
    assert_eq!(out(&root, "etc/shadow", false).unwrap(), file);
    let tree = out(&root, "/dir", false).unwrap();
    assert_eq!(
        names(&tree),
        ["dir", "dir/a", "dir/relshadow", "dir/sub", "dir/sub/b"]
    );
    assert_eq!(tree[0].1, Directory);
    assert_eq!(
        tree[2],
        (
            "dir/relshadow".into(),
            Symlink,
            "../../../etc/shadow".into()
        )
    );
    let contents = out(&root, "/dir/.", false).unwrap();
    assert_eq!(names(&contents), ["a", "relshadow", "sub", "sub/b"]);
    assert!(matches!(
        out(&root, "/nope", false),
        Err(CpError::NotFound(p)) if p == "/nope"
    ));
    assert!(matches!(
        out(&root, "/etc/shadow/", false),
        Err(CpError::NotADirectory(_))
    ));
}

#[test]
fn copy_out_symlinks_stay_in_the_container() {
    let (_tmp, root, _) = setup();
    // Without -L a symlink is itself; with -L its target, under the link's name, and the
    // target is the container's /etc/shadow, not the host's.
    assert_eq!(
        out(&root, "/shadowlink", false).unwrap(),
        [("shadowlink".into(), Symlink, "/etc/shadow".into())]
    );
    let shadow = (
        "shadowlink".to_owned(),
        Regular,
        "container shadow\n".to_owned(),
    );
    assert_eq!(out(&root, "/shadowlink", true).unwrap(), [shadow]);
    let relshadow = out(&root, "/dir/relshadow", true).unwrap();
    assert_eq!(relshadow[0].2, "container shadow\n");
    for path in [
        "/evil/etc/shadow",
        "/up/etc/shadow",
        "../../../../etc/shadow",
        "/evil/../../etc/shadow",
    ] {
        let got = out(&root, path, false).unwrap();
        assert_eq!(
            got,
            [("shadow".into(), Regular, "container shadow\n".into())],
            "{path}"
        );
    }
    // A trailing / follows a symlink to a directory.
    assert_eq!(out(&root, "/dirlink", false).unwrap()[0].1, Symlink);
    let followed = out(&root, "/dirlink/", false).unwrap();
    assert_eq!(names(&followed)[..2], ["dirlink", "dirlink/a"]);
}

#[test]
fn copy_from_container_follows_dockers_destination_rules() {
    let (_tmp, root, host) = setup();
    let read = |p: &str| fs::read_to_string(host.join(p)).unwrap();
    // An existing directory receives the source under its name.
    copy_from_container(&root, "/etc/shadow", false, &host).unwrap();
    assert_eq!(read("shadow"), "container shadow\n");
    // A missing path is created with that name; an existing file is replaced.
    copy_from_container(&root, "/dir/a", false, &host.join("renamed")).unwrap();
    assert_eq!(read("renamed"), "a\n");
    copy_from_container(&root, "/dir/sub/b", false, &host.join("renamed")).unwrap();
    assert_eq!(read("renamed"), "b\n");
    // A directory to a missing path becomes that path; with /. its contents go into an
    // existing directory.
    copy_from_container(&root, "/dir", false, &host.join("copy")).unwrap();
    assert_eq!(read("copy/sub/b"), "b\n");
    fs::create_dir(host.join("flat")).unwrap();
    copy_from_container(&root, "/dir/.", false, &host.join("flat")).unwrap();
    assert_eq!(read("flat/a"), "a\n");
    assert!(!host.join("flat/dir").exists());
    copy_from_container(&root, "/dir", false, &host.join("flat")).unwrap();
    assert_eq!(read("flat/dir/a"), "a\n");
    // -L: the target's content under the link's name.
    copy_from_container(&root, "/shadowlink", true, &host).unwrap();
    assert_eq!(read("shadowlink"), "container shadow\n");
    // Without it the link itself, pointing where it pointed.
    copy_from_container(&root, "/shadowlink", false, &host.join("link")).unwrap();
    assert_eq!(
        fs::read_link(host.join("link")).unwrap(),
        Path::new("/etc/shadow")
    );

    let err = copy_from_container(&root, "/dir", false, &host.join("renamed")).unwrap_err();
    assert!(matches!(err, CpError::CannotCopyDirectory(_)), "{err}");
    let err = copy_from_container(&root, "/dir/a", false, &host.join("missing/")).unwrap_err();
    assert!(matches!(err, CpError::NoSuchDirectory(_)), "{err}");
    assert!(!host.join("missing").exists());
    let err = copy_from_container(&root, "/dir/a", false, &host.join("no/such/x")).unwrap_err();
    assert!(
        matches!(&err, CpError::NotFound(p) if p.ends_with("no/such")),
        "{err}"
    );
    let err = copy_from_container(&root, "/none", false, &host).unwrap_err();
    assert!(
        matches!(&err, CpError::NotFound(p) if p == "/none"),
        "{err}"
    );
}

#[test]
fn copy_to_container_follows_dockers_destination_rules() {
    let (_tmp, root, host) = setup();
    fs::write(host.join("f"), "host f\n").unwrap();
    fs::create_dir_all(host.join("tree/in")).unwrap();
    fs::write(host.join("tree/in/x"), "x\n").unwrap();
    let opts = CopyInOptions::default();
    let read = |p: &str| fs::read_to_string(root.join(p)).unwrap();

    copy_to_container(&host.join("f"), false, &root, "/etc", &opts).unwrap();
    assert_eq!(read("etc/f"), "host f\n");
    copy_to_container(&host.join("f"), false, &root, "dir/g", &opts).unwrap();
    assert_eq!(read("dir/g"), "host f\n");
    copy_to_container(&host.join("tree"), false, &root, "/newtree", &opts).unwrap();
    assert_eq!(read("newtree/in/x"), "x\n");
    copy_to_container(&host.join("tree/."), false, &root, "/dir/sub", &opts).unwrap();
    assert_eq!(read("dir/sub/in/x"), "x\n");
    // A destination symlink is followed, inside the container.
    copy_to_container(&host.join("f"), false, &root, "/shadowlink", &opts).unwrap();
    assert_eq!(read("etc/shadow"), "host f\n");
    assert!(root.join("shadowlink").is_symlink());

    let err = copy_to_container(&host.join("tree"), false, &root, "/dir/a", &opts).unwrap_err();
    assert!(matches!(err, CpError::CannotCopyDirectory(_)), "{err}");
    let err = copy_to_container(&host.join("f"), false, &root, "/nodir/", &opts).unwrap_err();
    assert!(matches!(err, CpError::NoSuchDirectory(_)), "{err}");
    let err = copy_to_container(&host.join("f"), false, &root, "/no/such", &opts).unwrap_err();
    assert!(matches!(&err, CpError::NotFound(p) if p == "/no"), "{err}");
    let err = copy_to_container(&host.join("nope"), false, &root, "/", &opts).unwrap_err();
    assert!(matches!(err, CpError::NotFound(_)), "{err}");
    // A file named like an existing directory does not replace it.
    fs::write(host.join("dir"), "not a dir\n").unwrap();
    let err = copy_to_container(&host.join("dir"), false, &root, "/", &opts).unwrap_err();
    assert!(
        matches!(&err, CpError::Overwrite { path, existing: "directory", .. } if path == "/dir"),
        "{err}"
    );
    assert!(root.join("dir/a").is_file());
}

#[test]
fn copy_in_through_hostile_symlinks_lands_inside_the_root() {
    let (_tmp, root, host) = setup();
    let name = format!("peapod-cp-test-{}", std::process::id());
    fs::write(host.join(&name), "planted\n").unwrap();
    let opts = CopyInOptions::default();
    for dest in ["/evil/etc", "/up/etc/", "../../../../etc"] {
        copy_to_container(&host.join(&name), false, &root, dest, &opts).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("etc").join(&name)).unwrap(),
            "planted\n"
        );
        fs::remove_file(root.join("etc").join(&name)).unwrap();
    }
    // A tar stream that plants a symlink to / and then writes through it.
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = header(0, 0o777);
    h.set_entry_type(tar::EntryType::Symlink);
    tar.append_link(&mut h, "l", "/").unwrap();
    let mut h = header(8, 0o644);
    tar.append_data(&mut h, format!("l/etc/{name}"), &b"planted\n"[..])
        .unwrap();
    let tar = tar.into_inner().unwrap();
    copy_in(&root, "/dir", &tar[..], &opts).unwrap();
    assert!(root.join("dir/l").is_symlink());
    assert_eq!(
        fs::read_to_string(root.join("etc").join(&name)).unwrap(),
        "planted\n"
    );
    assert!(!Path::new("/etc").join(&name).exists());
}

/// A header as tar tools write them (owner root, epoch mtime).
fn header(size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn stream(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = header(data.len() as u64, 0o644);
        // set_path refuses `..`: write the raw name field, as a hostile archive would.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        tar.append(&h, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

#[test]
fn copy_in_extracts_a_stream_into_a_directory_and_refuses_bad_entries() {
    let (_tmp, root, _) = setup();
    let opts = CopyInOptions::default();
    copy_in(
        &root,
        "/dir/sub",
        &stream(&[("n", b"n\n"), ("/abs", b"abs\n")])[..],
        &opts,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(root.join("dir/sub/n")).unwrap(), "n\n");
    assert_eq!(
        fs::read_to_string(root.join("dir/sub/abs")).unwrap(),
        "abs\n"
    );
    // The destination must be an existing directory (a symlink to one will do).
    copy_in(&root, "/dirlink", &stream(&[("m", b"m\n")])[..], &opts).unwrap();
    assert!(root.join("dir/m").is_file());
    let err = copy_in(&root, "/dir/a", &stream(&[])[..], &opts).unwrap_err();
    assert!(matches!(err, CpError::DestinationNotDirectory(_)), "{err}");
    let err = copy_in(&root, "/missing", &stream(&[])[..], &opts).unwrap_err();
    assert!(matches!(err, CpError::NotFound(_)), "{err}");

    let err = copy_in(
        &root,
        "/dir",
        &stream(&[("ok", b""), ("../../x", b"x")])[..],
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(&err, CpError::InvalidEntry { path, .. } if path == Path::new("../../x")),
        "{err}"
    );
    assert!(!root.join("x").exists() && !root.parent().unwrap().join("x").exists());
    let err = copy_in(&root, "/dir", &stream(&[(".wh.a", b"")])[..], &opts).unwrap_err();
    assert!(err.to_string().contains(".wh."), "{err}");
    assert!(root.join("dir/a").exists());
    let err = copy_in(&root, "/", &stream(&[("dir", b"not a dir")])[..], &opts).unwrap_err();
    assert!(matches!(err, CpError::Overwrite { .. }), "{err}");
    let err = copy_in(
        &root,
        "/dir",
        &b"this is not a tar stream, not even close: 512 bytes are needed for a header"[..],
        &opts,
    );
    assert!(err.is_err());
}

#[test]
fn hard_links_stay_hard_links() {
    let (_tmp, root, host) = setup();
    fs::hard_link(root.join("dir/a"), root.join("dir/a2")).unwrap();
    let tree = out(&root, "/dir", false).unwrap();
    assert_eq!(
        tree[2],
        ("dir/a2".into(), tar::EntryType::Link, "dir/a".into())
    );
    copy_from_container(&root, "/dir", false, &host.join("d")).unwrap();
    let (a, a2) = (
        fs::metadata(host.join("d/a")).unwrap(),
        fs::metadata(host.join("d/a2")).unwrap(),
    );
    assert_eq!(a.ino(), a2.ino());
    // And back in, under a new name, linked to the entry under that name.
    copy_in_from_host(&host.join("d"), &root, "/d2").unwrap();
    assert_eq!(
        fs::metadata(root.join("d2/a")).unwrap().ino(),
        fs::metadata(root.join("d2/a2")).unwrap().ino()
    );
}

#[test]
fn whiteout_names_cannot_delete_files_at_the_destination() {
    let (_tmp, root, host) = setup();
    fs::create_dir(root.join("wh")).unwrap();
    fs::write(root.join("wh/.wh.keep"), "").unwrap();
    fs::write(root.join("wh/.wh..wh..opq"), "").unwrap();
    fs::create_dir(host.join("wh")).unwrap();
    fs::write(host.join("wh/keep"), "host file\n").unwrap();
    let err = copy_from_container(&root, "/wh/.", false, &host.join("wh")).unwrap_err();
    assert!(matches!(err, CpError::InvalidEntry { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(host.join("wh/keep")).unwrap(),
        "host file\n"
    );
    // Nor can a copy in make a whiteout of its own.
    fs::write(root.join("wh/x"), "x\n").unwrap();
    let err = copy_in_from_host(&host.join("wh/keep"), &root, "/wh/.wh.x").unwrap_err();
    assert!(matches!(err, CpError::InvalidEntry { .. }), "{err}");
    assert!(root.join("wh/x").is_file());
}

#[test]
fn long_names_and_link_targets_round_trip() {
    let (_tmp, root, host) = setup();
    let long = "n".repeat(150);
    let deep = root.join("dir").join(&long).join(&long);
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("f"), "deep\n").unwrap();
    symlink(format!("/{long}/{long}/{long}"), deep.join("l")).unwrap();
    copy_from_container(&root, "/dir", false, &host).unwrap();
    let copied = host.join("dir").join(&long).join(&long);
    assert_eq!(fs::read_to_string(copied.join("f")).unwrap(), "deep\n");
    assert_eq!(
        fs::read_link(copied.join("l")).unwrap().as_os_str().len(),
        453
    );
    copy_in_from_host(&host.join("dir"), &root, "/back").unwrap();
    let back = root.join("back").join(&long).join(&long);
    assert_eq!(fs::read_to_string(back.join("f")).unwrap(), "deep\n");
}

#[test]
fn container_paths_are_cleaned_as_docker_cleans_them() {
    let spec = Spec::container("a/../../b/./c/");
    assert_eq!(spec.path, Path::new("/b/c"));
    assert!(spec.asserts_dir && !spec.contents);
    let spec = Spec::container("/x/.");
    assert_eq!(spec.path, Path::new("/x"));
    assert!(spec.asserts_dir && spec.contents);
    assert_eq!(Spec::container("/").split(), (PathBuf::from("/"), None));
    assert_eq!(Spec::host(Path::new("f")).split().0, Path::new("."));
    let spec = Spec::host(Path::new("../a/b/../c/"));
    assert_eq!(spec.path, Path::new("../a/c"));
    assert!(spec.asserts_dir);
    assert_eq!(
        contained(Path::new("/a/./b/../c")).unwrap(),
        Path::new("a/c")
    );
    assert!(contained(Path::new("a/../../c")).is_err());
}

#[test]
#[ignore = "root: cargo xtask test"]
fn ownership_follows_dockers_rules() {
    let (_tmp, root, host) = setup();
    nix::unistd::chown(&root.join("dir/a"), Some(1234.into()), Some(1235.into())).unwrap();
    // Out: the caller's; in a stream out: the container's.
    copy_from_container(&root, "/dir/a", false, &host).unwrap();
    assert_eq!(owner(&host.join("a")), (0, 0));
    let mut buf = Vec::new();
    copy_out(&root, "/dir/a", false, &mut buf).unwrap();
    let mut archive = tar::Archive::new(&buf[..]);
    let first = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(
        (first.header().uid().unwrap(), first.header().gid().unwrap()),
        (1234, 1235)
    );
    // In: the source's owners, or with -a the container user's.
    nix::unistd::chown(&host.join("a"), Some(42.into()), Some(43.into())).unwrap();
    copy_in_from_host(&host.join("a"), &root, "/kept").unwrap();
    assert_eq!(owner(&root.join("kept")), (42, 43));
    let opts = CopyInOptions {
        owner: Some((7, 8)),
    };
    copy_to_container(&host.join("a"), false, &root, "/given", &opts).unwrap();
    assert_eq!(owner(&root.join("given")), (7, 8));
    copy_in(&root, "/dir", &buf[..], &opts).unwrap();
    assert_eq!(owner(&root.join("dir/a")), (7, 8));
}
