//! A blob's body as it arrives, hashed on the way, so that its end is also its verification.

use bytes::Bytes;

use super::error::{RegistryError, chain};
use crate::digest::{Digest, Hasher};

/// A blob being downloaded (distribution-spec "Pulling blobs"). [`BlobStream::next_chunk`]
/// yields the body in the chunks the network delivers (nothing is buffered beyond one
/// chunk); it hashes them, and its final `Ok(None)` means the whole blob arrived and its
/// sha256 is the digest asked for. Any failure (connection lost, more or fewer bytes than
/// announced, wrong digest) is an error instead of that `None`, so a caller that writes
/// chunks to a temporary file keeps the file only after `Ok(None)`.
#[derive(Debug)]
pub struct BlobStream {
    response: reqwest::Response,
    registry: String,
    repository: String,
    digest: Digest,
    hasher: Hasher,
    content_length: Option<u64>,
    expected: Option<u64>,
    done: bool,
}

impl BlobStream {
    pub(crate) fn new(
        response: reqwest::Response,
        registry: &str,
        repository: &str,
        digest: &Digest,
    ) -> Self {
        let content_length = response.content_length();
        Self {
            response,
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            digest: digest.clone(),
            hasher: Hasher::new(),
            content_length,
            expected: content_length,
            done: false,
        }
    }

    /// The `Content-Length` the registry announced, in bytes, if it did.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The digest the blob must have.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.hasher.len()
    }

    /// Holds the blob to `size` bytes (the size in its descriptor): an announced length that
    /// differs is an error now, a body that runs past or stops short of it one later.
    pub fn expect_size(mut self, size: u64) -> Result<Self, RegistryError> {
        if let Some(announced) = self.content_length.filter(|n| *n != size) {
            return Err(self.interrupted(format!(
                "the registry announced {announced} bytes, the descriptor says {size}"
            )));
        }
        self.expected = Some(size);
        Ok(self)
    }

    /// The next chunk; `Ok(None)` once the whole blob arrived and matched its digest.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, RegistryError> {
        if self.done {
            return Ok(None);
        }
        match self.response.chunk().await {
            Ok(Some(chunk)) => {
                self.hasher.update(&chunk);
                if self.expected.is_some_and(|n| self.hasher.len() > n) {
                    self.done = true;
                    return Err(self.interrupted("more bytes than announced".to_owned()));
                }
                Ok(Some(chunk))
            }
            Ok(None) => {
                self.done = true;
                if self.expected.is_some_and(|n| self.hasher.len() != n) {
                    return Err(self.interrupted("the body ended early".to_owned()));
                }
                let actual = self.hasher.clone().finish();
                if actual != self.digest {
                    return Err(RegistryError::DigestMismatch {
                        registry: self.registry.clone(),
                        repository: self.repository.clone(),
                        what: format!("blob {}", self.digest),
                        expected: self.digest.clone(),
                        actual,
                    });
                }
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(self.interrupted(chain(&e)))
            }
        }
    }

    fn interrupted(&self, detail: String) -> RegistryError {
        RegistryError::Interrupted {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            digest: self.digest.clone(),
            received: self.hasher.len(),
            expected: self.expected,
            detail,
        }
    }
}
