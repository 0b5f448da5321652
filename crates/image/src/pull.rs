//! Pulling an image: the manifest (through an index to this platform's), the config, then
//! every missing layer in **one streamed pass**: the bytes arrive on the async side and go
//! through a bounded channel to a thread that hashes them as the blob, writes them to the
//! store, decompresses and unpacks them and hashes the result as the diff_id
//! ([`crate::ingest::ingest_layer`]); nothing is buffered whole, no compressed temp copy is
//! read back. Layers are fetched concurrently (three at a time, as docker does). A layer
//! whose blob and unpacked directory are present is not fetched. The image is recorded only
//! when everything is in place, so an interrupted pull leaves nothing a later pull trips
//! over (what it wrote sits in `tmp/` until the next prune, or is complete and reused).
//!
//! Async runs on a `current_thread` tokio runtime made for the call, and the unpacking
//! threads are scoped to it: callers see a plain blocking function (DESIGN.md: no fork in a
//! threaded process, no async leaking into the engine).

use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::ingest::{LayerSpec, commit_image, existing_layer, ingest_layer};
use crate::manifest::{
    self, Document, ImageManifest, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Platform,
};
use crate::store::{ImageLayer, ImageRecord, Store};

/// How many layers are fetched at once.
const CONCURRENT_LAYERS: usize = 3;
/// Chunks in flight between a download and its unpacking thread.
const CHANNEL_CHUNKS: usize = 16;

/// A document fetched from a source: its bytes, media type (the `Content-Type`) and digest.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The bytes, whole (bounded by the source).
    pub bytes: Vec<u8>,
    /// The media type the source gave.
    pub media_type: Option<String>,
    /// The digest of the bytes (checked by the source against the one asked for).
    pub digest: Digest,
}

/// A stream of a blob's bytes, as they arrive.
pub type Chunks = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Where an image comes from: one repository of a registry (or anything that serves
/// manifests and blobs by digest). The registry client implements it.
pub trait Source {
    /// The manifest or index a tag names (or a digest, as text).
    fn manifest(&self, tag_or_digest: &str) -> impl Future<Output = Result<Fetched>>;
    /// A blob's bytes as a stream (not verified: the caller hashes as it reads).
    fn blob(&self, digest: &Digest, size: u64) -> impl Future<Output = Result<Chunks>>;
}

/// What a pull reports as it goes (for progress bars); every method has a default that
/// does nothing.
pub trait Progress: Sync {
    /// The manifest for the platform is known: `layers` blobs of `total` bytes.
    fn resolved(&self, _manifest: &Digest, _layers: &[(Digest, u64)]) {}
    /// A layer is present already and will not be fetched.
    fn layer_exists(&self, _blob: &Digest) {}
    /// `bytes` more of a layer arrived.
    fn layer_bytes(&self, _blob: &Digest, _bytes: u64) {}
    /// A layer is stored and unpacked.
    fn layer_done(&self, _blob: &Digest) {}
}

/// A [`Progress`] that reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// What a pull did.
#[derive(Clone, Debug)]
pub struct PullReport {
    /// The image pulled.
    pub image: ImageRecord,
    /// The digest of the document the reference resolved to (the index, for a
    /// multi-platform image): what `repo@digest` pulls again.
    pub digest: Digest,
    /// Layers fetched (the others were present).
    pub fetched: usize,
}

/// Pulls `reference` (a tag, or `sha256:…`) from `source` for `platform`, records it with
/// `names`, plus `digest_name` + `@` + the resolved digest when given (the RepoDigest).
pub fn pull(
    store: &Store,
    source: &impl Source,
    reference: &str,
    platform: &Platform,
    names: &[String],
    digest_repo: Option<&str>,
    progress: &dyn Progress,
) -> Result<PullReport> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(crate::error::io_err(
            "cannot start the async runtime for",
            std::path::Path::new(reference),
        ))?;
    let (top, manifest, media_type, manifest_bytes, config) =
        rt.block_on(resolve(source, reference, platform))?;
    let config_digest = manifest::descriptor_digest(manifest.config(), "config")?;
    let (_, diff_ids) = manifest::parse_config(&config, &config_digest, manifest.layers().len())?;
    let _lease = store.lease()?;
    let mut specs = Vec::new();
    let mut parent: Option<Digest> = None;
    for (desc, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let spec = LayerSpec {
            blob_digest: Some(manifest::descriptor_digest(desc, "layer")?),
            blob_size: Some(desc.size()),
            media_type: Some(desc.media_type().to_string()),
            diff_id: Some(diff_id),
            parent_chain: parent.clone(),
        };
        parent = spec.chain_id();
        specs.push(spec);
    }
    let listed: Vec<(Digest, u64)> = specs
        .iter()
        .filter_map(|s| Some((s.blob_digest.clone()?, s.blob_size?)))
        .collect();
    progress.resolved(&Digest::of(&manifest_bytes), &listed);
    let mut layers: Vec<Option<ImageLayer>> = Vec::with_capacity(specs.len());
    for spec in &specs {
        let found = existing_layer(store, spec)?;
        if let (Some(_), Some(blob)) = (&found, &spec.blob_digest) {
            progress.layer_exists(blob);
        }
        layers.push(found);
    }
    let todo: Vec<usize> = (0..specs.len()).filter(|&i| layers[i].is_none()).collect();
    let fetched = todo.len();
    let results = std::thread::scope(|scope| {
        rt.block_on(async {
            stream::iter(todo.iter().map(|&i| {
                let spec = &specs[i];
                async move { (i, fetch_layer(scope, store, source, spec, progress).await) }
            }))
            .buffer_unordered(CONCURRENT_LAYERS)
            .collect::<Vec<_>>()
            .await
        })
    });
    for (i, result) in results {
        layers[i] = Some(result?);
    }
    let layers: Vec<ImageLayer> = layers.into_iter().flatten().collect();
    let mut all_names = names.to_vec();
    if let Some(repo) = digest_repo {
        all_names.push(format!("{repo}@{top}"));
    }
    let image = commit_image(
        store,
        (&manifest_bytes, &media_type),
        &config,
        layers,
        &all_names,
    )?;
    Ok(PullReport {
        image,
        digest: top,
        fetched,
    })
}

/// The top document's digest, the platform's manifest (parsed, its media type and bytes)
/// and the config bytes (verified).
async fn resolve(
    source: &impl Source,
    reference: &str,
    platform: &Platform,
) -> Result<(Digest, Box<ImageManifest>, String, Vec<u8>, Vec<u8>)> {
    let top = source.manifest(reference).await?;
    let mut fetched = top.clone();
    let manifest = loop {
        match manifest::parse_document(
            &fetched.bytes,
            fetched.media_type.as_deref(),
            &fetched.digest,
        )? {
            Document::Manifest(m) => break m,
            Document::Index(index) if fetched.digest == top.digest => {
                let chosen = manifest::select_platform(&index, platform, &top.digest)?;
                let digest = manifest::descriptor_digest(chosen, "manifest")?;
                fetched = source.manifest(&digest.to_string()).await?;
                if fetched.digest != digest {
                    return Err(Error::Store(crate::store::StoreError::DigestMismatch {
                        expected: digest,
                        actual: fetched.digest,
                    }));
                }
            }
            Document::Index(_) => {
                return Err(Error::Manifest(manifest::ManifestError::MediaType {
                    what: "manifest",
                    digest: fetched.digest,
                    media_type: "an index inside an index".into(),
                }));
            }
        }
    };
    if fetched.bytes.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(Error::Store(crate::store::StoreError::TooLarge {
            digest: fetched.digest,
            size: fetched.bytes.len() as u64,
            limit: MAX_MANIFEST_SIZE,
            what: "manifest",
        }));
    }
    let media_type = manifest
        .media_type()
        .as_ref()
        .map(ToString::to_string)
        .or(fetched.media_type.clone())
        .unwrap_or_else(|| manifest::OCI_MANIFEST.to_owned());
    let config_desc = manifest.config();
    let config_digest = manifest::descriptor_digest(config_desc, "config")?;
    if config_desc.size() > MAX_CONFIG_SIZE {
        return Err(Error::Store(crate::store::StoreError::TooLarge {
            digest: config_digest,
            size: config_desc.size(),
            limit: MAX_CONFIG_SIZE,
            what: "config",
        }));
    }
    let mut chunks = source.blob(&config_digest, config_desc.size()).await?;
    let mut config = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|source| Error::LayerRead {
            layer: config_digest.clone(),
            source,
        })?;
        if (config.len() + chunk.len()) as u64 > config_desc.size() {
            return Err(Error::Store(crate::store::StoreError::SizeMismatch {
                digest: config_digest,
                expected: config_desc.size(),
                actual: (config.len() + chunk.len()) as u64,
            }));
        }
        config.extend_from_slice(&chunk);
    }
    let actual = Digest::of(&config);
    if actual != config_digest {
        return Err(Error::Store(crate::store::StoreError::DigestMismatch {
            expected: config_digest,
            actual,
        }));
    }
    Ok((top.digest, manifest, media_type, fetched.bytes, config))
}

/// Streams one layer into a scoped thread that ingests it.
async fn fetch_layer<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    store: &'env Store,
    source: &impl Source,
    spec: &'env LayerSpec,
    progress: &'env dyn Progress,
) -> Result<ImageLayer> {
    let (Some(blob), Some(size)) = (spec.blob_digest.clone(), spec.blob_size) else {
        return Err(Error::LayerMediaType {
            layer: spec.diff_id.clone().unwrap_or_else(|| Digest::of(b"")),
            media_type: "a layer without a digest or size".into(),
        });
    };
    let mut chunks = source.blob(&blob, size).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
    let worker = scope.spawn(move || {
        let result = ingest_layer(store, ChannelReader::new(rx), spec);
        if result.is_ok() {
            progress.layer_done(spec.blob_digest.as_ref().unwrap_or(&Digest::of(b"")));
        }
        result
    });
    while let Some(chunk) = chunks.next().await {
        let failed = chunk.is_err();
        if let Ok(c) = &chunk {
            progress.layer_bytes(&blob, c.len() as u64);
        }
        if tx.send(chunk).await.is_err() || failed {
            // The unpacker stopped (its error is the one to report), or the stream failed
            // (the unpacker reads that error next).
            break;
        }
    }
    let _ = tx.send(Ok(Bytes::new())).await; // end of stream marker: an empty chunk
    drop(tx);
    worker.join().unwrap_or_else(|_| {
        Err(Error::LayerRead {
            layer: blob,
            source: io::Error::other("the unpacking thread panicked"),
        })
    })
}

/// The receiving end of a download as a `Read`. The stream ends only at the empty chunk the
/// sender puts last; a channel closed without it (the download was dropped) is an error,
/// never a short, clean end.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    done: bool,
}

impl ChannelReader {
    fn new(rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
            done: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the download stopped before the end of the blob",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
