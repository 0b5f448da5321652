//! TEMPORARY stand-in with the agreed API, so that ingest and archives compile and run
//! while the real, safe unpacker is written on its own branch; replaced at merge.

use std::io::{self, Read};
use std::path::Path;

use crate::digest::{Digest, HashingReader};

/// Unpack failure.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// I/O.
    #[error("cannot unpack into {}: {source}", dest.display())]
    Io {
        /// Destination.
        dest: std::path::PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// Layer compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// From a layer media type.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") {
            Some(Self::Gzip)
        } else if media_type.ends_with("+zstd") {
            Some(Self::Zstd)
        } else if media_type.ends_with(".tar") {
            Some(Self::None)
        } else {
            None
        }
    }

    /// From the first bytes.
    pub fn detect(prefix: &[u8]) -> Self {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else {
            Self::None
        }
    }
}

/// Decompresses.
pub fn decompress<'a>(
    reader: impl Read + Send + 'a,
    compression: Compression,
) -> Result<Box<dyn Read + Send + 'a>, UnpackError> {
    Ok(match compression {
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(reader)),
        _ => Box::new(reader),
    })
}

/// How whiteouts are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnpackMode {
    /// Overlay lower dir.
    #[default]
    Overlay,
    /// Flat rootfs.
    Apply,
}

/// Options.
#[derive(Clone, Debug, Default)]
pub struct UnpackOptions {
    /// Mode.
    pub mode: UnpackMode,
}

/// What an unpack did.
#[derive(Clone, Debug)]
pub struct UnpackReport {
    /// sha256 of the uncompressed stream.
    pub diff_id: Digest,
    /// Its length.
    pub size: u64,
    /// Entries.
    pub entries: u64,
}

/// Unpacks.
pub fn unpack(
    tar: impl Read,
    dest: &Path,
    _opts: &UnpackOptions,
) -> Result<UnpackReport, UnpackError> {
    let err = |source| UnpackError::Io {
        dest: dest.to_path_buf(),
        source,
    };
    let mut hashing = HashingReader::new(tar);
    let mut archive = tar::Archive::new(&mut hashing);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(true);
    archive.unpack(dest).map_err(err)?;
    io::copy(&mut hashing, &mut io::sink()).map_err(err)?;
    let (diff_id, size, _) = hashing.finish();
    Ok(UnpackReport {
        diff_id,
        size,
        entries: 0,
    })
}
