//! One HTTP client per registry host: its TLS trust (system roots plus the host's
//! `certs.d` CAs, or no verification), its scheme, and how transport errors are told apart
//! (certificate, other TLS, transient).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::RegistryOptions;
use super::error::{RegistryError, chain, find_in_chain};

/// Bound on connecting (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on any single read (headers or a body chunk): a registry that stalls longer fails.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed (blob downloads are usually redirected once, to storage).
const MAX_REDIRECTS: usize = 5;

/// Whether `host` (`host[:port]`) is this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host that serves the API of `registry` (`docker.io` is served by
/// `registry-1.docker.io`).
pub(crate) fn api_host(registry: &str) -> &str {
    if registry == crate::reference::DEFAULT_REGISTRY {
        "registry-1.docker.io"
    } else {
        registry
    }
}

/// The directory whose `*.crt` files are extra CAs for `registry`
/// (`CERTS_DIR/HOST[:PORT]`, as podman and docker read them).
pub(crate) fn certs_dir_for(options: &RegistryOptions, registry: &str) -> PathBuf {
    options.certs_dir.join(registry)
}

/// The CA certificates (`*.crt`, PEM) in `dir`; none if it does not exist.
fn load_cas(dir: &Path) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(RegistryError::Certs {
                path: dir.to_owned(),
                detail: e.to_string(),
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let certs: Result<Vec<_>, _> = match CertificateDer::pem_file_iter(&path) {
            Ok(iter) => iter.collect(),
            Err(e) => Err(e),
        };
        let certs = certs.map_err(|e| RegistryError::Certs {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if certs.is_empty() {
            return Err(RegistryError::Certs {
                path,
                detail: "no PEM certificate in it".to_owned(),
            });
        }
        out.extend(certs);
    }
    Ok(out)
}

/// The reqwest client for `registry`: rustls on ring, HTTP/1.1, bounded connect and read
/// times, at most [`MAX_REDIRECTS`] redirects and never from https to http.
pub(crate) fn build_client(
    options: &RegistryOptions,
    registry: &str,
) -> Result<reqwest::Client, RegistryError> {
    let client_err = |detail: String| RegistryError::Client {
        registry: registry.to_owned(),
        detail,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| client_err(e.to_string()))?
        .dangerous();
    let verifier: Arc<dyn ServerCertVerifier> = if options.tls_verify {
        let cas = load_cas(&certs_dir_for(options, registry))?;
        let v = rustls_platform_verifier::Verifier::new_with_extra_roots(cas, provider)
            .map_err(|e| client_err(e.to_string()))?;
        Arc::new(v)
    } else {
        Arc::new(NoVerification(provider.signature_verification_algorithms))
    };
    let tls = builder
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if downgrade {
            attempt.error("refusing a redirect from https to http")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(options.user_agent.clone())
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(policy)
        .build()
        .map_err(|e| client_err(chain(&e)))
}

/// What a failed request was, for the retry loop and the error message.
pub(crate) enum Failure {
    /// The server certificate did not verify: never retried.
    Certificate(String),
    /// Another TLS failure (e.g. the server speaks plain HTTP): never retried.
    Tls(String),
    /// Refused, reset, timed out: retried.
    Transient(String),
    /// Anything else (a redirect refused, a malformed URL): not retried.
    Other(String),
}

/// Sorts a reqwest error into a [`Failure`].
pub(crate) fn classify(e: &reqwest::Error) -> Failure {
    let detail = chain(e);
    if let Some(tls) = find_in_chain::<rustls::Error>(e) {
        return match tls {
            rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::InvalidCertRevocationList(_) => Failure::Certificate(tls.to_string()),
            _ => Failure::Tls(tls.to_string()),
        };
    }
    if e.is_redirect() || e.is_builder() {
        return Failure::Other(detail);
    }
    Failure::Transient(detail)
}

/// The verifier of `--tls-verify=false`: any certificate is accepted; the handshake
/// signatures are still checked (so the peer holds the key of the certificate it showed).
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example",
            "[::2]:1",
            "quay.io:443",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn docker_io_is_served_by_registry_1() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("quay.io"), "quay.io");
    }

    #[test]
    fn a_certs_dir_with_garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_cas(&dir.path().join("missing")).unwrap().is_empty());
        std::fs::write(dir.path().join("ca.crt"), "not a certificate").unwrap();
        let err = load_cas(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("ca.crt") && err.contains("no PEM certificate"),
            "{err}"
        );
    }
}
