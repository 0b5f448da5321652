//! A config without a mount namespace (issue 7, item 5): the container's mounts are made in
//! the runtime's mount namespace, as runc 1.1 makes them, and undone at `delete`. Every
//! test runs peapod-oci inside a private mount namespace that it makes (`unshare -m`), so
//! the machine's own mount table never changes, even if the runtime gets it wrong.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{World, text};

/// Without a mount namespace the container shares the runtime's (the runtime spec: a
/// namespace not listed is inherited), as under runc and crun, entered by chroot; nothing
/// is mounted on the host when nothing is to be mounted, and `exec` lands in the same root.
#[test]
#[ignore = "root: cargo xtask test"]
fn without_a_mount_namespace_the_rootfs_is_entered_by_chroot() {
    let mut world = World::new("nomountns", &["sleep", "100"]);
    let host_only = world.tmp.path().display().to_string();
    without_mount_namespace(&mut world);
    world.config.as_object_mut().unwrap().remove("mounts");
    world.config["root"]["readonly"] = json!(false);
    world.run_detached();
    let script = format!("test -x /checker && test ! -e {host_only} && echo inside");
    let out = world.oci(&["exec", &world.id, "sh", "-c", &script]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "inside\n",
        "{}",
        text(&out)
    );
    let pid = world.state()["pid"].as_i64().unwrap();
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(root, world.bundle().join("rootfs"));
    let mounts_during = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        world
            .oci(&["delete", "--force", &world.id])
            .status
            .success()
    );
    // Nothing was mounted for it on the host, even while it ran.
    assert!(!mounts_during.contains(&host_only), "{mounts_during}");
    world.assert_nothing_left();
}

/// The runc config of `world` without its mount namespace, masked and read-only paths.
fn without_mount_namespace(world: &mut World) {
    let linux = world.config["linux"].as_object_mut().unwrap();
    linux.remove("maskedPaths");
    linux.remove("readonlyPaths");
    linux["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "mount");
}

/// Runs `script` with `sh` in a new private mount namespace whose `/` is shared (as a
/// systemd host's is), with `$OCI` the runtime and its root, `$B` the bundle, `$ID` the id
/// and `$T` the test's directory.
fn in_private_mount_namespace(world: &World, script: &str) -> std::process::Output {
    world.write_config();
    let oci = format!(
        "{} --root {}",
        env!("CARGO_BIN_EXE_peapod-oci"),
        world.root().display()
    );
    Command::new("unshare")
        .args(["--mount", "--propagation", "shared", "sh", "-euc", script])
        .env("OCI", oci)
        .env("B", world.bundle())
        .env("ID", &world.id)
        .env("T", world.tmp.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// `run` in a private mount namespace, which must fail; returns its stderr, after checking
/// that no mount under the test's directory is left in that namespace.
fn run_refused(world: &World) -> String {
    let script = r#"
        if $OCI run --bundle "$B" "$ID" 2> "$T/error"; then echo ran; fi
        cat /proc/self/mountinfo > "$T/after"
    "#;
    let out = in_private_mount_namespace(world, script);
    assert!(out.status.success(), "{}", text(&out));
    let error = read(world, "error");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ran"),
        "{error}"
    );
    let ours = world.tmp.path().display().to_string();
    assert!(
        !read(world, "after").contains(&ours),
        "left behind: {error}"
    );
    error
}

fn read(world: &World, name: &str) -> String {
    std::fs::read_to_string(world.tmp.path().join(name)).unwrap()
}

/// runc makes the config's mounts under a bind of the rootfs onto itself in the runtime's
/// mount namespace, creates the devices, and chroots; so does peapod-oci, and it also
/// honours the read-only root (runc ignores it), changes no propagation of the runtime's
/// mounts (runc makes `/` rslave and the rootfs's parent private), and detaches it all at
/// `delete` (runc leaves it behind). `exec` lands in the same root with the same mounts.
#[test]
#[ignore = "root: cargo xtask test"]
fn without_a_mount_namespace_the_configs_mounts_are_made_and_undone_at_delete() {
    let mut world = World::new("oci-nomnt-mounts", &["sleep", "100"]);
    without_mount_namespace(&mut world);
    assert_eq!(world.config["root"]["readonly"], json!(true));
    let script = r#"
        grep ' / / ' /proc/self/mountinfo | cut -d' ' -f5- > "$T/slash-before"
        $OCI run --detach --bundle "$B" "$ID"
        $OCI exec "$ID" sh -c 'cut -d" " -f5 /proc/self/mountinfo; touch /x || echo refused;
            touch /tmp/y && echo tmp-writable; test -c /dev/null && echo null-device' \
            > "$T/inside" 2>&1
        cat /proc/self/mountinfo > "$T/during"
        $OCI delete --force "$ID"
        cat /proc/self/mountinfo > "$T/after"
        grep ' / / ' /proc/self/mountinfo | cut -d' ' -f5- > "$T/slash-after"
    "#;
    let out = in_private_mount_namespace(&world, script);
    assert!(out.status.success(), "{}", text(&out));
    let inside = read(&world, "inside");
    for line in ["/\n", "/proc\n", "/dev\n", "/tmp\n", "/sys\n"] {
        assert!(inside.contains(line), "no {line:?} mount inside: {inside}");
    }
    for word in [
        "Read-only file system",
        "refused",
        "tmp-writable",
        "null-device",
    ] {
        assert!(inside.contains(word), "no {word:?} inside: {inside}");
    }
    let rootfs = world.bundle().join("rootfs").display().to_string();
    let during = read(&world, "during");
    for mount in ["", "/proc", "/tmp", "/dev"] {
        let point = format!(" {rootfs}{mount} ");
        assert!(during.contains(&point), "no mount at {point}: {during}");
    }
    let after = read(&world, "after");
    assert!(!after.contains(&rootfs), "left behind: {after}");
    assert_eq!(read(&world, "slash-before"), read(&world, "slash-after"));
    assert!(read(&world, "slash-after").contains("shared:"));
    world.assert_nothing_left();
}

/// A mount that fails half-way through leaves nothing: the mounts already made, and the
/// bind of the rootfs they were under, are detached as the failed `create` is undone.
#[test]
#[ignore = "root: cargo xtask test"]
fn without_a_mount_namespace_a_failed_mount_leaves_nothing() {
    let mut world = World::new("oci-nomnt-fail", &["true"]);
    without_mount_namespace(&mut world);
    let missing = world.tmp.path().join("no-such-source");
    world.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/mnt", "type": "bind", "source": missing, "options": ["bind"]}),
    );
    let error = run_refused(&world);
    assert!(
        error.contains("/mnt") && error.contains("no-such-source"),
        "{error}"
    );
    world.assert_nothing_left();
}

/// What would change the host beyond the container is refused before anything is made,
/// with the reason: masked and read-only paths (runc refuses them too) and
/// `rootfsPropagation` (runc applies it to the runtime's own `/`).
#[test]
#[ignore = "root: cargo xtask test"]
fn without_a_mount_namespace_what_would_change_the_host_is_refused() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 3] = [
        ("linux.maskedPaths", |c| {
            c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
        }),
        ("linux.readonlyPaths", |c| {
            c["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
        }),
        ("linux.rootfsPropagation", |c| {
            c["linux"]["rootfsPropagation"] = json!("shared");
        }),
    ];
    for (what, edit) in cases {
        let mut world = World::new("oci-nomnt-refused", &["true"]);
        without_mount_namespace(&mut world);
        edit(&mut world.config);
        let script = r#"
            if $OCI run --bundle "$B" "$ID" 2> "$T/error"; then echo ran; fi
            cat /proc/self/mountinfo > "$T/after"
        "#;
        let out = in_private_mount_namespace(&world, script);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("ran"),
            "{what}"
        );
        let error = read(&world, "error");
        assert!(
            error.contains(&format!("{what} need a mount namespace"))
                && error.contains("on the host"),
            "{what}: {error}"
        );
        world.assert_nothing_left();
    }
}
