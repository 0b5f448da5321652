//! Manifests, indexes and configs: parsed with bounds, checked, and a platform chosen.
//!
//! Types are `oci-spec`'s (image-spec `manifest.md`, `image-index.md`, `config.md`); Docker's
//! schema 2 manifest and manifest list have the same shape and are read by the same code
//! (their media types differ). Docker's schema 1 (signed, deprecated since 2015) is refused.

use std::fmt;
use std::str::FromStr;

pub use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};

use crate::digest::Digest;

/// The largest manifest or index accepted, in bytes (containerd's bound: 4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// The largest image config accepted, in bytes.
pub const MAX_CONFIG_SIZE: u64 = 16 << 20;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// OCI uncompressed layer.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What goes wrong reading manifests and configs.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The JSON does not parse as the type it claims to be.
    #[error("invalid {what} {digest}: {source}")]
    Json {
        /// "manifest", "index", "config".
        what: &'static str,
        /// Its digest.
        digest: Digest,
        /// The parser's message.
        #[source]
        source: serde_json::Error,
    },
    /// A media type we do not handle.
    #[error("{what} {digest} has unsupported media type {media_type:?}")]
    MediaType {
        /// "manifest", "layer", "config".
        what: &'static str,
        /// Its digest.
        digest: Digest,
        /// The media type.
        media_type: String,
    },
    /// A descriptor's digest is not a sha256 we accept.
    #[error("{what} descriptor has digest {digest:?}: {source}")]
    Digest {
        /// What the descriptor points at.
        what: &'static str,
        /// The text.
        digest: String,
        /// Why it was refused.
        #[source]
        source: crate::digest::DigestError,
    },
    /// No manifest in the index matches the platform.
    #[error("no image for platform {wanted} in {index}; it has: {available}")]
    NoPlatform {
        /// The platform asked for.
        wanted: Platform,
        /// The index's digest.
        index: Digest,
        /// The platforms the index lists.
        available: String,
    },
    /// The config's layer list does not match the manifest's.
    #[error("image config {config} lists {diff_ids} diff_ids but the manifest has {layers} layers")]
    LayerCount {
        /// The config digest.
        config: Digest,
        /// `rootfs.diff_ids` entries.
        diff_ids: usize,
        /// Manifest layers.
        layers: usize,
    },
    /// A platform string that does not parse.
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7")]
    BadPlatform(String),
}

/// A manifest document: one image, or an index of images per platform.
#[derive(Clone, Debug)]
pub enum Document {
    /// An image manifest (OCI or Docker schema 2).
    Manifest(Box<ImageManifest>),
    /// An index (OCI image index or Docker manifest list).
    Index(Box<ImageIndex>),
}

/// Parses a manifest or index of `digest`. The type is taken from the document's own
/// `mediaType` when present, else from `content_type` (the HTTP header, or the
/// descriptor's), else from its shape (`manifests` vs `layers`).
pub fn parse_document(
    bytes: &[u8],
    content_type: Option<&str>,
    digest: &Digest,
) -> Result<Document, ManifestError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        schema_version: Option<u32>,
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
        what: "manifest",
        digest: digest.clone(),
        source,
    })?;
    let media_type = probe
        .media_type
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_owned()));
    let index = match media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        None | Some("application/json" | "application/octet-stream" | "") => {
            probe.manifests.is_some()
        }
        Some(other) => {
            return Err(ManifestError::MediaType {
                what: "manifest",
                digest: digest.clone(),
                media_type: other.to_owned(),
            });
        }
    };
    if probe.schema_version != Some(2) {
        return Err(ManifestError::MediaType {
            what: "manifest",
            digest: digest.clone(),
            media_type: format!(
                "schemaVersion {} (only schema 2 manifests are supported)",
                probe
                    .schema_version
                    .map_or_else(|| "missing".into(), |v| v.to_string())
            ),
        });
    }
    let json_err = |what| {
        let digest = digest.clone();
        move |source| ManifestError::Json {
            what,
            digest,
            source,
        }
    };
    if index {
        serde_json::from_slice(bytes)
            .map(|i| Document::Index(Box::new(i)))
            .map_err(json_err("index"))
    } else {
        let manifest: ImageManifest =
            serde_json::from_slice(bytes).map_err(json_err("manifest"))?;
        check_manifest(&manifest, digest)?;
        Ok(Document::Manifest(Box::new(manifest)))
    }
}

/// The digest a descriptor names, as ours.
pub fn descriptor_digest(d: &Descriptor, what: &'static str) -> Result<Digest, ManifestError> {
    let text = d.digest().to_string();
    text.parse().map_err(|source| ManifestError::Digest {
        what,
        digest: text,
        source,
    })
}

/// The layer media types we unpack: those the unpacker knows a compression for
/// ([`crate::unpack::Compression::from_media_type`]: OCI tar, plain, gzip or zstd,
/// distributable or not, and Docker's gzip layers).
pub fn is_layer_media_type(media_type: &str) -> bool {
    crate::unpack::Compression::from_media_type(media_type).is_some()
}

fn check_manifest(m: &ImageManifest, digest: &Digest) -> Result<(), ManifestError> {
    let config_type = m.config().media_type().to_string();
    if config_type != OCI_CONFIG && config_type != DOCKER_CONFIG {
        return Err(ManifestError::MediaType {
            what: "config of manifest",
            digest: digest.clone(),
            media_type: config_type,
        });
    }
    descriptor_digest(m.config(), "config")?;
    for layer in m.layers() {
        let layer_digest = descriptor_digest(layer, "layer")?;
        let media_type = layer.media_type().to_string();
        if !is_layer_media_type(&media_type) {
            return Err(ManifestError::MediaType {
                what: "layer",
                digest: layer_digest,
                media_type,
            });
        }
    }
    Ok(())
}

/// Parses an image config and checks it has one diff_id per manifest layer.
pub fn parse_config(
    bytes: &[u8],
    digest: &Digest,
    layers: usize,
) -> Result<(ImageConfiguration, Vec<Digest>), ManifestError> {
    let config: ImageConfiguration =
        serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
            what: "config",
            digest: digest.clone(),
            source,
        })?;
    let diff_ids = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| {
            d.parse().map_err(|source| ManifestError::Digest {
                what: "diff_id",
                digest: d.clone(),
                source,
            })
        })
        .collect::<Result<Vec<Digest>, _>>()?;
    if diff_ids.len() != layers {
        return Err(ManifestError::LayerCount {
            config: digest.clone(),
            diff_ids: diff_ids.len(),
            layers,
        });
    }
    Ok((config, diff_ids))
}

/// An image platform: `os/architecture[/variant]`, in Go's (and the image-spec's) names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, `arm`…
    pub architecture: String,
    /// `v7`, `v8`…, if any.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this machine (Rust's arch names mapped to Go's).
    pub fn host() -> Self {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "x86" => ("386", None),
            "arm" => ("arm", Some("v7")),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        }
    }

    /// Whether an index entry's platform satisfies this one. A missing variant on either
    /// side matches any (as docker does: `linux/arm64` picks `linux/arm64/v8`).
    pub fn matches(&self, p: &oci_spec::image::Platform) -> bool {
        p.os().to_string() == self.os
            && p.architecture().to_string() == self.architecture
            && match (&self.variant, p.variant()) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            }
    }
}

impl FromStr for Platform {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, ManifestError> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Self {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Self {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: Some((*variant).into()),
            }),
            _ => Err(ManifestError::BadPlatform(s.to_owned())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The manifest descriptor in `index` for `platform`: the first entry that matches; with no
/// variant asked for, an entry without one is preferred.
pub fn select_platform<'a>(
    index: &'a ImageIndex,
    platform: &Platform,
    index_digest: &Digest,
) -> Result<&'a Descriptor, ManifestError> {
    let candidates: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| d.platform().as_ref().is_some_and(|p| platform.matches(p)))
        .collect();
    let best = candidates
        .iter()
        .find(|d| {
            platform.variant.is_some()
                || d.platform().as_ref().is_some_and(|p| p.variant().is_none())
        })
        .or(candidates.first());
    best.copied().ok_or_else(|| ManifestError::NoPlatform {
        wanted: platform.clone(),
        index: index_digest.clone(),
        available: index
            .manifests()
            .iter()
            .filter_map(|d| d.platform().as_ref())
            .map(|p| {
                let mut s = format!("{}/{}", p.os(), p.architecture());
                if let Some(v) = p.variant() {
                    s.push('/');
                    s.push_str(v);
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests;
