//! Image references (`busybox`, `quay.io:443/a/b:tag`, `name@sha256:…`), parsed and
//! normalised as docker and podman do, after the grammar of the distribution project's
//! `reference` package:
//!
//! ```text
//! reference      := name [ ":" tag ] [ "@" digest ]
//! name           := [ registry "/" ] path-component ( "/" path-component )*
//! registry       := host [ ":" port ]     host: DNS name, IPv4, or "[" IPv6 "]"
//! path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*
//! separator      := "." | "_" | "__" | "-"+
//! tag            := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest         := "sha256:" 64 lowercase hex digits
//! ```
//!
//! The first component is a registry only when it contains `.` or `:`, is `localhost`, or has
//! an uppercase letter; otherwise the name is on `docker.io`, and a one-component name there
//! is under `library/` (`busybox` → `docker.io/library/busybox`). A reference with neither tag
//! nor digest gets the tag `latest`. Both may be given (`a:1@sha256:…`): the digest is what is
//! fetched, the tag is kept for display.
//!
//! **Short names resolve to `docker.io` only**, always, as docker does: there is no search
//! list (podman's `unqualified-search-registries`), so `busybox` can never silently come from
//! whichever registry answers first. Name another registry in full to use it.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// The registry of names without one.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The namespace of one-component names on [`DEFAULT_REGISTRY`].
const OFFICIAL_NAMESPACE: &str = "library";
/// The tag of references with neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// The longest name (registry and repository, as written), as distribution bounds it.
pub const NAME_MAX: usize = 255;
/// The longest tag.
pub const TAG_MAX: usize = 128;

/// A reference that does not parse: the input and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {cause}")]
pub struct ReferenceError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub cause: ReferenceErrorCause,
}

/// Why a reference does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceErrorCause {
    /// Nothing was given.
    #[error("it is empty")]
    Empty,
    /// The name (registry and repository) is longer than [`NAME_MAX`].
    #[error("the name is {0} characters long, more than the {NAME_MAX} allowed")]
    NameTooLong(usize),
    /// The repository has an uppercase letter.
    #[error("repository name {0:?} must be lowercase")]
    Uppercase(String),
    /// A repository path component breaks the grammar.
    #[error(
        "repository path component {0:?} is invalid (lowercase letters and digits, separated by '.', '_', '__' or dashes)"
    )]
    PathComponent(String),
    /// The registry is not a host with an optional port.
    #[error("registry {0:?} is not a valid host[:port]")]
    Registry(String),
    /// The tag breaks the grammar.
    #[error(
        "tag {0:?} is invalid (up to {TAG_MAX} of letters, digits, '_', '.', '-', not starting with '.' or '-')"
    )]
    Tag(String),
    /// The digest does not parse.
    #[error("{0}")]
    Digest(String),
    /// A 64-hex-digit name, which docker reserves for image ids.
    #[error("a 64-hex-digit repository name is an image id, not a name")]
    ImageId,
}

/// A parsed, normalised image reference. [`Display`](fmt::Display) gives the full name
/// (`docker.io/library/busybox:latest`), which parses back to an equal value;
/// [`Reference::familiar`] the short form tables show (`busybox:latest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `input` (see the module doc for the grammar and normalisation).
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        parse(input).map_err(|cause| ReferenceError {
            input: input.to_owned(),
            cause,
        })
    }

    /// The registry host, with its port if one was given (`docker.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path on the registry (`library/busybox`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, `latest` if neither tag nor digest was given, `None` for a digest-only one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn object(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository pinned to `digest` (the tag is kept for display).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository with `tag` and no digest; the tag is checked against the grammar.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError {
                input: format!("{}:{tag}", self.name()),
                cause: ReferenceErrorCause::Tag(tag.to_owned()),
            });
        }
        Ok(Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The short form docker shows: `docker.io/` and `library/` dropped (`busybox:latest`,
    /// `user/app:1`, `quay.io/a/b@sha256:…`). It parses back to an equal reference (unlike
    /// docker's, `docker.io/` stays where the next component would read as a registry).
    pub fn familiar(&self) -> String {
        let first = self.repository.split('/').next().unwrap_or_default();
        // Keep `docker.io/` where dropping it would make the first component read as a
        // registry (`docker.io/a.b/c`).
        let mut out = if self.registry == DEFAULT_REGISTRY && !looks_like_registry(first) {
            match self.repository.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        };
        self.push_suffix(&mut out);
        out
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(&digest.to_string());
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        Self::parse(s)
    }
}

fn parse(input: &str) -> Result<Reference, ReferenceErrorCause> {
    use ReferenceErrorCause as C;
    if input.is_empty() {
        return Err(C::Empty);
    }
    let (rest, digest) = match input.split_once('@') {
        Some((rest, d)) => (
            rest,
            Some(d.parse::<Digest>().map_err(|e| C::Digest(e.to_string()))?),
        ),
        None => (input, None),
    };
    // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let tag = &rest[last_slash + i + 1..];
            if !valid_tag(tag) {
                return Err(C::Tag(tag.to_owned()));
            }
            (&rest[..last_slash + i], Some(tag.to_owned()))
        }
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(C::Empty);
    }
    if name.len() > NAME_MAX {
        return Err(C::NameTooLong(name.len()));
    }
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => {
            if !valid_registry(first) {
                return Err(C::Registry(first.to_owned()));
            }
            (first, rest)
        }
        _ => (DEFAULT_REGISTRY, name),
    };
    if registry == DEFAULT_REGISTRY
        && path.len() == 64
        && path
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(C::ImageId);
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(C::Uppercase(path.to_owned()));
    }
    for component in path.split('/') {
        if !valid_path_component(component) {
            return Err(C::PathComponent(component.to_owned()));
        }
    }
    let registry = if registry == "index.docker.io" {
        DEFAULT_REGISTRY
    } else {
        registry
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("{OFFICIAL_NAMESPACE}/{path}")
    } else {
        path.to_owned()
    };
    let tag = match (tag, &digest) {
        (None, None) => Some(DEFAULT_TAG.to_owned()),
        (tag, _) => tag,
    };
    Ok(Reference {
        registry: registry.to_owned(),
        repository,
        tag,
        digest,
    })
}

/// Whether the first component of a name is a registry rather than a path component.
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= TAG_MAX
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `[a-z0-9]+ (separator [a-z0-9]+)*` with separators `.`, `_`, `__`, `-+`.
fn valid_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let ok = match &bytes[sep..i] {
            b"." | b"_" | b"__" => true,
            s => s.iter().all(|&b| b == b'-'),
        };
        if !ok {
            return false;
        }
    }
}

/// `host[:port]`, host a DNS name (components of letters, digits and inner dashes), an IPv4
/// address, or a bracketed IPv6 address.
fn valid_registry(r: &str) -> bool {
    let (host, port) = if let Some(rest) = r.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match r.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (r, None),
        }
    };
    let bad_port = |p: &str| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit());
    if port.is_some_and(bad_port) {
        return false;
    }
    if r.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests;

/// The full name `input` means (`busybox` → `docker.io/library/busybox:latest`), as stored
/// in the image database.
pub fn normalize(input: &str) -> Result<String, ReferenceError> {
    Reference::parse(input).map(|r| r.to_string())
}
