use super::*;

fn patterns(text: &str) -> Vec<(glob::Pattern, bool)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".dockerignore"), text).unwrap();
    ignore_patterns(dir.path()).unwrap()
}

#[test]
fn clean_paths_stay_inside_or_are_refused() {
    assert_eq!(clean("./a//b/../c"), Some(PathBuf::from("a/c")));
    assert_eq!(clean("/abs/x"), Some(PathBuf::from("abs/x")));
    assert_eq!(clean("a/../.."), None);
    assert_eq!(clean("../x"), None);
}

#[test]
fn ignore_rules_last_match_wins_and_directories_cover_their_contents() {
    let p = patterns("# comment\n*.log\n!keep.log\nbuild\n**/*.tmp\n/docs/*.md\n!docs/README.md\n");
    let ig = |s: &str| ignored(&p, Path::new(s));
    assert!(ig("x.log"));
    assert!(!ig("keep.log"));
    assert!(!ig("sub/x.log"), "* does not cross /");
    assert!(
        ig("build") && ig("build/out/bin"),
        "a directory covers what is below it"
    );
    assert!(ig("a/b/c.tmp") && ig("c.tmp"));
    assert!(ig("docs/guide.md") && !ig("docs/README.md"));
    assert!(!ig("src/main.rs"));
    assert!(patterns("").is_empty());
}

#[test]
fn beneath_refuses_parent_and_symlinks_out_but_follows_links_inside() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ctx");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/f"), "f").unwrap();
    std::os::unix::fs::symlink("sub/f", root.join("inside")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("out-abs")).unwrap();
    std::os::unix::fs::symlink("../../", root.join("out-rel")).unwrap();
    let root = std::fs::canonicalize(&root).unwrap();
    assert_eq!(
        beneath(&root, Path::new("inside"), false).unwrap(),
        root.join("sub/f")
    );
    for bad in ["out-abs", "out-rel", "out-rel/etc", "../ctx/sub/f"] {
        let err = beneath(&root, Path::new(bad), false).unwrap_err();
        assert!(
            matches!(err, nix::Error::EXDEV | nix::Error::ELOOP),
            "{bad}: {err}"
        );
    }
    assert_eq!(
        beneath(&root, Path::new("missing"), false).unwrap_err(),
        nix::Error::ENOENT
    );
    // Inside an image's root, an absolute symlink resolves within it.
    assert_eq!(
        beneath(&root, Path::new("out-abs"), true).unwrap_err(),
        nix::Error::ENOENT
    );
}

#[test]
fn the_digest_follows_content_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), "1").unwrap();
    let digest = || {
        let mut h = Hasher::new();
        hash_tree(dir.path(), Path::new("a"), &[], &mut h).unwrap();
        h.finish()
    };
    let first = digest();
    assert_eq!(digest(), first);
    std::fs::write(dir.path().join("a"), "2").unwrap();
    let second = digest();
    assert_ne!(second, first);
    std::fs::set_permissions(
        dir.path().join("a"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    assert_ne!(digest(), second);
}
