//! What can go wrong talking to a registry, each error naming the registry (and the
//! repository when there is one) and the cause.

use std::path::PathBuf;

use crate::digest::Digest;

/// A registry request that failed. Messages read like
/// `401 Unauthorized: wrong username or password for 127.0.0.1:5000 (repository app)`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry refused us after we presented credentials (or a token obtained with
    /// them), or it needs credentials and we have none.
    #[error(
        "401 Unauthorized: {reason} for {registry}{}{}",
        repo_suffix(repository),
        hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
    )]
    Unauthorized {
        /// The registry host (`host[:port]`).
        registry: String,
        /// The repository, if the request was for one.
        repository: Option<String>,
        /// `wrong username or password`, `authentication required`, `the token server
        /// refused anonymous access`, `the token does not grant …`.
        reason: String,
        /// What to do about it (`no credentials found; run peapod login HOST`).
        hint: Option<String>,
    },
    /// 403: the credentials are good but do not grant this access.
    #[error("403 Forbidden: access to {repository} on {registry} denied: {message}")]
    Denied {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The registry's message.
        message: String,
    },
    /// 404: no such repository, tag, manifest or blob.
    #[error("{what} not found on {registry} (repository {repository}): {message}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// What was asked for (`manifest latest`, `blob sha256:…`).
        what: String,
        /// The registry's message.
        message: String,
    },
    /// The server certificate did not verify.
    #[error(
        "certificate verify failed for {registry} (set --tls-verify=false or put the CA in {}/ca.crt): {detail}",
        certs_dir.display()
    )]
    Certificate {
        /// The registry host.
        registry: String,
        /// Where a CA for this registry would be read (`/etc/containers/certs.d/HOST:PORT`).
        certs_dir: PathBuf,
        /// What rustls said.
        detail: String,
    },
    /// A TLS failure other than certificate verification (protocol, handshake).
    #[error("TLS handshake with {registry} failed: {detail}")]
    Tls {
        /// The registry host.
        registry: String,
        /// What rustls said.
        detail: String,
    },
    /// The request failed below HTTP (refused, reset, timed out), after the retries.
    #[error("cannot reach {registry}{}: {detail}", repo_suffix(repository))]
    Transport {
        /// The registry (or token server) host.
        registry: String,
        /// The repository, if the request was for one.
        repository: Option<String>,
        /// The cause chain, `: `-separated.
        detail: String,
    },
    /// Any other unexpected HTTP status (after the retries for 429 and 5xx).
    #[error(
        "{registry}{} answered {status} to {what}: {message}",
        repo_suffix(repository)
    )]
    Status {
        /// The registry host.
        registry: String,
        /// The repository, if the request was for one.
        repository: Option<String>,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's message (its error JSON, or the start of the body).
        message: String,
    },
    /// A manifest (or token, or error body) larger than we accept.
    #[error(
        "{what} from {registry} (repository {repository}) is larger than the {limit} bytes allowed"
    )]
    TooLarge {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// What was being read.
        what: String,
        /// The bound, in bytes.
        limit: u64,
    },
    /// Content whose sha256 is not the one asked for (or announced by the registry).
    #[error(
        "digest mismatch for {what} from {registry} (repository {repository}): expected {expected}, got {actual}"
    )]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// What was being read.
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// A blob's body stopped or overran its announced size.
    #[error(
        "blob {digest} from {registry} (repository {repository}) broke off after {received} of {} bytes: {detail}",
        expected.map_or_else(|| "?".to_owned(), |n| n.to_string())
    )]
    Interrupted {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob.
        digest: Digest,
        /// Bytes received before the failure.
        received: u64,
        /// Bytes announced (`Content-Length` or the descriptor's size), if known.
        expected: Option<u64>,
        /// The cause.
        detail: String,
    },
    /// The token server (the challenge's realm) could not be used: unreachable, an error
    /// status other than 401/403 (after the retries for 5xx), or an answer without a token.
    #[error("token server {realm} of {registry}: {detail}")]
    Token {
        /// The registry host.
        registry: String,
        /// The realm URL, without query.
        realm: String,
        /// What went wrong.
        detail: String,
    },
    /// A reply that breaks the distribution or token spec (no media type, a bad challenge,
    /// a token response without a token, …).
    #[error("bad reply from {registry}: {detail}")]
    Protocol {
        /// The registry (or token server) host.
        registry: String,
        /// What is wrong.
        detail: String,
    },
    /// An auth file that cannot be read, parsed or written.
    #[error("auth file {}: {detail}", path.display())]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        detail: String,
    },
    /// `logout` of a registry the auth file has no entry for.
    #[error("not logged in to {registry} (no entry in {})", path.display())]
    NotLoggedIn {
        /// The registry host.
        registry: String,
        /// The auth file.
        path: PathBuf,
    },
    /// A CA certificate file that cannot be read or parsed.
    #[error("CA certificate {}: {detail}", path.display())]
    Certs {
        /// The file.
        path: PathBuf,
        /// The cause.
        detail: String,
    },
    /// The HTTP client could not be built (TLS configuration).
    #[error("cannot set up the HTTP client for {registry}: {detail}")]
    Client {
        /// The registry host.
        registry: String,
        /// The cause.
        detail: String,
    },
}

fn repo_suffix(repository: &Option<String>) -> String {
    repository
        .as_ref()
        .map(|r| format!(" (repository {r})"))
        .unwrap_or_default()
}

/// `e` and its sources, `: `-separated (reqwest's own message alone says little).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// The first error of type `T` in `e`'s source chain, looking inside `io::Error`s too (whose
/// `source()` skips the error they wrap).
pub(crate) fn find_in_chain<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(cur) = next {
        if let Some(t) = cur.downcast_ref::<T>() {
            return Some(t);
        }
        let inner = cur
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(t) = inner.and_then(|inner| find_in_chain::<T>(inner)) {
            return Some(t);
        }
        next = cur.source();
    }
    None
}
