//! The OCI distribution client: manifests and blobs from a registry, with auth and TLS.
//!
//! It speaks the pull side of the OCI distribution spec (`spec.md`, "Pulling manifests",
//! "Pulling blobs", "Error codes") and docker's token authentication spec (`token.md`: the
//! `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge, the token request with
//! optional basic credentials, the `token`/`access_token` answer), plus plain HTTP basic
//! auth. Manifests are asked for as OCI image manifest or index and Docker schema2 manifest or
//! manifest list ([`MANIFEST_MEDIA_TYPES`]); parsing them is the caller's.
//!
//! ## Why our own client on reqwest, not `oci-client`
//! `oci-client` 0.18 was checked first (the issue prefers a well-kept client). It has streamed
//! blobs, bearer and basic auth, extra CAs and plain-HTTP hosts, but it reads manifests and
//! error bodies whole with no size bound (a registry is untrusted input), folds a token
//! server's 401 into an opaque string (no "wrong username or password"), has no retries,
//! brings its own reference parser beside ours, and pulls chrono, regex, olpc-cjson, hex and
//! http-auth in. What it would save us is a few hundred lines over the same HTTP stack
//! (reqwest 0.13, which it uses too), so this module writes the protocol on reqwest directly.
//!
//! Dependencies, each lean: `reqwest` (`rustls-no-provider` only: HTTP/1.1, proxies from the
//! environment (`HTTPS_PROXY`, `NO_PROXY`) but not the OS settings, no compression, no
//! cookies), `rustls` with the `ring` provider (smaller to build than
//! aws-lc-rs; given to reqwest as a ready `ClientConfig`, so no process-wide default is set),
//! `rustls-platform-verifier` (system roots plus our CAs; reqwest's own choice), `tokio`
//! (`time`, for backoff), `bytes` (the chunk type), `base64` (auth files and basic auth).
//!
//! ## Behaviour
//! - **Async on the caller's runtime**: make a `current_thread` tokio runtime with IO and
//!   time enabled for the call (`Builder::new_current_thread().enable_all()`, the house
//!   rule); nothing here spawns tasks or threads.
//! - **TLS**: system roots plus the `*.crt` files of `certs_dir/HOST[:PORT]/` (as podman's
//!   `/etc/containers/certs.d`); `tls_verify: false` accepts any certificate. Plain HTTP is
//!   used for the hosts in `plain_http`, and tried after a TLS handshake failure only for
//!   loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`) or when `tls_verify` is off.
//! - **Auth**: a request is sent anonymously first; on 401 the challenge says what to do.
//!   Basic: credentials are sent from then on. Bearer: a token is fetched from the realm (with
//!   the credentials, if any) and cached per scope until it expires. Credentials come from
//!   `credentials`, else the auth files ([`auth::auth_files`]). The token realm is reached
//!   with the registry's TLS trust, over https (plain http only on loopback, or when the
//!   registry itself is plain HTTP), and credentials go to it as the token spec says.
//! - **Redirects** (blobs are often served from storage elsewhere): at most 5, never from
//!   https to http; reqwest drops `Authorization` when a redirect changes host, port or
//!   scheme, so credentials and tokens stay with the registry.
//! - **Retries**: connection failures, 429 and 5xx are retried `retries` times with doubling
//!   delays (a `Retry-After` up to 10 s is honoured); a 401 after authenticating, 403, 404,
//!   and TLS failures are not. A blob body that breaks off is not retried here: the caller
//!   restarts the blob.
//! - **Bounds**: manifests over `max_manifest_size` (4 MiB by default) are refused, even
//!   without a `Content-Length`; token answers and error bodies are read up to 1 MiB and
//!   64 KiB; every read times out after 60 s without data.

pub mod auth;
mod blob;
mod error;
mod request;
mod transport;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

pub use auth::{Credentials, default_auth_file, logout};
pub use blob::BlobStream;
pub use error::RegistryError;

use crate::digest::Digest;
use crate::reference::Reference;
use request::{Host, Req, read_limited};

/// `application/vnd.oci.image.manifest.v1+json` (image-spec `manifest.md`).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json` (image-spec `image-index.md`).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list (its index).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// What [`RegistryClient::manifest`] accepts, in order of preference.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
];
/// The default bound on a manifest, in bytes (4 MiB, as registries bound what they accept).
pub const DEFAULT_MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// How a [`RegistryClient`] talks to registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Verify server certificates (`--tls-verify`, default true).
    pub tls_verify: bool,
    /// Where per-registry CAs live: `DIR/HOST[:PORT]/*.crt` (default
    /// `/etc/containers/certs.d`).
    pub certs_dir: PathBuf,
    /// The auth file to read credentials from (`--authfile`); `None` for the default list
    /// ([`auth::auth_files`]).
    pub auth_file: Option<PathBuf>,
    /// Credentials for every registry this client talks to (`--creds`), overriding files.
    pub credentials: Option<Credentials>,
    /// Registries (`host[:port]`, as in references) spoken to in plain HTTP straight away.
    pub plain_http: Vec<String>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The largest manifest accepted, in bytes.
    pub max_manifest_size: u64,
    /// How many times a transient failure is retried (0: tried once).
    pub retries: u32,
    /// The first retry's delay; each next one doubles it.
    pub retry_delay: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            tls_verify: true,
            certs_dir: PathBuf::from("/etc/containers/certs.d"),
            auth_file: None,
            credentials: None,
            plain_http: Vec::new(),
            user_agent: format!("peapod/{}", env!("CARGO_PKG_VERSION")),
            max_manifest_size: DEFAULT_MAX_MANIFEST_SIZE,
            retries: 3,
            retry_delay: Duration::from_millis(250),
        }
    }
}

/// A manifest as fetched: its exact bytes (hash them, store them, parse them), the media type
/// the registry gave (`Content-Type`, else the document's `mediaType`), and its digest (the
/// sha256 of the bytes; checked against the digest asked for, and against
/// `Docker-Content-Digest` when the registry sends one).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The manifest, byte for byte.
    pub bytes: Bytes,
    /// Its media type (one of [`MANIFEST_MEDIA_TYPES`], or whatever the registry said).
    pub media_type: String,
    /// `sha256` of `bytes`.
    pub digest: Digest,
}

/// A client for any number of registries; one HTTP client (connection pool, TLS trust) and
/// one token cache per registry host, made on first use.
///
/// ```no_run
/// # async fn example() -> Result<(), peapod_image::registry::RegistryError> {
/// use peapod_image::reference::Reference;
/// use peapod_image::registry::{RegistryClient, RegistryOptions};
///
/// let client = RegistryClient::new(RegistryOptions::default());
/// let r = Reference::parse("busybox").expect("a valid reference");
/// let manifest = client.manifest(&r).await?;
/// println!("{} {}", manifest.media_type, manifest.digest);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RegistryClient {
    options: RegistryOptions,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

impl RegistryClient {
    /// A client with `options`; nothing is read or connected until the first request.
    pub fn new(options: RegistryOptions) -> Self {
        Self {
            options,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The options this client was made with.
    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    fn host(&self, registry: &str) -> Result<Arc<Host>, RegistryError> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = hosts.get(registry) {
            return Ok(h.clone());
        }
        let h = Arc::new(Host::new(&self.options, registry)?);
        hosts.insert(registry.to_owned(), h.clone());
        Ok(h)
    }

    /// The manifest `r` names: by digest if it has one (then the bytes are verified against
    /// it), else by tag. Errors: [`RegistryError::NotFound`], [`RegistryError::TooLarge`]
    /// over `max_manifest_size`, [`RegistryError::DigestMismatch`], and those of any request.
    pub async fn manifest(&self, r: &Reference) -> Result<Fetched, RegistryError> {
        self.fetch_manifest(r, &r.object(), r.digest()).await
    }

    /// The manifest `digest` in `r`'s repository (`r`'s tag and digest are ignored),
    /// verified against `digest`: for the platform manifests an index points to.
    pub async fn manifest_by_digest(
        &self,
        r: &Reference,
        digest: &Digest,
    ) -> Result<Fetched, RegistryError> {
        self.fetch_manifest(r, &digest.to_string(), Some(digest))
            .await
    }

    async fn fetch_manifest(
        &self,
        r: &Reference,
        object: &str,
        expected: Option<&Digest>,
    ) -> Result<Fetched, RegistryError> {
        let host = self.host(r.registry())?;
        let what = format!("manifest {object}");
        let req = Req::for_repository(&host, r.repository(), format!("manifests/{object}"), &what)
            .accept(MANIFEST_MEDIA_TYPES);
        let mut resp = req.send_ok(&self.options, None).await?;
        let limit = self.options.max_manifest_size;
        let too_large = || RegistryError::TooLarge {
            registry: r.registry().to_owned(),
            repository: r.repository().to_owned(),
            what: what.clone(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let announced = header("docker-content-digest");
        let bytes = read_limited(&mut resp, limit)
            .await
            .map_err(|e| e.into_error(too_large, |detail| req.transport(detail)))?;
        let digest = Digest::of(&bytes);
        let claimed = expected
            .cloned()
            .or_else(|| announced.and_then(|a| a.parse().ok()));
        if let Some(claimed) = claimed.filter(|c| *c != digest) {
            return Err(RegistryError::DigestMismatch {
                registry: r.registry().to_owned(),
                repository: r.repository().to_owned(),
                what,
                expected: claimed,
                actual: digest,
            });
        }
        let media_type = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_owned())
            .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain")
            .or_else(|| media_type_in(&bytes))
            .ok_or_else(|| RegistryError::Protocol {
                registry: r.registry().to_owned(),
                detail: format!("{what} of {} has no media type", r.repository()),
            })?;
        Ok(Fetched {
            bytes: Bytes::from(bytes),
            media_type,
            digest,
        })
    }

    /// Starts downloading blob `digest` of `r`'s repository; see [`BlobStream`] for how its
    /// end verifies it. Errors: [`RegistryError::NotFound`] and those of any request.
    pub async fn blob(&self, r: &Reference, digest: &Digest) -> Result<BlobStream, RegistryError> {
        let host = self.host(r.registry())?;
        let what = format!("blob {digest}");
        let req = Req::for_repository(&host, r.repository(), format!("blobs/{digest}"), &what);
        let resp = req.send_ok(&self.options, None).await?;
        Ok(BlobStream::new(resp, r.registry(), r.repository(), digest))
    }

    /// Checks `credentials` against `registry` (`host[:port]`, as in references) by
    /// authenticating to its API root, then stores them in the auth file `auth_file`
    /// (see [`default_auth_file`]). Wrong credentials are [`RegistryError::Unauthorized`] and
    /// leave the file untouched.
    pub async fn login(
        &self,
        registry: &str,
        credentials: &Credentials,
        auth_file: &Path,
    ) -> Result<(), RegistryError> {
        let host = self.host(registry)?;
        let req = Req::root(&host);
        req.send_ok(&self.options, Some(credentials)).await?;
        auth::store(auth_file, registry, credentials)
    }
}

/// The `mediaType` field of a JSON document, if it has one.
fn media_type_in(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes).ok()?.media_type
}
