//! Placeholder until the default profile lands (helper branch h-seccomp replaces this file).

/// A profile file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SeccompProfileError(String);

/// The default profile (placeholder: none).
pub fn default_profile(_capabilities: &[String]) -> serde_json::Value {
    serde_json::Value::Null
}

/// A docker-format profile (placeholder).
///
/// # Errors
/// Bad JSON.
pub fn from_docker_profile(
    json: &[u8],
    _capabilities: &[String],
) -> Result<Option<serde_json::Value>, SeccompProfileError> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| SeccompProfileError(e.to_string()))?;
    Ok(Some(v))
}
