//! Basic and token auth, login and logout, against the real registry.

use super::*;

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn basic_auth_good_wrong_and_missing_credentials() {
    let reg = basic();
    let r = reg.push_busybox("private/busybox:1");
    rt().block_on(async {
        let none = RegistryClient::new(reg.options());
        let err = none.manifest(&r).await.unwrap_err();
        eprintln!("{err}");
        assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
        let msg = err.to_string();
        assert_eq!(
            msg,
            format!(
                "401 Unauthorized: authentication required for {0} (repository private/busybox): \
                 no credentials found; run `peapod login {0}`",
                reg.host
            )
        );

        let wrong = client_with(&reg, Some(creds("alice", "wrong")));
        let err = wrong.manifest(&r).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "401 Unauthorized: wrong username or password for {} (repository private/busybox)",
                reg.host
            )
        );

        let good = client_with(&reg, reg.credentials.clone());
        let m = good.manifest(&r).await.unwrap();
        assert_eq!(m.media_type, OCI_MANIFEST);
        let (config, _) = descriptor(&m.bytes, "/config");
        read_blob(&good, &r, &config).await.unwrap();
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn token_auth_refuses_anonymous_and_serves_credentialed_pulls() {
    let reg = token(false);
    let r = reg.push_busybox("team/busybox:1");
    let issuer = reg.token.as_ref().unwrap();
    rt().block_on(async {
        let anonymous = RegistryClient::new(reg.options());
        let err = anonymous.manifest(&r).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("401 Unauthorized: the token server refused anonymous access"),
            "{msg}"
        );
        assert!(msg.contains(&reg.host), "{msg}");

        let wrong = client_with(&reg, Some(creds("bob", "nope")));
        let err = wrong.manifest(&r).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("401 Unauthorized: wrong username or password for"),
            "{err}"
        );

        let good = client_with(&reg, reg.credentials.clone());
        let before = issuer.requests();
        let m = good.manifest(&r).await.unwrap();
        let (layer, _) = descriptor(&m.bytes, "/layers/0");
        read_blob(&good, &r, &layer).await.unwrap();
        good.manifest(&r).await.unwrap();
        // One token for the repository's pull scope, cached for the later requests.
        assert_eq!(issuer.requests() - before, 1);
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn token_auth_anonymous_pull_when_the_server_allows_it() {
    let reg = token(true);
    reg.push_busybox("public/busybox:1");
    rt().block_on(async {
        let client = RegistryClient::new(reg.options());
        let m = client
            .manifest(&reg.reference("public/busybox:1"))
            .await
            .unwrap();
        assert_eq!(m.media_type, OCI_MANIFEST);
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn login_then_pull_with_the_auth_file_then_logout() {
    for reg in [basic(), token(false)] {
        reg.push_busybox("mine/busybox:1");
        let dir = tempfile::tempdir().unwrap();
        let auth_file = dir.path().join("containers/auth.json");
        let good = reg.credentials.clone().unwrap();
        rt().block_on(async {
            let client = RegistryClient::new(reg.options());
            let err = client
                .login(&reg.host, &creds(&good.username, "bad"), &auth_file)
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("wrong username or password"),
                "{err}"
            );
            assert!(!auth_file.exists(), "a failed login wrote the auth file");

            client.login(&reg.host, &good, &auth_file).await.unwrap();
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
            assert!(doc["auths"][&reg.host]["auth"].is_string(), "{doc}");

            let with_file = RegistryClient::new(RegistryOptions {
                auth_file: Some(auth_file.clone()),
                ..reg.options()
            });
            with_file
                .manifest(&reg.reference("mine/busybox:1"))
                .await
                .unwrap();
        });
        logout(&reg.host, &auth_file).unwrap();
        rt().block_on(async {
            let after = RegistryClient::new(RegistryOptions {
                auth_file: Some(auth_file.clone()),
                ..reg.options()
            });
            let err = after
                .manifest(&reg.reference("mine/busybox:1"))
                .await
                .unwrap_err();
            eprintln!("{err}");
            assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
        });
        assert!(matches!(
            logout(&reg.host, &auth_file),
            Err(RegistryError::NotLoggedIn { .. })
        ));
    }
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn a_token_server_answering_503_is_retried_then_given_up_on() {
    let reg = token(false);
    let r = reg.push_busybox("team/busybox:1");
    let issuer = reg.token.as_ref().unwrap();
    let client = |retries| {
        RegistryClient::new(RegistryOptions {
            credentials: reg.credentials.clone(),
            retries,
            ..reg.options()
        })
    };
    rt().block_on(async {
        issuer.fail_next(2);
        let before = issuer.requests();
        client(2).manifest(&r).await.unwrap();
        assert_eq!(issuer.requests() - before, 3);

        issuer.fail_next(2);
        let err = client(1).manifest(&r).await.unwrap_err();
        eprintln!("{err}");
        assert!(matches!(err, RegistryError::Token { .. }), "{err}");
        let expect = format!(
            "token server {} of {}: 503 Service Unavailable",
            issuer.realm, reg.host
        );
        assert!(err.to_string().starts_with(&expect), "{err}");
    });
}
