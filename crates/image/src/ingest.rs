//! Putting one image into the store from any source (a registry stream, an archive, a
//! directory): each layer in one streamed pass (source → blob digest → decompress → unpack
//! → diff_id), then its manifest and config blobs, then its record.

use std::io::{self, Read, Write};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::{BlobWriter, ImageLayer, ImageRecord, Store};
use crate::unpack::{Compression, UnpackOptions, decompress, unpack};

/// One layer to ingest: the blob (as the manifest names it) and what the config says its
/// uncompressed content hashes to.
#[derive(Clone, Debug)]
pub struct LayerSpec {
    /// The blob digest, or `None` when the source does not know it (a docker-archive's
    /// `layer.tar`): it is computed while reading.
    pub blob_digest: Option<Digest>,
    /// The blob's size, if known (more or fewer bytes are refused).
    pub blob_size: Option<u64>,
    /// The blob's media type; `None` to detect the compression from its first bytes.
    pub media_type: Option<String>,
    /// The config's diff_id for it; `None` to accept what the content hashes to (an import
    /// of a root filesystem tar, which has no config yet).
    pub diff_id: Option<Digest>,
    /// The chain id of the layers below it (`None` for the bottom layer).
    pub parent_chain: Option<Digest>,
}

impl LayerSpec {
    /// The layer's chain id, when its diff_id is known.
    pub fn chain_id(&self) -> Option<Digest> {
        let diff_id = self.diff_id.as_ref()?;
        Some(chain_id(self.parent_chain.as_ref(), diff_id))
    }
}

/// The chain id of a layer with `diff_id` on top of the layers whose chain id is `parent`
/// (image-spec `config.md`, "Layer ChainID").
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// Whether the layer needs no work: its blob and unpacked directory are both in the store,
/// and some image already records its size. Returns the recorded layer.
pub fn existing_layer(store: &Store, spec: &LayerSpec) -> Result<Option<ImageLayer>> {
    let (Some(blob), Some(chain)) = (&spec.blob_digest, spec.chain_id()) else {
        return Ok(None);
    };
    if !store.has_layer(&chain) || !store.has_blob(blob) {
        return Ok(None);
    }
    Ok(store.recorded_layer(blob, &chain)?)
}

/// Reads a layer blob from `source`, writing it to the store as a blob while it is
/// decompressed and unpacked into a staging directory, then checks the blob digest and the
/// diff_id and commits both. On any error nothing is left (the staging directory and the
/// temp blob are removed when dropped).
pub fn ingest_layer(
    store: &Store,
    source: impl Read + Send,
    spec: &LayerSpec,
) -> Result<ImageLayer> {
    let label = spec
        .blob_digest
        .clone()
        .or_else(|| spec.diff_id.clone())
        .unwrap_or_else(|| Digest::of(b""));
    let read_err = |source| Error::LayerRead {
        layer: label.clone(),
        source,
    };
    let writer = store.blob_writer(spec.blob_digest.as_ref(), spec.blob_size)?;
    let mut tee = Tee {
        inner: source,
        writer,
        failed: None,
    };
    let mut head = [0u8; 4];
    let n = read_full(&mut tee, &mut head).map_err(read_err)?;
    let compression = match &spec.media_type {
        Some(mt) => Compression::from_media_type(mt).ok_or_else(|| Error::LayerMediaType {
            layer: label.clone(),
            media_type: mt.clone(),
        })?,
        None => Compression::from_magic(&head[..n]),
    };
    let media_type = spec.media_type.clone().unwrap_or_else(|| {
        match compression {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
        .to_owned()
    });
    let staging = store.layer_staging()?;
    // Two threads, so that a layer uses both cores as `curl | zstd -d | tar -x` does: this
    // one reads the source (hashing and writing the blob) and decompresses, a second one
    // parses the tar, makes the files and hashes the diff_id.
    let head = head[..n].to_vec();
    let report = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(PIPE_CHUNKS);
        let unpacker = scope.spawn(|| {
            unpack(
                Pipe {
                    rx,
                    current: Vec::new(),
                    at: 0,
                },
                staging.path(),
                &UnpackOptions::default(),
            )
        });
        let stream = io::Cursor::new(head).chain(&mut tee);
        match decompress(stream, compression) {
            Ok(mut plain) => loop {
                let mut chunk = vec![0u8; PIPE_CHUNK];
                match plain.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(k) => {
                        chunk.truncate(k);
                        // The unpacker stopped (its error is the one to report).
                        if tx.send(Ok(chunk)).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            },
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        }
        drop(tx);
        unpacker.join().unwrap_or_else(|_| {
            Err(crate::unpack::UnpackError::Read {
                entries: 0,
                source: io::Error::other("the unpacking thread panicked"),
            })
        })
    });
    if let Some(e) = tee.failed.take() {
        return Err(read_err(e));
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // A corrupt stream usually fails the decompressor or the tar reader before its
            // end: when the blob does not hash to its digest, that is the cause to report.
            if let Some(expected) = &spec.blob_digest
                && io::copy(&mut tee, &mut io::sink()).is_ok()
            {
                let actual = tee.writer.digest_so_far();
                if actual != *expected {
                    return Err(Error::Store(crate::store::StoreError::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    }));
                }
            }
            return Err(Error::LayerUnpack {
                layer: label,
                source: e,
            });
        }
    };
    // The decompressor may stop before the end of the blob (a gzip trailer, padding):
    // the blob digest covers every byte.
    io::copy(&mut tee, &mut io::sink()).map_err(read_err)?;
    if let Some(expected) = &spec.diff_id
        && report.diff_id != *expected
    {
        return Err(Error::DiffIdMismatch {
            layer: label,
            expected: expected.clone(),
            actual: report.diff_id,
        });
    }
    let blob_size = tee.writer.written();
    let blob_digest = tee.writer.commit()?;
    let chain = chain_id(spec.parent_chain.as_ref(), &report.diff_id);
    staging.commit(&chain)?;
    Ok(ImageLayer {
        blob_digest,
        media_type,
        blob_size,
        diff_id: report.diff_id,
        chain_id: chain,
        size: report.size,
    })
}

/// Writes the image's config and manifest blobs, flushes the filesystem and records the
/// image with `names`, in that order (the record names only what is on disk).
pub fn commit_image(
    store: &Store,
    manifest: (&[u8], &str),
    config: &[u8],
    layers: Vec<ImageLayer>,
    names: &[String],
) -> Result<ImageRecord> {
    let parsed: serde_json::Value =
        serde_json::from_slice(config).map_err(|source| Error::Encode {
            what: "image config",
            source,
        })?;
    let field = |k: &str| {
        parsed
            .get(k)
            .and_then(|v| v.as_str())
            .map(ToOwned::to_owned)
    };
    let id = store.put_blob(config, None)?;
    let manifest_digest = store.put_blob(manifest.0, None)?;
    store.sync()?;
    let record = ImageRecord {
        id,
        manifest_digest,
        manifest_media_type: manifest.1.to_owned(),
        created: field("created"),
        added: 0,
        os: field("os").unwrap_or_default(),
        architecture: field("architecture").unwrap_or_default(),
        layers,
    };
    store.put_image(&record, names)?;
    Ok(record)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Chunks of decompressed bytes in flight between a layer's two threads, and their size.
const PIPE_CHUNKS: usize = 8;
const PIPE_CHUNK: usize = 256 << 10;

/// The unpacking thread's end of the pipe: the stream ends when the other thread hangs up
/// (after an error it sent, or at the end of the decompressed data).
struct Pipe {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Copies what is read into the blob writer. A failure of the source is remembered, so
/// that it is reported as the cause rather than the tar error it provokes downstream.
struct Tee<R> {
    inner: R,
    writer: BlobWriter,
    failed: Option<io::Error>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                return Err(copy);
            }
        };
        if let Err(e) = self.writer.write_all(&buf[..n]) {
            let copy = io::Error::new(e.kind(), e.to_string());
            self.failed = Some(e);
            return Err(copy);
        }
        Ok(n)
    }
}

/// Ingests an image whose manifest and config are in hand and whose layer blobs
/// `open_layer` opens by digest (an OCI layout, a pull without a network in the way):
/// checks, layers that are already there skipped, then committed with `names`.
pub fn ingest_image<'a>(
    store: &Store,
    manifest: &[u8],
    manifest_media_type: Option<&str>,
    config: &[u8],
    open_layer: impl Fn(&Digest) -> Result<Box<dyn Read + Send + 'a>>,
    names: &[String],
) -> Result<ImageRecord> {
    use crate::manifest::{Document, descriptor_digest, parse_config, parse_document};
    let manifest_digest = Digest::of(manifest);
    let Document::Manifest(parsed) =
        parse_document(manifest, manifest_media_type, &manifest_digest)?
    else {
        return Err(Error::Manifest(crate::manifest::ManifestError::MediaType {
            what: "manifest",
            digest: manifest_digest,
            media_type: "an index where an image manifest was expected".into(),
        }));
    };
    let config_digest = descriptor_digest(parsed.config(), "config")?;
    let actual = Digest::of(config);
    if actual != config_digest {
        return Err(Error::Store(crate::store::StoreError::DigestMismatch {
            expected: config_digest,
            actual,
        }));
    }
    let (_, diff_ids) = parse_config(config, &config_digest, parsed.layers().len())?;
    let _lease = store.lease()?;
    let mut layers = Vec::with_capacity(diff_ids.len());
    let mut parent: Option<Digest> = None;
    for (desc, diff_id) in parsed.layers().iter().zip(diff_ids) {
        let blob = descriptor_digest(desc, "layer")?;
        let spec = LayerSpec {
            blob_digest: Some(blob.clone()),
            blob_size: Some(desc.size()),
            media_type: Some(desc.media_type().to_string()),
            diff_id: Some(diff_id),
            parent_chain: parent.clone(),
        };
        let layer = match existing_layer(store, &spec)? {
            Some(layer) => layer,
            None if store.has_blob(&blob) => ingest_layer(store, store.open_blob(&blob)?, &spec)?,
            None => ingest_layer(store, open_layer(&blob)?, &spec)?,
        };
        parent = Some(layer.chain_id.clone());
        layers.push(layer);
    }
    let media_type = parsed
        .media_type()
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| manifest_media_type.map(ToOwned::to_owned))
        .unwrap_or_else(|| crate::manifest::OCI_MANIFEST.to_owned());
    commit_image(store, (manifest, &media_type), config, layers, names)
}
