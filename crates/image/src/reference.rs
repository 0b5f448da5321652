//! TEMPORARY stand-in for image references (the real parser is written on its own branch and
//! replaces this at merge).

/// A reference that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid reference {0:?}")]
pub struct ReferenceError(pub String);

/// Normalises `busybox` to `docker.io/library/busybox:latest`.
pub fn normalize(name: &str) -> Result<String, ReferenceError> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(ReferenceError(name.to_owned()));
    }
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (name, "latest"),
    };
    let first = repo.split('/').next().unwrap_or("");
    let repo = if first.contains('.') || first.contains(':') || first == "localhost" {
        repo.to_owned()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    Ok(format!("{repo}:{tag}"))
}
