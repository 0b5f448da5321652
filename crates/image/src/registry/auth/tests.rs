use super::*;

#[test]
fn challenges_parse_as_rfc7235_params() {
    assert_eq!(
        parse_challenge("Basic realm=\"Registry\""),
        Some(Challenge::Basic)
    );
    assert_eq!(
        parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#
        ),
        Some(Challenge::Bearer {
            realm: "https://auth.example/token".into(),
            service: Some("registry.example".into()),
            scope: Some("repository:a/b:pull".into()),
        })
    );
    assert_eq!(
        parse_challenge(r#"bearer realm=http://127.0.0.1:1/t , scope="a\"b""#),
        Some(Challenge::Bearer {
            realm: "http://127.0.0.1:1/t".into(),
            service: None,
            scope: Some("a\"b".into()),
        })
    );
    for bad in [
        "Negotiate abc",
        "Bearer service=\"x\"",
        "Bearer realm=\"unterminated",
        "Bearer realm",
        "",
    ] {
        assert_eq!(parse_challenge(bad), None, "{bad:?}");
    }
}

#[test]
fn auth_file_keys_normalise() {
    assert_eq!(normalise_key("https://index.docker.io/v1/"), "docker.io");
    assert_eq!(normalise_key("registry-1.docker.io"), "docker.io");
    assert_eq!(normalise_key("http://127.0.0.1:5000/"), "127.0.0.1:5000");
    assert_eq!(normalise_key("quay.io/team"), "quay.io/team");
    assert_eq!(normalise_key("index.docker.io/user"), "docker.io/user");
}

#[test]
fn store_lookup_logout_round_trip_keeps_other_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/auth.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        r#"{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="}},"credHelpers":{"x":"y"}}"#,
    )
    .unwrap();
    let files = vec![path.clone()];
    let hub = lookup(&files, "docker.io", Some("library/busybox"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (hub.username.as_str(), hub.password.as_str()),
        ("hub", "secret")
    );
    assert_eq!(lookup(&files, "127.0.0.1:5000", None).unwrap(), None);

    let creds = Credentials {
        username: "u".into(),
        password: "p:with:colons".into(),
    };
    store(&path, "127.0.0.1:5000", &creds).unwrap();
    assert_eq!(
        lookup(&files, "127.0.0.1:5000", Some("a/b")).unwrap(),
        Some(creds)
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["credHelpers"]["x"], "y");
    assert_eq!(
        doc["auths"]["127.0.0.1:5000"]["auth"],
        "dTpwOndpdGg6Y29sb25z"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);

    logout("127.0.0.1:5000", &path).unwrap();
    assert_eq!(lookup(&files, "127.0.0.1:5000", None).unwrap(), None);
    assert!(lookup(&files, "docker.io", None).unwrap().is_some());
    let err = logout("127.0.0.1:5000", &path).unwrap_err();
    assert!(matches!(err, RegistryError::NotLoggedIn { .. }), "{err}");
    assert!(
        err.to_string().contains("not logged in to 127.0.0.1:5000"),
        "{err}"
    );
}

#[test]
fn per_namespace_entries_win_over_the_host_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let b64 = |s: &str| STANDARD.encode(s);
    std::fs::write(
        &path,
        serde_json::json!({"auths": {
            "quay.io": {"auth": b64("host:1")},
            "quay.io/team": {"auth": b64("team:2")},
        }})
        .to_string(),
    )
    .unwrap();
    let files = vec![path];
    let get = |repo| lookup(&files, "quay.io", repo).unwrap().unwrap().username;
    assert_eq!(get(Some("team/app")), "team");
    assert_eq!(get(Some("teamx/app")), "host");
    assert_eq!(get(None), "host");
}

#[test]
fn malformed_auth_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    for (content, expect) in [
        ("{not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        (r#"{"auths":{"h":{"auth":"!!"}}}"#, "not base64"),
        (
            r#"{"auths":{"h":{"auth":"bm9jb2xvbg=="}}}"#,
            "not user:password",
        ),
        (r#"{"auths":{"h":{}}}"#, "no \"auth\""),
    ] {
        std::fs::write(&path, content).unwrap();
        let err = lookup(std::slice::from_ref(&path), "h", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expect) && err.contains("auth.json"),
            "{content}: {err}"
        );
    }
    assert_eq!(
        lookup(&[dir.path().join("missing.json")], "h", None).unwrap(),
        None
    );
}

#[test]
fn token_responses() {
    let t: TokenResponse =
        serde_json::from_str(r#"{"access_token":"a","expires_in":300}"#).unwrap();
    assert_eq!(t.expires_in, Some(300));
    assert_eq!(t.token().as_deref(), Some("a"));
    let t: TokenResponse = serde_json::from_str(r#"{"token":"","access_token":"b"}"#).unwrap();
    assert_eq!(t.token().as_deref(), Some("b"));
    let t: TokenResponse = serde_json::from_str(r#"{}"#).unwrap();
    assert_eq!(t.token(), None);
}

#[test]
fn credentials_debug_hides_the_password() {
    let c = Credentials {
        username: "u".into(),
        password: "hunter2".into(),
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(c.basic_header(), "Basic dTpodW50ZXIy");
}

#[test]
fn auth_files_in_podman_order() {
    let files = |vars: &[(&str, &str)], explicit: Option<&Path>| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        };
        auth_files_in(
            explicit,
            &Env {
                var: &lookup,
                uid: 1000,
            },
        )
    };
    let p = |s: &str| PathBuf::from(s);
    assert_eq!(
        files(
            &[
                ("REGISTRY_AUTH_FILE", "/a.json"),
                ("XDG_RUNTIME_DIR", "/run/user/1"),
                ("HOME", "/h")
            ],
            None
        ),
        [p("/a.json"), p("/h/.docker/config.json")]
    );
    assert_eq!(
        files(
            &[
                ("REGISTRY_AUTH_FILE", ""),
                ("XDG_RUNTIME_DIR", "/run/user/1")
            ],
            None
        ),
        [p("/run/user/1/containers/auth.json")]
    );
    assert_eq!(files(&[], None), [p("/run/containers/1000/auth.json")]);
    assert_eq!(
        files(&[("HOME", "/h")], Some(Path::new("/x.json"))),
        [p("/x.json")]
    );
}
