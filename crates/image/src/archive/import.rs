//! `import`: a root filesystem tar (plain, gzip or zstd) as a one-layer image.

use std::io::Read;

use serde_json::json;

use crate::error::{Error, Result};
use crate::ingest::{LayerSpec, commit_image, ingest_layer};
use crate::manifest::{OCI_CONFIG, OCI_MANIFEST, Platform};
use crate::store::{ImageRecord, Store};

/// Imports `tar` as a new one-layer image for this machine's platform, named `name` (a
/// reference, normalised) if given. The layer blob is kept as given (its compression
/// detected), the config records the diff_id and a history entry.
pub fn import(store: &Store, tar: impl Read + Send, name: Option<&str>) -> Result<ImageRecord> {
    let names = match name {
        Some(n) => vec![crate::reference::normalize(n)?],
        None => Vec::new(),
    };
    let _lease = store.lease()?;
    let layer = ingest_layer(
        store,
        tar,
        &LayerSpec {
            blob_digest: None,
            blob_size: None,
            media_type: None,
            diff_id: None,
            parent_chain: None,
        },
    )?;
    let platform = Platform::host();
    let created = rfc3339_now();
    let mut config = json!({
        "created": created,
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [{"created": created, "created_by": "peapod import", "comment": "imported from tarball"}],
    });
    if let Some(v) = platform.variant {
        config["variant"] = json!(v);
    }
    let config = serde_json::to_vec(&config).map_err(|source| Error::Encode {
        what: "image config",
        source,
    })?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": crate::Digest::of(&config).to_string()},
        "layers": [{"mediaType": layer.media_type, "size": layer.blob_size, "digest": layer.blob_digest.to_string()}],
    });
    let manifest = serde_json::to_vec(&manifest).map_err(|source| Error::Encode {
        what: "manifest",
        source,
    })?;
    commit_image(
        store,
        (&manifest, OCI_MANIFEST),
        &config,
        vec![layer],
        &names,
    )
}

/// Now, as RFC 3339 in UTC with seconds (`2026-11-30T18:22:45Z`).
pub(crate) fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
