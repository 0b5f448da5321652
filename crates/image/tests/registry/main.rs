//! The registry client against a real registry (Debian's docker-registry, distribution 2.8)
//! on 127.0.0.1, into which skopeo pushed the images: TLS, basic and token auth, manifests
//! by tag and digest, indexes, streamed blobs, and the failures (401, TLS, a registry killed
//! mid-blob, a manifest over the bound). Ignored by plain `cargo test` (they need the Debian
//! packages of `cargo xtask deps`); `cargo xtask test` runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // the helpers below are test code too

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod failures;
mod pull;

use std::time::Duration;

use peapod_image::Digest;
use peapod_image::registry::{
    Credentials, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, RegistryClient,
    RegistryError, RegistryOptions, logout,
};
use support::layout;
use support::registry::{Auth, Config, Registry};
use support::token::Policy;
use support::{fixture, rt};

fn anonymous_tls() -> Registry {
    Registry::start(Config {
        tls: true,
        auth: Auth::Anonymous,
    })
}

fn basic() -> Registry {
    Registry::start(Config {
        tls: true,
        auth: Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        },
    })
}

fn token(anonymous_pull: bool) -> Registry {
    Registry::start(Config {
        tls: true,
        auth: Auth::Token(Policy {
            user: "bob".into(),
            password: "t0ken-pass".into(),
            anonymous_pull,
        }),
    })
}

/// A client for `reg` with `credentials`.
fn client_with(reg: &Registry, credentials: Option<Credentials>) -> RegistryClient {
    RegistryClient::new(RegistryOptions {
        credentials,
        ..reg.options()
    })
}

fn creds(user: &str, password: &str) -> Credentials {
    Credentials {
        username: user.into(),
        password: password.into(),
    }
}

/// The digest and size of a manifest's descriptor at `pointer` (`/config`, `/layers/0`).
fn descriptor(manifest: &[u8], pointer: &str) -> (Digest, u64) {
    let m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let d = &m.pointer(pointer).unwrap();
    (
        d["digest"].as_str().unwrap().parse().unwrap(),
        d["size"].as_u64().unwrap(),
    )
}

/// Reads a whole blob through the client, returning (bytes, number of chunks).
async fn read_blob(
    client: &RegistryClient,
    r: &peapod_image::reference::Reference,
    d: &Digest,
) -> Result<(Vec<u8>, usize), RegistryError> {
    let mut stream = client.blob(r, d).await?;
    let mut out = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next_chunk().await? {
        out.extend_from_slice(&chunk);
        chunks += 1;
    }
    Ok((out, chunks))
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn manifest_by_tag_and_by_digest_over_tls() {
    let reg = anonymous_tls();
    let src = fixture("busybox");
    reg.push_oci(&src, "latest", "library/busybox:1");
    let want = layout::tagged(&src, "latest");
    let client = RegistryClient::new(reg.options());
    rt().block_on(async {
        let by_tag = client
            .manifest(&reg.reference("library/busybox:1"))
            .await
            .unwrap();
        assert_eq!(by_tag.media_type, OCI_MANIFEST);
        assert_eq!(by_tag.digest, want);
        assert_eq!(
            by_tag.bytes.as_ref(),
            layout::read_blob(&src, &want).as_slice()
        );

        let pinned = reg.reference(&format!("library/busybox@{want}"));
        let by_digest = client.manifest(&pinned).await.unwrap();
        assert_eq!(
            (by_digest.digest, by_digest.bytes),
            (want.clone(), by_tag.bytes.clone())
        );
        let again = client
            .manifest_by_digest(&reg.reference("library/busybox:other"), &want)
            .await
            .unwrap();
        assert_eq!(again.digest, want);

        let err = client
            .manifest(&reg.reference("library/busybox:nope"))
            .await
            .unwrap_err();
        eprintln!("{err}");
        assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&reg.host) && msg.contains("library/busybox") && msg.contains("nope"),
            "{msg}"
        );
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn an_index_of_two_platforms_and_its_manifests() {
    let reg = anonymous_tls();
    let dir = tempfile::tempdir().unwrap();
    let multi = layout::two_platforms(&fixture("busybox"), dir.path());
    reg.push_oci(dir.path(), "multi", "multi:v1");
    let client = RegistryClient::new(reg.options());
    rt().block_on(async {
        let r = reg.reference("multi:v1");
        let index = client.manifest(&r).await.unwrap();
        assert_eq!(index.media_type, OCI_INDEX);
        assert_eq!(index.digest, multi.index);
        for d in [&multi.amd64, &multi.arm64] {
            let m = client.manifest_by_digest(&r, d).await.unwrap();
            assert_eq!((&m.digest, m.media_type.as_str()), (d, OCI_MANIFEST));
        }
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn a_blob_streams_in_chunks_and_verifies() {
    let reg = anonymous_tls();
    let src = fixture("busybox");
    reg.push_oci(&src, "latest", "busybox:latest");
    let (layer, size) = descriptor(
        &layout::read_blob(&src, &layout::tagged(&src, "latest")),
        "/layers/0",
    );
    let client = RegistryClient::new(reg.options());
    rt().block_on(async {
        let r = reg.reference("busybox");
        let stream = client.blob(&r, &layer).await.unwrap();
        assert_eq!(stream.content_length(), Some(size));
        let (bytes, chunks) = read_blob(&client, &r, &layer).await.unwrap();
        assert_eq!(bytes, layout::read_blob(&src, &layer));
        assert!(chunks > 1, "a {size}-byte blob came in {chunks} chunk(s)");

        // A size that disagrees with the registry's Content-Length is refused up front.
        let err = client
            .blob(&r, &layer)
            .await
            .unwrap()
            .expect_size(size + 1)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("the descriptor says {}", size + 1)),
            "{err}"
        );

        let missing = Digest::of(b"not in the registry");
        let err = client.blob(&r, &missing).await.unwrap_err();
        eprintln!("{err}");
        assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn plain_http_on_loopback_after_a_failed_handshake() {
    let reg = Registry::start(Config {
        tls: false,
        auth: Auth::Anonymous,
    });
    reg.push_busybox("busybox:1");
    rt().block_on(async {
        let client = RegistryClient::new(reg.options());
        client.manifest(&reg.reference("busybox:1")).await.unwrap();
        let told = RegistryClient::new(RegistryOptions {
            plain_http: vec![reg.host.clone()],
            ..reg.options()
        });
        told.manifest(&reg.reference("busybox:1")).await.unwrap();
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn docker_media_types_a_schema2_manifest_and_a_manifest_list() {
    let reg = anonymous_tls();
    let dir = tempfile::tempdir().unwrap();
    layout::two_platforms(&fixture("busybox"), dir.path());
    let source = format!("oci:{}:multi", dir.path().display());
    reg.push_with(&source, "docker/multi:1", true, &["--format", "v2s2"]);
    let client = RegistryClient::new(reg.options());
    rt().block_on(async {
        let r = reg.reference("docker/multi:1");
        let list = client.manifest(&r).await.unwrap();
        assert_eq!(list.media_type, DOCKER_MANIFEST_LIST);
        let doc: serde_json::Value = serde_json::from_slice(&list.bytes).unwrap();
        let entries = doc["manifests"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        for entry in entries {
            let d: Digest = entry["digest"].as_str().unwrap().parse().unwrap();
            let m = client.manifest_by_digest(&r, &d).await.unwrap();
            assert_eq!((m.media_type.as_str(), &m.digest), (DOCKER_MANIFEST, &d));
        }
    });
}

#[test]
#[ignore = "needs docker-registry, skopeo and htpasswd (cargo xtask deps)"]
fn a_zstd_layer_streams_and_verifies_as_pushed() {
    let reg = anonymous_tls();
    let source = format!("oci:{}:latest", fixture("busybox").display());
    let flags = ["--dest-compress-format", "zstd", "--dest-compress"];
    reg.push_with(&source, "zstd/busybox:1", false, &flags);
    let client = RegistryClient::new(reg.options());
    rt().block_on(async {
        let r = reg.reference("zstd/busybox:1");
        let m = client.manifest(&r).await.unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
        let media_type = doc["layers"][0]["mediaType"].as_str().unwrap();
        assert_eq!(media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
        let (layer, size) = descriptor(&m.bytes, "/layers/0");
        let (bytes, _) = read_blob(&client, &r, &layer).await.unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(&bytes[..4], b"\x28\xb5\x2f\xfd", "zstd magic");
    });
}
