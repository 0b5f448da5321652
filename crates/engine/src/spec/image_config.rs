//! The runtime part of an image config (image-spec `config.md`, "config" object; Docker's
//! `container_config` shape): what a container inherits from its image.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What a container takes from its image's config. Unknown fields are ignored; missing ones
/// are empty.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    /// `User`: `user`, `uid`, `user:group` or `uid:gid`; empty for root.
    #[serde(default)]
    pub user: String,
    /// `Env`: `KEY=value` entries.
    #[serde(default, deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// `Entrypoint`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cmd: Vec<String>,
    /// `WorkingDir`.
    #[serde(default)]
    pub working_dir: String,
    /// `StopSignal` (`SIGTERM`, `9`…).
    #[serde(default)]
    pub stop_signal: String,
    /// `ExposedPorts`: `"80/tcp"` keys.
    #[serde(default, deserialize_with = "null_as_default")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    /// `Volumes`: container paths.
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// `Labels`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// `Healthcheck` (docker's extension; OCI image configs do not have it).
    #[serde(default)]
    pub healthcheck: Option<ImageHealthcheck>,
}

/// An image's `Healthcheck` (durations in nanoseconds; 0 means the default).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageHealthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]`, `["NONE"]`, or empty to inherit.
    #[serde(default, deserialize_with = "null_as_default")]
    pub test: Vec<String>,
    /// `Interval`.
    #[serde(default)]
    pub interval: u64,
    /// `Timeout`.
    #[serde(default)]
    pub timeout: u64,
    /// `StartPeriod`.
    #[serde(default)]
    pub start_period: u64,
    /// `Retries`.
    #[serde(default)]
    pub retries: u32,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl ImageConfig {
    /// The `config` object of a whole image config document (an image without one has an
    /// empty config).
    pub fn from_image_config(doc: &serde_json::Value) -> Result<Self, serde_json::Error> {
        match doc.get("config") {
            Some(c) if !c.is_null() => serde_json::from_value(c.clone()),
            _ => Ok(Self::default()),
        }
    }
}
