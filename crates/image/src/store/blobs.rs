//! Blobs: written to `tmp/`, verified while written, renamed into `blobs/sha256/`.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::{Result, Store, StoreError, io_err};
use crate::digest::{Digest, Hasher};

/// A blob being written. Bytes go to a temp file under `ROOT/tmp/` and through a sha256;
/// [`BlobWriter::commit`] checks digest and size and renames the file into place. Dropped
/// without commit, the temp file is removed.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<tempfile::NamedTempFile>,
    hasher: Hasher,
    blobs: PathBuf,
    expected: Option<Digest>,
    expected_size: Option<u64>,
}

impl Store {
    /// Starts writing a blob. With `expected`, [`BlobWriter::commit`] refuses content that
    /// hashes otherwise; with `expected_size`, writes past it fail at once (a registry or an
    /// archive that sends more than its descriptor said is not read to the end).
    pub fn blob_writer(
        &self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<BlobWriter> {
        let tmp = self.root.join("tmp");
        let file = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&tmp)
            .map_err(io_err("cannot create a temp file in", &tmp))?;
        Ok(BlobWriter {
            file: Some(file),
            hasher: Hasher::new(),
            blobs: self.root.join("blobs/sha256"),
            expected: expected.cloned(),
            expected_size,
        })
    }

    /// Writes a small blob held in memory (a manifest, a config) and returns its digest.
    pub fn put_blob(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if let Some(want) = expected
            && *want != digest
        {
            return Err(StoreError::DigestMismatch {
                expected: want.clone(),
                actual: digest,
            });
        }
        if self.has_blob(&digest) {
            return Ok(digest);
        }
        let mut w = self.blob_writer(Some(&digest), Some(bytes.len() as u64))?;
        w.write_all(bytes)
            .map_err(io_err("cannot write", &self.root.join("tmp")))?;
        w.commit()
    }

    /// Reads a whole blob of at most `limit` bytes, checking it hashes to its digest (a
    /// manifest or config read back is trusted only after that). `what` names it in errors.
    pub fn read_blob(&self, digest: &Digest, limit: u64, what: &'static str) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::BlobMissing(digest.clone()));
            }
            Err(e) => return Err(io_err("cannot open", &path)(e)),
        };
        let size = file.metadata().map_err(io_err("cannot stat", &path))?.len();
        if size > limit {
            return Err(StoreError::TooLarge {
                digest: digest.clone(),
                size,
                limit,
                what,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(io_err("cannot read", &path))?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Opens a blob for streaming (a layer to unpack or save). Not re-verified here: the
    /// caller hashes what it reads when it matters.
    pub fn open_blob(&self, digest: &Digest) -> Result<fs::File> {
        let path = self.blob_path(digest);
        fs::File::open(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StoreError::BlobMissing(digest.clone())
            } else {
                io_err("cannot open", &path)(e)
            }
        })
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.hasher.len()
    }

    /// The digest of what was written so far.
    pub fn digest_so_far(&self) -> Digest {
        self.hasher.clone().finish()
    }

    /// Checks digest and size, then renames the blob into the store. If the same blob is
    /// already there (another process wrote it meanwhile), this copy is dropped.
    ///
    /// Errors: [`StoreError::DigestMismatch`], [`StoreError::SizeMismatch`], or the rename.
    pub fn commit(mut self) -> Result<Digest> {
        let hasher = std::mem::take(&mut self.hasher);
        let size = hasher.len();
        let digest = hasher.finish();
        if let Some(expected) = &self.expected
            && *expected != digest
        {
            return Err(StoreError::DigestMismatch {
                expected: expected.clone(),
                actual: digest,
            });
        }
        if let Some(expected) = self.expected_size
            && expected != size
        {
            return Err(StoreError::SizeMismatch {
                digest,
                expected,
                actual: size,
            });
        }
        let target = self.blobs.join(digest.hex());
        if let Some(file) = self.file.take() {
            file.persist(&target).map_err(|e| StoreError::Io {
                action: "cannot rename a blob to",
                path: target.clone(),
                source: e.error,
            })?;
        }
        Ok(digest)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(limit) = self.expected_size
            && self.hasher.len() + buf.len() as u64 > limit
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} is larger than its declared {limit} bytes",
                    self.expected
                        .as_ref()
                        .map_or_else(|| "being written".to_owned(), ToString::to_string)
                ),
            ));
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already committed"))?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}
