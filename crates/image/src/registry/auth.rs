//! Credentials and challenges: the containers `auth.json` (and docker's `config.json`), the
//! `WWW-Authenticate` challenge (RFC 7235; docker's token authentication spec for `Bearer`),
//! and the token server's answer.
//!
//! An auth file is JSON: `{"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}`.
//! Keys may also be a URL (`https://index.docker.io/v1/`, as docker writes them) or
//! `HOST/namespace` (podman's per-repository entries, of which we use the longest that
//! matches). Credential helpers (`credHelpers`, `credsStore`) are not run.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::RegistryError;

/// A username and password (or identity token as password).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic` header.
    pub(crate) fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// Where credentials are written by default: `$REGISTRY_AUTH_FILE`, else
/// `$XDG_RUNTIME_DIR/containers/auth.json`, else `/run/containers/UID/auth.json` (as podman).
pub fn default_auth_file() -> PathBuf {
    default_auth_file_in(&Env::process())
}

/// The files credentials are read from, first match wins: `explicit` alone if given; else
/// [`default_auth_file`], then `$HOME/.docker/config.json`.
pub fn auth_files(explicit: Option<&Path>) -> Vec<PathBuf> {
    auth_files_in(explicit, &Env::process())
}

/// What the default paths depend on: a variable lookup and the effective uid (a seam, so
/// that tests need not change the process environment).
struct Env<'a> {
    var: &'a dyn Fn(&str) -> Option<std::ffi::OsString>,
    uid: u32,
}

impl Env<'static> {
    fn process() -> Self {
        Env {
            var: &|name| std::env::var_os(name),
            // /proc/self belongs to the effective uid: no libc call needed for it.
            uid: std::fs::metadata("/proc/self").map_or(0, |m| m.uid()),
        }
    }
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<std::ffi::OsString> {
        (self.var)(name).filter(|v| !v.is_empty())
    }
}

fn default_auth_file_in(env: &Env<'_>) -> PathBuf {
    if let Some(p) = env.get("REGISTRY_AUTH_FILE") {
        return PathBuf::from(p);
    }
    if let Some(p) = env.get("XDG_RUNTIME_DIR") {
        return Path::new(&p).join("containers/auth.json");
    }
    PathBuf::from(format!("/run/containers/{}/auth.json", env.uid))
}

fn auth_files_in(explicit: Option<&Path>, env: &Env<'_>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_owned()];
    }
    let mut out = vec![default_auth_file_in(env)];
    if let Some(home) = env.get("HOME") {
        out.push(Path::new(&home).join(".docker/config.json"));
    }
    out
}

/// The credentials for `registry` (and `repository`, for per-namespace entries) in the first
/// of `files` that has an entry; `None` if none has one. A file that exists but does not
/// parse is an error; a missing one is skipped.
pub fn lookup(
    files: &[PathBuf],
    registry: &str,
    repository: Option<&str>,
) -> Result<Option<Credentials>, RegistryError> {
    for path in files {
        let Some(doc) = read_auth_file(path)? else {
            continue;
        };
        let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
            continue;
        };
        let target = match repository {
            Some(r) => format!("{registry}/{r}"),
            None => registry.to_owned(),
        };
        let best = auths
            .iter()
            .filter_map(|(key, entry)| {
                let key = normalise_key(key);
                let matches = target == key || target.starts_with(&format!("{key}/"));
                matches.then_some((key.len(), entry))
            })
            .max_by_key(|(len, _)| *len);
        if let Some((_, entry)) = best {
            return decode_entry(path, entry).map(Some);
        }
    }
    Ok(None)
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://h:5000/` → `h:5000`.
fn normalise_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k
        .strip_suffix("/v1/")
        .or_else(|| k.strip_suffix("/v1"))
        .unwrap_or(k);
    let k = k
        .strip_suffix("/v2/")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    let k = k.trim_end_matches('/');
    match k.split_once('/') {
        Some(("index.docker.io" | "registry-1.docker.io", rest)) => format!("docker.io/{rest}"),
        _ if k == "index.docker.io" || k == "registry-1.docker.io" => "docker.io".to_owned(),
        _ => k.to_owned(),
    }
}

fn decode_entry(path: &Path, entry: &serde_json::Value) -> Result<Credentials, RegistryError> {
    let bad = |detail: &str| RegistryError::AuthFile {
        path: path.to_owned(),
        detail: detail.to_owned(),
    };
    let auth = entry
        .get("auth")
        .and_then(|a| a.as_str())
        .ok_or_else(|| bad("an entry has no \"auth\" string"))?;
    let raw = STANDARD
        .decode(auth.trim())
        .map_err(|_| bad("an \"auth\" value is not base64"))?;
    let text = String::from_utf8(raw).map_err(|_| bad("an \"auth\" value is not UTF-8"))?;
    let (username, password) = text
        .split_once(':')
        .ok_or_else(|| bad("an \"auth\" value is not user:password"))?;
    Ok(Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// The file as JSON, `None` if it does not exist. Bounded at 1 MiB.
fn read_auth_file(path: &Path) -> Result<Option<serde_json::Value>, RegistryError> {
    let err = |detail: String| RegistryError::AuthFile {
        path: path.to_owned(),
        detail,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    if bytes.len() > 1 << 20 {
        return Err(err("larger than 1 MiB".to_owned()));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(serde_json::json!({})));
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| err(format!("not valid JSON: {e}")))?;
    if !doc.is_object() {
        return Err(err("not a JSON object".to_owned()));
    }
    Ok(Some(doc))
}

/// Stores `credentials` for `registry` in `path` (created with mode 0600, its directory
/// 0700, if missing), keeping every other entry and field; written to a temporary file and
/// renamed, so a crash leaves the old file or the new one.
pub(crate) fn store(
    path: &Path,
    registry: &str,
    credentials: &Credentials,
) -> Result<(), RegistryError> {
    let mut doc = read_auth_file(path)?.unwrap_or_else(|| serde_json::json!({}));
    let auth = STANDARD.encode(format!("{}:{}", credentials.username, credentials.password));
    let auths = auths_mut(path, &mut doc)?;
    auths.insert(registry.to_owned(), serde_json::json!({ "auth": auth }));
    write_auth_file(path, &doc)
}

/// Removes the entry of `registry` from the auth file at `path`
/// ([`RegistryError::NotLoggedIn`] if it has none).
pub fn logout(registry: &str, path: &Path) -> Result<(), RegistryError> {
    let not_logged_in = || RegistryError::NotLoggedIn {
        registry: registry.to_owned(),
        path: path.to_owned(),
    };
    let mut doc = read_auth_file(path)?.ok_or_else(not_logged_in)?;
    let auths = auths_mut(path, &mut doc)?;
    let keys: Vec<String> = auths
        .keys()
        .filter(|k| normalise_key(k) == registry)
        .cloned()
        .collect();
    if keys.is_empty() {
        return Err(not_logged_in());
    }
    for k in keys {
        auths.remove(&k);
    }
    write_auth_file(path, &doc)
}

fn auths_mut<'a>(
    path: &Path,
    doc: &'a mut serde_json::Value,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, RegistryError> {
    let bad = || RegistryError::AuthFile {
        path: path.to_owned(),
        detail: "\"auths\" is not an object".to_owned(),
    };
    let obj = doc.as_object_mut().ok_or_else(bad)?;
    obj.entry("auths")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .ok_or_else(bad)
}

fn write_auth_file(path: &Path, doc: &serde_json::Value) -> Result<(), RegistryError> {
    let err = |detail: String| RegistryError::AuthFile {
        path: path.to_owned(),
        detail,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| err(format!("cannot create its directory: {e}")))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| err(e.to_string()))?;
    }
    let mut text = serde_json::to_vec_pretty(doc).map_err(|e| err(e.to_string()))?;
    text.push(b'\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&text)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(format!("cannot write it: {e}")));
    }
    Ok(())
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm="…"`: send the credentials on every request.
    Basic,
    /// `Bearer realm="…",service="…",scope="…"`: get a token from `realm`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value (one challenge; RFC 7235 auth-params, values
/// quoted or tokens, with `\` escapes in quoted ones). `None` if it is neither Basic nor a
/// Bearer with a realm.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest)?;
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
        scope: params.get("scope").cloned(),
    })
}

fn parse_params(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if chars.next() != Some('=') {
            return None;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

/// A token server's answer (docker token spec, "Token Response Fields"): `token` or its
/// OAuth alias `access_token`, and its lifetime in seconds (60 if not said).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

impl TokenResponse {
    /// The token, if the answer has one.
    pub(crate) fn token(self) -> Option<String> {
        self.token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
mod tests;
