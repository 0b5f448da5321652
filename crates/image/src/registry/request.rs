//! One request to a registry, with its auth dance and retries: send, answer a 401 challenge
//! once (basic credentials, or a bearer token from the realm), retry transient failures with
//! backoff, and turn every other failure into a [`RegistryError`] that names the registry,
//! the repository and the cause.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};

use super::RegistryOptions;
use super::auth::{self, Challenge, Credentials, TokenResponse};
use super::error::RegistryError;
use super::transport::{self, Failure};

/// Bound on a token server's answer.
const TOKEN_MAX: u64 = 1 << 20;
/// Bound on an error body we read for its message.
const ERROR_BODY_MAX: u64 = 64 << 10;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// A registry host: its HTTP client, where its API is, and what auth it asked for.
#[derive(Debug)]
pub(crate) struct Host {
    registry: String,
    http: reqwest::Client,
    base: Mutex<String>,
    http_fallback: bool,
    certs_dir: std::path::PathBuf,
    auth: Mutex<AuthState>,
}

#[derive(Debug, Default)]
struct AuthState {
    /// Credentials to send as basic auth (the registry asked for Basic).
    basic: Option<Credentials>,
    /// Bearer tokens by scope, with when they stop being used.
    tokens: HashMap<String, (String, Instant)>,
}

impl Host {
    pub(crate) fn new(options: &RegistryOptions, registry: &str) -> Result<Self, RegistryError> {
        let plain = options.plain_http.iter().any(|h| h == registry);
        let scheme = if plain { "http" } else { "https" };
        Ok(Self {
            registry: registry.to_owned(),
            http: transport::build_client(options, registry)?,
            base: Mutex::new(format!("{scheme}://{}", transport::api_host(registry))),
            http_fallback: !plain && (transport::is_loopback(registry) || !options.tls_verify),
            certs_dir: transport::certs_dir_for(options, registry),
            auth: Mutex::new(AuthState::default()),
        })
    }

    fn base(&self) -> String {
        self.base.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn auth_state(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn authorization(&self, scope: &str) -> Option<String> {
        let state = self.auth_state();
        let live = state
            .tokens
            .get(scope)
            .filter(|(_, until)| Instant::now() < *until);
        if let Some((token, _)) = live {
            return Some(format!("Bearer {token}"));
        }
        state.basic.as_ref().map(Credentials::basic_header)
    }
}

/// A GET of one API path.
pub(crate) struct Req<'a> {
    host: &'a Host,
    repository: Option<&'a str>,
    /// The path after `/v2/`.
    path: String,
    what: String,
    accept: &'a [&'a str],
    /// The scope a token for this request needs (`repository:R:pull`; empty for the root).
    scope: String,
}

impl<'a> Req<'a> {
    /// `GET /v2/REPOSITORY/PATH`.
    pub(crate) fn for_repository(
        host: &'a Host,
        repository: &'a str,
        path: String,
        what: &str,
    ) -> Self {
        Self {
            host,
            repository: Some(repository),
            path: format!("{repository}/{path}"),
            what: what.to_owned(),
            accept: &[],
            scope: format!("repository:{repository}:pull"),
        }
    }

    /// `GET /v2/` (the API root, which login authenticates against).
    pub(crate) fn root(host: &'a Host) -> Self {
        Self {
            host,
            repository: None,
            path: String::new(),
            what: "the API root /v2/".to_owned(),
            accept: &[],
            scope: String::new(),
        }
    }

    pub(crate) fn accept(mut self, types: &'a [&'a str]) -> Self {
        self.accept = types;
        self
    }

    fn registry(&self) -> String {
        self.host.registry.clone()
    }

    fn repository(&self) -> Option<String> {
        self.repository.map(str::to_owned)
    }

    pub(crate) fn transport(&self, detail: String) -> RegistryError {
        RegistryError::Transport {
            registry: self.registry(),
            repository: self.repository(),
            detail,
        }
    }

    fn unauthorized(&self, reason: &str) -> RegistryError {
        self.unauthorized_hint(reason, None)
    }

    fn unauthorized_hint(&self, reason: &str, hint: Option<String>) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.registry(),
            repository: self.repository(),
            reason: reason.to_owned(),
            hint,
        }
    }

    /// A 401 that credentials would fix, with the hint to log in.
    fn needs_login(&self, reason: &str) -> RegistryError {
        let hint = format!(
            "no credentials found; run `peapod login {}`",
            self.host.registry
        );
        self.unauthorized_hint(reason, Some(hint))
    }

    fn no_credentials(&self) -> RegistryError {
        self.needs_login("authentication required")
    }

    /// Sends the request until it gets a final answer, and returns it if it is 200;
    /// `login` gives the credentials to use (and whose failure to report as wrong).
    pub(crate) async fn send_ok(
        &self,
        options: &RegistryOptions,
        login: Option<&Credentials>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut attempt = 0;
        let mut authenticated = false;
        loop {
            let base = self.host.base();
            let url = format!("{base}/v2/{}", self.path);
            let mut rb = self.host.http.get(&url);
            if !self.accept.is_empty() {
                rb = rb.header(ACCEPT, self.accept.join(", "));
            }
            if let Some(value) = self.host.authorization(&self.scope) {
                rb = rb.header(AUTHORIZATION, value);
            }
            let resp = match rb.send().await {
                Ok(resp) => resp,
                Err(e) => match transport::classify(&e) {
                    Failure::Certificate(detail) => {
                        return Err(RegistryError::Certificate {
                            registry: self.registry(),
                            certs_dir: self.host.certs_dir.clone(),
                            detail,
                        });
                    }
                    Failure::Tls(_) if self.host.http_fallback && base.starts_with("https:") => {
                        let mut b = self.host.base.lock().unwrap_or_else(|p| p.into_inner());
                        *b = b.replacen("https:", "http:", 1);
                        continue;
                    }
                    Failure::Tls(detail) => {
                        return Err(RegistryError::Tls {
                            registry: self.registry(),
                            detail,
                        });
                    }
                    Failure::Transient(_) if attempt < options.retries => {
                        tokio::time::sleep(backoff(options, attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    Failure::Transient(detail) | Failure::Other(detail) => {
                        return Err(self.transport(detail));
                    }
                },
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !authenticated {
                authenticated = true;
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(auth::parse_challenge);
                self.authenticate(options, challenge, login).await?;
                continue;
            }
            if (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
                && attempt < options.retries
            {
                let delay = retry_after(&resp).unwrap_or_else(|| backoff(options, attempt));
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            if status == StatusCode::OK {
                return Ok(resp);
            }
            return Err(self.status_error(resp, login.is_some()).await);
        }
    }

    /// Answers a 401 challenge: remembers basic credentials, or fetches a token.
    async fn authenticate(
        &self,
        options: &RegistryOptions,
        challenge: Option<Challenge>,
        login: Option<&Credentials>,
    ) -> Result<(), RegistryError> {
        let credentials = match login {
            Some(c) => Some(c.clone()),
            None => match &options.credentials {
                Some(c) => Some(c.clone()),
                None => auth::lookup(
                    &auth::auth_files(options.auth_file.as_deref()),
                    &self.host.registry,
                    self.repository,
                )?,
            },
        };
        match challenge {
            None => Err(RegistryError::Protocol {
                registry: self.registry(),
                detail: format!(
                    "401 to {} without a Basic or Bearer WWW-Authenticate challenge",
                    self.what
                ),
            }),
            Some(Challenge::Basic) => {
                let credentials = credentials.ok_or_else(|| self.no_credentials())?;
                self.host.auth_state().basic = Some(credentials);
                Ok(())
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let scope = scope.unwrap_or_else(|| self.scope.clone());
                let (token, expires_in) = self
                    .fetch_token(
                        options,
                        &realm,
                        service.as_deref(),
                        &scope,
                        credentials.as_ref(),
                    )
                    .await?;
                let until = Instant::now() + Duration::from_secs(expires_in.clamp(10, 3600));
                self.host
                    .auth_state()
                    .tokens
                    .insert(self.scope.clone(), (token, until));
                Ok(())
            }
        }
    }

    /// Docker token spec, "Requesting a Token": `GET realm?service=…&scope=…`, with basic
    /// credentials if we have some.
    async fn fetch_token(
        &self,
        options: &RegistryOptions,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        credentials: Option<&Credentials>,
    ) -> Result<(String, u64), RegistryError> {
        let token_err = |detail: String| RegistryError::Token {
            registry: self.registry(),
            realm: realm.to_owned(),
            detail,
        };
        let mut url = reqwest::Url::parse(realm).map_err(|e| token_err(e.to_string()))?;
        let realm_host = url.host_str().unwrap_or_default().to_owned();
        let cleartext_ok = transport::is_loopback(&realm_host)
            || transport::is_loopback(&format!("[{realm_host}]"))
            || self.host.base().starts_with("http:");
        match url.scheme() {
            "https" => {}
            "http" if cleartext_ok => {}
            other => return Err(token_err(format!("scheme {other} refused (https only)"))),
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            if !scope.is_empty() {
                q.append_pair("scope", scope);
            }
        }
        let mut attempt = 0;
        let mut resp = loop {
            let mut rb = self.host.http.get(url.clone());
            if let Some(c) = credentials {
                rb = rb.header(AUTHORIZATION, c.basic_header());
            }
            match rb.send().await {
                Ok(r) if r.status().is_server_error() && attempt < options.retries => {}
                Ok(r) => break r,
                Err(e) => match transport::classify(&e) {
                    Failure::Transient(_) if attempt < options.retries => {}
                    Failure::Certificate(d) => {
                        return Err(RegistryError::Certificate {
                            registry: realm_host,
                            certs_dir: self.host.certs_dir.clone(),
                            detail: d,
                        });
                    }
                    Failure::Transient(d) | Failure::Tls(d) | Failure::Other(d) => {
                        return Err(token_err(d));
                    }
                },
            }
            tokio::time::sleep(backoff(options, attempt)).await;
            attempt += 1;
        };
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(match credentials {
                Some(_) => self.unauthorized("wrong username or password"),
                None => self.needs_login("the token server refused anonymous access"),
            });
        }
        let body = read_limited(&mut resp, TOKEN_MAX)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => token_err(format!("answer larger than {TOKEN_MAX} bytes")),
                ReadError::Transport(d) => token_err(d),
            })?;
        if status != StatusCode::OK {
            return Err(token_err(format!("{status}: {}", error_message(&body))));
        }
        let answer: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| token_err(format!("answer is not token JSON: {e}")))?;
        let expires_in = answer.expires_in.unwrap_or(60);
        let token = answer
            .token()
            .ok_or_else(|| token_err("answer has no token".to_owned()))?;
        if token.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(token_err(
                "token has spaces or control characters".to_owned(),
            ));
        }
        Ok((token, expires_in))
    }

    /// The error for a final non-200 answer.
    async fn status_error(&self, mut resp: reqwest::Response, login: bool) -> RegistryError {
        let status = resp.status();
        let body = read_limited(&mut resp, ERROR_BODY_MAX)
            .await
            .unwrap_or_default();
        let message = error_message(&body);
        let repository = self.repository().unwrap_or_default();
        match status {
            StatusCode::UNAUTHORIZED => {
                let state = self.host.auth_state();
                if state.tokens.contains_key(&self.scope) {
                    drop(state);
                    let grant = match self.scope.as_str() {
                        "" => "access to the API",
                        scope => scope,
                    };
                    self.unauthorized(&format!("the token does not grant {grant} ({message})"))
                } else if login || state.basic.is_some() {
                    self.unauthorized("wrong username or password")
                } else {
                    drop(state);
                    self.no_credentials()
                }
            }
            StatusCode::FORBIDDEN => RegistryError::Denied {
                registry: self.registry(),
                repository,
                message,
            },
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                registry: self.registry(),
                repository,
                what: self.what.clone(),
                message,
            },
            _ => RegistryError::Status {
                registry: self.registry(),
                repository: self.repository(),
                what: self.what.clone(),
                status: status.as_u16(),
                message,
            },
        }
    }
}

fn backoff(options: &RegistryOptions, attempt: u32) -> Duration {
    options.retry_delay.saturating_mul(1 << attempt.min(10))
}

/// `Retry-After: SECONDS`, capped at [`MAX_RETRY_AFTER`].
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The messages of a distribution-spec error body (`{"errors":[{"code","message"}]}`), or
/// the start of the body as text.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let envelope = serde_json::from_slice::<Envelope>(body).ok();
    if let Some(env) = envelope.filter(|e| !e.errors.is_empty()) {
        return env
            .errors
            .iter()
            .map(|e| format!("{} {}", e.code, e.message).trim().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(200).collect();
    if text.is_empty() {
        "no details".to_owned()
    } else {
        text
    }
}

/// Why [`read_limited`] failed.
pub(crate) enum ReadError {
    /// More than the bound.
    TooLarge,
    /// The body broke off.
    Transport(String),
}

impl ReadError {
    pub(crate) fn into_error(
        self,
        too_large: impl FnOnce() -> RegistryError,
        transport: impl FnOnce(String) -> RegistryError,
    ) -> RegistryError {
        match self {
            Self::TooLarge => too_large(),
            Self::Transport(d) => transport(d),
        }
    }
}

/// The whole body, refused as soon as it passes `limit` bytes.
pub(crate) async fn read_limited(
    resp: &mut reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge);
    }
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() as u64 + chunk.len() as u64 > limit {
                    return Err(ReadError::TooLarge);
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(ReadError::Transport(super::error::chain(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_their_messages() {
        assert_eq!(
            error_message(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
            ),
            "MANIFEST_UNKNOWN manifest unknown"
        );
        assert_eq!(error_message(b"  plain text "), "plain text");
        assert_eq!(error_message(b""), "no details");
        assert_eq!(error_message(&[b'x'; 500]).len(), 200);
    }

    #[test]
    fn backoff_doubles_and_saturates() {
        let o = RegistryOptions {
            retry_delay: Duration::from_millis(100),
            ..Default::default()
        };
        assert_eq!(backoff(&o, 0), Duration::from_millis(100));
        assert_eq!(backoff(&o, 2), Duration::from_millis(400));
        assert_eq!(backoff(&o, 40), Duration::from_millis(100 * 1024));
    }
}
