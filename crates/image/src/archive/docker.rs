//! docker-archive (`docker save`'s format): `manifest.json` = `[{"Config": "<file>",
//! "RepoTags": ["busybox:latest"], "Layers": ["<dir>/layer.tar", …]}]`, the config JSON and
//! one (normally uncompressed) tar per layer. Member names come from the archive and are
//! only ever looked up in its index, never used as paths.

use std::io::{Read, Write};

use serde::Deserialize;
use serde_json::json;

use super::files::Files;
use super::{LoadedImage, tar_entry};
use crate::digest::{Digest, HashingReader};
use crate::error::{Error, Result};
use crate::ingest::{LayerSpec, commit_image, existing_layer, ingest_layer};
use crate::manifest::{self, MAX_CONFIG_SIZE, OCI_CONFIG, OCI_MANIFEST};
use crate::store::{ImageRecord, Store};
use crate::unpack::{Compression, decompress};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Loads every image of a docker-archive; `name` overrides the archive's RepoTags.
pub(crate) fn load(store: &Store, files: &Files, name: Option<&str>) -> Result<Vec<LoadedImage>> {
    let bad = |reason: String| Error::Archive {
        path: files.path().to_path_buf(),
        reason,
    };
    let list: Vec<Entry> = serde_json::from_slice(&files.read("manifest.json", 1 << 20)?)
        .map_err(|e| bad(format!("invalid manifest.json: {e}")))?;
    if list.is_empty() {
        return Err(bad("manifest.json lists no image".into()));
    }
    let mut loaded = Vec::new();
    for entry in list {
        let config = files.read(&entry.config, MAX_CONFIG_SIZE)?;
        let id = Digest::of(&config);
        let (_, diff_ids) = manifest::parse_config(&config, &id, entry.layers.len())?;
        let _lease = store.lease()?;
        let mut layers = Vec::new();
        let mut parent = None;
        for (member, diff_id) in entry.layers.iter().zip(diff_ids) {
            let (mut reader, size) = files.open(member)?;
            let mut head = [0u8; 4];
            let n = reader
                .read(&mut head)
                .map_err(crate::error::io_err("cannot read", files.path()))?;
            let (compression, media_type) = match Compression::from_magic(&head[..n]) {
                Compression::None => (Compression::None, manifest::OCI_LAYER),
                Compression::Gzip => (Compression::Gzip, manifest::OCI_LAYER_GZIP),
                Compression::Zstd => (
                    Compression::Zstd,
                    "application/vnd.oci.image.layer.v1.tar+zstd",
                ),
            };
            drop(reader);
            let spec = LayerSpec {
                // An uncompressed layer's blob is its diff: its digest is known up front.
                blob_digest: (compression == Compression::None).then(|| diff_id.clone()),
                blob_size: Some(size),
                media_type: Some(media_type.to_owned()),
                diff_id: Some(diff_id),
                parent_chain: parent.clone(),
            };
            let layer = match existing_layer(store, &spec)? {
                Some(layer) => layer,
                None => ingest_layer(store, files.open(member)?.0, &spec)?,
            };
            parent = Some(layer.chain_id.clone());
            layers.push(layer);
        }
        let manifest_json = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": id.to_string()},
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.media_type, "size": l.blob_size, "digest": l.blob_digest.to_string()
            })).collect::<Vec<_>>(),
        });
        let manifest_bytes =
            serde_json::to_vec(&manifest_json).map_err(|source| Error::Encode {
                what: "manifest",
                source,
            })?;
        let names = match name {
            Some(n) => vec![crate::reference::normalize(n)?],
            None => entry
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| crate::reference::normalize(t))
                .collect::<Result<_, _>>()?,
        };
        let record = commit_image(
            store,
            (&manifest_bytes, OCI_MANIFEST),
            &config,
            layers,
            &names,
        )?;
        loaded.push(LoadedImage {
            id: record.id,
            names,
        });
    }
    Ok(loaded)
}

/// Writes `images` as a docker-archive: layers uncompressed (`<diff_id hex>/layer.tar`),
/// configs as `<id hex>.json`, RepoTags in docker's short form (digest names are left out:
/// the format has no place for them).
pub(crate) fn save(
    store: &Store,
    images: &[(ImageRecord, Vec<String>)],
    out: impl Write,
) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut entries = Vec::new();
    let mut written = std::collections::BTreeSet::new();
    for (image, names) in images {
        let config_name = format!("{}.json", image.id.hex());
        if written.insert(config_name.clone()) {
            let config = store.read_blob(&image.id, MAX_CONFIG_SIZE, "config")?;
            tar_entry(&mut tar, &config_name, config.len() as u64, &config[..])?;
        }
        let mut layer_names = Vec::new();
        for layer in &image.layers {
            let member = format!("{}/layer.tar", layer.diff_id.hex());
            if written.insert(member.clone()) {
                let compression =
                    Compression::from_media_type(&layer.media_type).unwrap_or(Compression::Gzip);
                let mut plain = HashingReader::new(
                    decompress(store.open_blob(&layer.blob_digest)?, compression).map_err(
                        |source| Error::LayerRead {
                            layer: layer.blob_digest.clone(),
                            source,
                        },
                    )?,
                );
                tar_entry(&mut tar, &member, layer.size, &mut plain)?;
                let (actual, _, _) = plain.finish();
                if actual != layer.diff_id {
                    return Err(Error::DiffIdMismatch {
                        layer: layer.blob_digest.clone(),
                        expected: layer.diff_id.clone(),
                        actual,
                    });
                }
            }
            layer_names.push(member);
        }
        // docker's short form (`busybox:latest`); a name that does not parse is kept whole.
        let tags: Vec<String> = names
            .iter()
            .filter(|n| !n.contains('@'))
            .map(|n| {
                crate::reference::Reference::parse(n).map_or_else(|_| n.clone(), |r| r.familiar())
            })
            .collect();
        entries.push(json!({"Config": config_name, "RepoTags": tags, "Layers": layer_names}));
    }
    let manifest = serde_json::to_vec(&entries).map_err(|source| Error::Encode {
        what: "manifest.json",
        source,
    })?;
    tar_entry(
        &mut tar,
        "manifest.json",
        manifest.len() as u64,
        &manifest[..],
    )?;
    super::finish(tar)
}
