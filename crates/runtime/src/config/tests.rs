//! Every refusal names the file and the cause.

use serde_json::{Value, json};

use super::Bundle;

/// A minimal valid config: busybox-like rootfs dir `rootfs`, pid+mount+uts namespaces.
fn base() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "hostname": "box",
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
    })
}

fn load(config: &Value) -> Result<Bundle, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(config).unwrap(),
    )
    .unwrap();
    Bundle::load(dir.path()).map_err(|e| {
        let msg = e.to_string();
        let prefix = format!(
            "invalid bundle config {}/config.json: ",
            dir.path().canonicalize().unwrap().display()
        );
        msg.strip_prefix(&prefix).map(str::to_owned).unwrap_or(msg)
    })
}

fn refused(edit: impl FnOnce(&mut Value)) -> String {
    let mut config = base();
    edit(&mut config);
    load(&config).expect_err("config should be refused")
}

#[test]
fn the_base_config_is_accepted_with_its_rootfs_resolved() {
    let bundle = load(&base()).unwrap();
    assert!(bundle.rootfs.is_absolute() && bundle.rootfs.ends_with("rootfs"));
}

#[test]
fn a_missing_bundle_or_config_is_named() {
    let err = Bundle::load(std::path::Path::new("/nonexistent/bundle"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot open bundle /nonexistent/bundle:"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = Bundle::load(dir.path()).unwrap_err().to_string();
    assert!(err.starts_with("cannot read bundle config"), "{err}");
}

#[test]
fn malformed_json_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    let err = Bundle::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("config.json: key must be a string"), "{err}");
}

#[test]
fn each_invalid_field_is_refused_with_its_reason() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("root"))),
            "root is missing",
        ),
        (
            Box::new(|c| c["root"]["path"] = json!("nope")),
            "invalid rootfs nope: it does not exist",
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("process"))),
            "process is missing",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!([])),
            "process.args is empty",
        ),
        (
            Box::new(|c| c["process"]["cwd"] = json!("relative")),
            "process.cwd relative is not absolute",
        ),
        (
            Box::new(|c| {
                c["linux"]["namespaces"] =
                    json!([{"type": "pid"}, {"type": "mount"}, {"type": "bogus"}])
            }),
            "unknown variant `bogus`",
        ),
        (
            Box::new(|c| {
                c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}]);
                c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
                c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
            }),
            "linux.maskedPaths need a mount namespace: without one they would apply to the \
             runtime's own mount namespace, on the host",
        ),
        (
            Box::new(|c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "mount"}])),
            "namespace mount is listed twice in linux.namespaces",
        ),
        (
            Box::new(|c| c["linux"]["namespaces"] = json!([{"type": "mount"}])),
            "hostname is set but the container has no uts namespace",
        ),
        (
            Box::new(|c| {
                c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}])
            }),
            "unknown variant `RLIMIT_BOGUS`",
        ),
        (
            Box::new(|c| {
                c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}])
            }),
            "rlimit RlimitNofile has soft limit 2 above its hard limit 1",
        ),
        (
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}));
            }),
            "invalid uid mapping : a new user namespace needs at least one mapping",
        ),
        (
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}));
                c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 0}]);
                c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            }),
            "invalid uid mapping 0 1000 0: a mapping has size 0",
        ),
        (
            Box::new(|c| {
                c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}])
            }),
            "uid/gid mappings are set but the container has no new user namespace",
        ),
        (
            Box::new(|c| c["hooks"] = json!({"createRuntime": [{"path": "relative/hook"}]})),
            "createRuntime hook path relative/hook is not absolute",
        ),
        (
            Box::new(|c| c["hooks"] = json!({"prestart": [{"path": "/nonexistent/hook"}]})),
            "prestart hook /nonexistent/hook does not exist",
        ),
    ];
    for (edit, expected) in cases {
        let err = refused(edit);
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
    }
}

/// What runc 1.1 runs, peapod-oci runs (issue 7's kind: no refusal stricter than runc's).
#[test]
fn what_runc_accepts_is_accepted() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "a future ociVersion",
            Box::new(|c| c["ociVersion"] = json!("3.0.0")),
        ),
        (
            "an empty ociVersion",
            Box::new(|c| c["ociVersion"] = json!("")),
        ),
        (
            "an rlimit listed twice",
            Box::new(|c| {
                c["process"]["rlimits"] = json!([
                    {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
                    {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512}
                ])
            }),
        ),
        (
            "personality flags",
            Box::new(|c| c["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["x"]})),
        ),
        (
            "no mount namespace, and nothing to mount",
            Box::new(|c| c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}])),
        ),
        (
            "no mount namespace, with mounts, devices and a read-only root",
            Box::new(|c| {
                c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}]);
                c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
                c["root"]["readonly"] = json!(true);
                c["linux"]["devices"] =
                    json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
            }),
        ),
        (
            "a poststop hook installed after create",
            Box::new(|c| c["hooks"] = json!({"poststop": [{"path": "/nonexistent/hook"}]})),
        ),
    ];
    for (what, edit) in cases {
        let mut config = base();
        edit(&mut config);
        if let Err(e) = load(&config) {
            panic!("{what} refused: {e}");
        }
    }
}

/// runc ignores capability names it does not know (with a warning); so do we, once the
/// plain parse failed.
#[test]
fn unknown_capabilities_are_dropped_and_named() {
    let mut config = base();
    config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NOT_A_THING"],
        "effective": ["CAP_NOT_A_THING", "CAP_FUTURE"]
    });
    let bundle = load(&config).unwrap();
    assert_eq!(
        bundle.unknown_capabilities,
        ["CAP_FUTURE", "CAP_NOT_A_THING"]
    );
    let caps = bundle
        .spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .clone()
        .unwrap();
    assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
    assert!(caps.effective().as_ref().unwrap().is_empty());
    // Any other error is still the parser's.
    config["process"]["capabilities"]["bounding"] = json!("CAP_KILL");
    assert!(load(&config).unwrap_err().contains("invalid type"));
}
