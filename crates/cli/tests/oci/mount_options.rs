//! Mount options real callers send (issue 7 item 3): podman's `tmpcopyup` on every tmpfs it
//! makes, recursive and propagation variants, and the ones refused with a reason.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use serde_json::json;

use crate::support::{World, text};

/// Fills `dir` with what a copy-up must keep: a setuid file of another owner with an
/// xattr, a symlink out of the rootfs (copied, never followed), a private subdirectory.
fn fill(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("f"), "hello").unwrap();
    std::os::unix::fs::chown(dir.join("f"), Some(1000), Some(1001)).unwrap();
    std::fs::set_permissions(dir.join("f"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    xattr_set(&dir.join("f"), "trusted.peapod", b"kept");
    std::fs::write(dir.join("sub/g"), "deep").unwrap();
    std::os::unix::fs::chown(dir.join("sub"), Some(2), Some(3)).unwrap();
    std::fs::set_permissions(dir.join("sub"), std::fs::Permissions::from_mode(0o710)).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", dir.join("link")).unwrap();
}

fn xattr_set(path: &Path, name: &str, value: &[u8]) {
    let out = std::process::Command::new("setfattr")
        .args(["-n", name, "-v", std::str::from_utf8(value).unwrap()])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn xattr_get(path: &Path, name: &str) -> String {
    let out = std::process::Command::new("getfattr")
        .args(["--only-values", "-n", name])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// podman adds `tmpcopyup` to every tmpfs (`--tmpfs`, `--read-only`'s /run, /tmp): the
/// tmpfs starts with what the image has there, modes, owners, xattrs and symlinks kept.
#[test]
#[ignore = "root: cargo xtask test"]
fn tmpcopyup_fills_the_tmpfs_with_what_the_image_has_there() {
    let mut world = World::new("tmpcopyup", &["sleep", "100"]);
    fill(&world.bundle().join("rootfs/data"));
    world.config["mounts"].as_array_mut().unwrap().extend([
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "tmpcopyup"]}),
        json!({"destination": "/data/sub", "type": "tmpfs", "source": "tmpfs",
               "options": ["ro", "mode=0755", "tmpcopyup"]}),
    ]);
    world.run_detached();
    let pid = world.state()["pid"].as_i64().unwrap();
    let data = Path::new(&format!("/proc/{pid}/root/data")).to_path_buf();
    let f = std::fs::metadata(data.join("f")).unwrap();
    let sub = std::fs::metadata(data.join("sub")).unwrap();
    let seen = (
        std::fs::read_to_string(data.join("f")).unwrap(),
        f.mode() & 0o7777,
        (f.uid(), f.gid()),
        xattr_get(&data.join("f"), "trusted.peapod"),
        std::fs::read_link(data.join("link")).unwrap(),
        std::fs::read_to_string(data.join("sub/g")).unwrap(),
        (sub.mode() & 0o7777, sub.uid(), sub.gid()),
    );
    // Writable tmpfs at /data (not the rootfs, which is read-only); /data/sub read-only.
    let out = world.oci(&[
        "exec",
        &world.id,
        "sh",
        "-c",
        "touch /data/new && ! touch /data/sub/new 2>/dev/null && grep -c ' /data.* tmpfs ' /proc/self/mountinfo",
    ]);
    assert!(
        world
            .oci(&["delete", "--force", &world.id])
            .status
            .success()
    );
    assert_eq!(
        seen,
        (
            "hello".to_owned(),
            0o4755,
            (1000, 1001),
            "kept".to_owned(),
            "/etc/shadow".into(),
            "deep".to_owned(),
            (0o755, 2, 3),
        )
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2",
        "{}",
        text(&out)
    );
    // The image's directory itself is untouched.
    assert!(!world.bundle().join("rootfs/data/new").exists());
    world.assert_nothing_left();
}
