//! The registry client as a [`Source`] of one repository, for [`crate::pull::pull`].

use std::io;

use futures_util::stream;

use crate::digest::Digest;
use crate::error::Result;
use crate::pull::{Chunks, Fetched, Source};
use crate::reference::Reference;
use crate::registry::RegistryClient;

/// One repository of a registry, through a [`RegistryClient`].
#[derive(Debug)]
pub struct RegistrySource<'a> {
    client: &'a RegistryClient,
    reference: Reference,
}

impl<'a> RegistrySource<'a> {
    /// The repository `reference` names, through `client`.
    pub fn new(client: &'a RegistryClient, reference: Reference) -> Self {
        Self { client, reference }
    }
}

impl Source for RegistrySource<'_> {
    async fn manifest(&self, tag_or_digest: &str) -> Result<Fetched> {
        let fetched = match tag_or_digest.parse::<Digest>() {
            Ok(digest) => {
                self.client
                    .manifest_by_digest(&self.reference, &digest)
                    .await?
            }
            Err(_) => {
                self.client
                    .manifest(&self.reference.with_tag(tag_or_digest)?)
                    .await?
            }
        };
        Ok(Fetched {
            bytes: fetched.bytes.to_vec(),
            media_type: Some(fetched.media_type),
            digest: fetched.digest,
        })
    }

    async fn blob(&self, digest: &Digest, size: u64) -> Result<Chunks> {
        let blob = self
            .client
            .blob(&self.reference, digest)
            .await?
            .expect_size(size)?;
        Ok(Box::pin(stream::unfold(Some(blob), |state| async move {
            let mut blob = state?;
            match blob.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(blob))),
                Ok(None) => None,
                Err(e) => Some((Err(io::Error::other(e)), None)),
            }
        })))
    }
}
