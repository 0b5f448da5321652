//! OCI image layouts (image-spec `image-layout.md`): `oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`; read from a directory or an `oci-archive` tar, written as a tar.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::json;

use super::files::Files;
use super::{LoadedImage, tar_entry};
use crate::digest::{Digest, HashingReader};
use crate::error::{Error, Result};
use crate::manifest::{self, Document, ImageIndex, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Platform};
use crate::store::{ImageRecord, Store};

/// The annotation holding an image's name in an index (image-spec `annotations.md`).
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's (and nerdctl's) annotation for the full image name.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// A blob of the layout, read whole (bounded) and checked against its digest.
fn read_blob(files: &Files, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
    let bytes = files.read(&format!("blobs/sha256/{}", digest.hex()), limit)?;
    let actual = Digest::of(&bytes);
    if actual != *digest {
        return Err(Error::Store(crate::store::StoreError::DigestMismatch {
            expected: digest.clone(),
            actual,
        }));
    }
    Ok(bytes)
}

/// Loads the images of an OCI layout. With `tag`, only the manifest whose ref.name is that
/// tag (or the one entry, if the index has one and no tag is given); `name` names what is
/// loaded (else the names in the index's annotations, when they are full references).
pub(crate) fn load(
    store: &Store,
    files: &Files,
    tag: Option<&str>,
    name: Option<&str>,
    platform: &Platform,
) -> Result<Vec<LoadedImage>> {
    let index_bytes = files.read("index.json", MAX_MANIFEST_SIZE)?;
    let index: ImageIndex = serde_json::from_slice(&index_bytes).map_err(|e| Error::Archive {
        path: files.path().to_path_buf(),
        reason: format!("invalid index.json: {e}"),
    })?;
    let mut loaded = Vec::new();
    for desc in index.manifests() {
        let annotations = desc.annotations().clone().unwrap_or_default();
        let ref_name = annotations.get(REF_NAME).map(String::as_str);
        if let Some(tag) = tag
            && ref_name != Some(tag)
        {
            continue;
        }
        let mut names = Vec::new();
        if let Some(name) = name {
            names.push(crate::reference::normalize(name)?);
        } else if let Some(full) = annotations
            .get(CONTAINERD_NAME)
            .map(String::as_str)
            .or(ref_name.filter(|r| r.contains('/')))
        {
            names.push(crate::reference::normalize(full)?);
        }
        let mut digest = manifest::descriptor_digest(desc, "manifest")?;
        let mut media_type = desc.media_type().to_string();
        let mut bytes = read_blob(files, &digest, MAX_MANIFEST_SIZE)?;
        if let Document::Index(nested) =
            manifest::parse_document(&bytes, Some(&media_type), &digest)?
        {
            let chosen = manifest::select_platform(&nested, platform, &digest)?;
            media_type = chosen.media_type().to_string();
            digest = manifest::descriptor_digest(chosen, "manifest")?;
            bytes = read_blob(files, &digest, MAX_MANIFEST_SIZE)?;
        }
        let Document::Manifest(parsed) =
            manifest::parse_document(&bytes, Some(&media_type), &digest)?
        else {
            return Err(Error::Archive {
                path: files.path().to_path_buf(),
                reason: format!("{digest} is an index nested in an index"),
            });
        };
        let config_digest = manifest::descriptor_digest(parsed.config(), "config")?;
        let config = read_blob(files, &config_digest, MAX_CONFIG_SIZE)?;
        let record = crate::ingest::ingest_image(
            store,
            &bytes,
            Some(&media_type),
            &config,
            |blob| {
                let (r, _) = files.open(&format!("blobs/sha256/{}", blob.hex()))?;
                Ok(r)
            },
            &names,
        )?;
        loaded.push(LoadedImage {
            id: record.id,
            names,
        });
    }
    if loaded.is_empty() {
        return Err(Error::Archive {
            path: files.path().to_path_buf(),
            reason: match tag {
                Some(t) => format!("no image tagged {t:?} in index.json"),
                None => "index.json lists no image".into(),
            },
        });
    }
    Ok(loaded)
}

/// Writes `images` (each with the names to record) as an oci-archive tar: the blobs as
/// stored (layers keep their compression, so digests are kept), one index entry per name
/// (`org.opencontainers.image.ref.name` = the full name, as podman writes), or one without
/// a name for an image that has none.
pub(crate) fn save(
    store: &Store,
    images: &[(ImageRecord, Vec<String>)],
    out: impl Write,
) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut entries = Vec::new();
    let mut blobs = BTreeSet::new();
    for (image, names) in images {
        let manifest = store.read_blob(&image.manifest_digest, MAX_MANIFEST_SIZE, "manifest")?;
        let desc = |name: Option<&String>| {
            let mut d = json!({
                "mediaType": image.manifest_media_type,
                "digest": image.manifest_digest.to_string(),
                "size": manifest.len(),
            });
            if let Some(n) = name {
                d["annotations"] = json!({ REF_NAME: n, CONTAINERD_NAME: n });
            }
            d
        };
        if names.is_empty() {
            entries.push(desc(None));
        }
        entries.extend(names.iter().map(|n| desc(Some(n))));
        blobs.insert(image.manifest_digest.clone());
        blobs.insert(image.id.clone());
        blobs.extend(image.layers.iter().map(|l| l.blob_digest.clone()));
    }
    let encode = |what, v: &serde_json::Value| {
        serde_json::to_vec(v).map_err(|source| Error::Encode { what, source })
    };
    let layout = encode("oci-layout", &json!({"imageLayoutVersion": "1.0.0"}))?;
    tar_entry(&mut tar, "oci-layout", layout.len() as u64, &layout[..])?;
    let index = encode(
        "index.json",
        &json!({"schemaVersion": 2, "mediaType": manifest::OCI_INDEX, "manifests": entries}),
    )?;
    tar_entry(&mut tar, "index.json", index.len() as u64, &index[..])?;
    for blob in blobs {
        let file = store.open_blob(&blob)?;
        let size = file
            .metadata()
            .map_err(crate::error::io_err("cannot stat", &store.blob_path(&blob)))?
            .len();
        let mut hashing = HashingReader::new(file);
        tar_entry(
            &mut tar,
            &format!("blobs/sha256/{}", blob.hex()),
            size,
            &mut hashing,
        )?;
        let (actual, _, _) = hashing.finish();
        if actual != blob {
            return Err(Error::Store(crate::store::StoreError::DigestMismatch {
                expected: blob,
                actual,
            }));
        }
    }
    super::finish(tar)
}
