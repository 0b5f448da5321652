use super::*;

fn image(entrypoint: &[&str], cmd: &[&str]) -> ImageConfig {
    ImageConfig {
        entrypoint: entrypoint.iter().map(|s| (*s).to_owned()).collect(),
        cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
        ..ImageConfig::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn entrypoint_and_cmd_follow_dockers_override_rules() {
    let img = image(&["/entry"], &["default"]);
    let args = |opts: ContainerConfig| process_args(&img, &opts).unwrap();
    assert_eq!(args(ContainerConfig::default()), ["/entry", "default"]);
    assert_eq!(
        args(ContainerConfig {
            cmd: strings(&["x"]),
            ..Default::default()
        }),
        ["/entry", "x"]
    );
    // --entrypoint drops the image's Cmd.
    assert_eq!(
        args(ContainerConfig {
            entrypoint: Some(strings(&["/other"])),
            ..Default::default()
        }),
        ["/other"]
    );
    assert_eq!(
        args(ContainerConfig {
            entrypoint: Some(strings(&[""])),
            cmd: strings(&["sh"]),
            ..Default::default()
        }),
        ["sh"]
    );
    let err = process_args(&ImageConfig::default(), &ContainerConfig::default()).unwrap_err();
    assert!(err.to_string().contains("no command specified"), "{err}");
}

#[test]
fn environment_merges_image_then_flags_with_docker_defaults() {
    let img = ImageConfig {
        env: strings(&["A=1", "B=2"]),
        ..ImageConfig::default()
    };
    let opts = ContainerConfig {
        env: strings(&["B=3", "C="]),
        tty: true,
        ..Default::default()
    };
    let env = environment(&img, &opts, "h", "/root").unwrap();
    assert_eq!(
        env,
        [
            DEFAULT_PATH,
            "HOSTNAME=h",
            "A=1",
            "B=3",
            "C=",
            "TERM=xterm",
            "HOME=/root"
        ]
    );
    let with_path = ImageConfig {
        env: strings(&["PATH=/x"]),
        ..ImageConfig::default()
    };
    let env = environment(&with_path, &ContainerConfig::default(), "h", "/").unwrap();
    assert_eq!(env, ["HOSTNAME=h", "PATH=/x", "HOME=/"]);
    let bad = ContainerConfig {
        env: strings(&["=x"]),
        ..Default::default()
    };
    assert!(environment(&img, &bad, "h", "/").is_err());
}

#[test]
fn capabilities_start_from_dockers_set() {
    let caps = |add: &[&str], drop: &[&str]| {
        capabilities(&ContainerConfig {
            cap_add: strings(add),
            cap_drop: strings(drop),
            ..Default::default()
        })
    };
    assert_eq!(caps(&[], &[]).unwrap(), DEFAULT_CAPABILITIES);
    let c = caps(&["net_admin"], &["CAP_CHOWN", "mknod"]).unwrap();
    assert!(c.contains(&"CAP_NET_ADMIN".to_owned()));
    assert!(!c.contains(&"CAP_CHOWN".to_owned()) && !c.contains(&"CAP_MKNOD".to_owned()));
    assert_eq!(caps(&["KILL"], &["ALL"]).unwrap(), ["CAP_KILL"]);
    assert!(
        caps(&["ALL"], &[])
            .unwrap()
            .contains(&"CAP_SYS_ADMIN".to_owned())
    );
    let err = caps(&["NOT_A_CAP"], &[]).unwrap_err();
    assert!(err.to_string().contains("NOT_A_CAP"), "{err}");
}

#[test]
fn users_resolve_as_docker_resolves_them() {
    let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    let group = "root:x:0:\napp:x:1000:\nstaff:x:50:app\nwheel:x:10:app,root\nnogroup:x:65534:\n";
    let r = |spec: &str| resolve_user(spec, passwd, group);
    let root = r("").unwrap();
    assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
    assert_eq!(root.additional_gids, [10]);
    let app = r("app").unwrap();
    assert_eq!(
        (app.uid, app.gid, app.additional_gids.clone()),
        (1000, 1000, vec![10, 50])
    );
    assert_eq!(r("1000").unwrap(), app);
    let both = r("app:staff").unwrap();
    assert_eq!(
        (both.uid, both.gid, both.additional_gids.len()),
        (1000, 50, 0)
    );
    let unknown_uid = r("4242:4343").unwrap();
    assert_eq!(
        (unknown_uid.uid, unknown_uid.gid, unknown_uid.home.as_str()),
        (4242, 4343, "/")
    );
    assert_eq!(r("4242").unwrap().gid, 0);
    assert!(
        r("ghost")
            .unwrap_err()
            .to_string()
            .contains("unable to find user ghost")
    );
    assert!(
        r("app:ghosts")
            .unwrap_err()
            .to_string()
            .contains("unable to find group ghosts")
    );
    for bad in ["app:", ":0", "99999999999"] {
        assert!(matches!(r(bad), Err(UserError::Invalid(_))), "{bad}");
    }
}

#[test]
fn the_spec_has_dockers_confinement_and_privileged_lifts_it() {
    let img = ImageConfig {
        cmd: strings(&["sh"]),
        working_dir: "/srv".into(),
        ..ImageConfig::default()
    };
    let user = resolve_user("", "", "").unwrap();
    let spec = build_spec(
        &img,
        &ContainerConfig::default(),
        &user,
        "abc",
        std::path::Path::new("/r"),
        "/peapod/abc",
    )
    .unwrap();
    let v = serde_json::to_value(&spec).unwrap();
    assert_eq!(v["process"]["args"], json!(["sh"]));
    assert_eq!(v["process"]["cwd"], "/srv");
    assert_eq!(v["hostname"], "abc");
    assert_eq!(v["root"]["path"], "/r");
    assert_eq!(v["linux"]["maskedPaths"], json!(MASKED_PATHS));
    let mut bounding: Vec<String> =
        serde_json::from_value(v["process"]["capabilities"]["bounding"].clone()).unwrap();
    bounding.sort();
    let mut want = strings(DEFAULT_CAPABILITIES);
    want.sort();
    assert_eq!(bounding, want);
    let privileged = ContainerConfig {
        privileged: true,
        ..Default::default()
    };
    let v = serde_json::to_value(
        build_spec(
            &img,
            &privileged,
            &user,
            "abc",
            std::path::Path::new("/r"),
            "/p",
        )
        .unwrap(),
    )
    .unwrap();
    assert!(v["linux"].get("maskedPaths").is_none());
    assert!(
        v["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .len()
            > 38
    );
    assert_eq!(v["linux"]["resources"]["devices"][0]["allow"], true);
    let rel = ContainerConfig {
        workdir: Some("srv".into()),
        ..Default::default()
    };
    assert!(build_spec(&img, &rel, &user, "h", std::path::Path::new("/r"), "/p").is_err());
}

#[test]
fn an_image_config_with_nulls_parses() {
    let doc = json!({"config": {"Env": null, "Cmd": ["sh"], "Entrypoint": null, "ExposedPorts": {"80/tcp": {}}}});
    let c = ImageConfig::from_image_config(&doc).unwrap();
    assert_eq!(
        (c.cmd, c.env.len(), c.exposed_ports.len()),
        (strings(&["sh"]), 0, 1)
    );
    assert_eq!(
        ImageConfig::from_image_config(&json!({})).unwrap(),
        ImageConfig::default()
    );
}
