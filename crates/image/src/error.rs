//! The crate's error: one variant per module's own error, plus what the image-level
//! operations (ingest, archives) add.

use std::path::PathBuf;

use crate::digest::Digest;

/// Any failure of an image operation. Each message names the image, layer, file or registry
/// concerned and the cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The content store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A manifest, index or config.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    /// Unpacking a layer.
    #[error(transparent)]
    Unpack(#[from] crate::unpack::UnpackError),
    /// An image reference.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// A registry request (boxed: it is by far the largest variant).
    #[error(transparent)]
    Registry(Box<crate::registry::RegistryError>),
    /// An image that may not be removed.
    #[error(transparent)]
    Remove(#[from] crate::images::RemoveError),
    /// A digest.
    #[error(transparent)]
    Digest(#[from] crate::digest::DigestError),
    /// A layer's uncompressed content is not what the image config says.
    #[error("layer {layer}: its content hashes to {actual}, but the image config says {expected}")]
    DiffIdMismatch {
        /// The layer blob.
        layer: Digest,
        /// The config's diff_id.
        expected: Digest,
        /// What the uncompressed stream hashes to.
        actual: Digest,
    },
    /// Unpacking a layer failed.
    #[error("layer {layer}: {source}")]
    LayerUnpack {
        /// The layer blob.
        layer: Digest,
        /// The cause.
        #[source]
        source: crate::unpack::UnpackError,
    },
    /// A layer blob whose compression we cannot tell or read.
    #[error("layer {layer} has media type {media_type:?}, which is not a layer tar")]
    LayerMediaType {
        /// The layer blob.
        layer: Digest,
        /// Its media type.
        media_type: String,
    },
    /// Reading a layer's bytes failed (the source: a registry stream, an archive).
    #[error("cannot read layer {layer}: {source}")]
    LayerRead {
        /// The layer blob.
        layer: Digest,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a layer from a directory ([`crate::layer_writer`]) failed.
    #[error("{action} {}: {source}", path.display())]
    LayerWrite {
        /// What was being done ("cannot stat", "cannot write the tar entry of"…).
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An archive that is not a docker-archive or oci-archive, or misses a part.
    #[error("{}: {reason}", path.display())]
    Archive {
        /// The archive or directory.
        path: PathBuf,
        /// What is wrong ("no manifest.json or index.json: not a docker-archive or oci-archive").
        reason: String,
    },
    /// A file operation.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing JSON we made (cannot fail in practice; kept typed).
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl From<crate::registry::RegistryError> for Error {
    fn from(e: crate::registry::RegistryError) -> Self {
        Self::Registry(Box::new(e))
    }
}

/// Result of image operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
