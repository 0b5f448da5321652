//! [`UnpackError`]: what went wrong, naming the tar entry (as the archive spells it) and the
//! cause.

use std::io;

/// Why a layer could not be unpacked. Every variant that concerns one tar entry names it as
/// the archive spells it (lossily decoded if it is not UTF-8). After any error the
/// destination is in an unspecified, partially written state (never outside itself): the
/// caller removes it (the store unpacks into a temporary directory and renames on success).
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The tar stream could not be read or parsed (a bad header checksum, a truncated
    /// header, a decompression error...).
    #[error("cannot read the layer tar (after {entries} entries): {source}")]
    Read {
        /// Entries fully unpacked before the failure.
        entries: u64,
        /// The reader's or the tar parser's error.
        #[source]
        source: io::Error,
    },
    /// An entry's data ended before the size its header declares (a truncated stream).
    #[error("entry {entry:?}: the stream ends after {got} of its {declared} bytes")]
    Truncated {
        /// The entry.
        entry: String,
        /// The size the header (or PAX record) declares, in bytes.
        declared: u64,
        /// The bytes actually present.
        got: u64,
    },
    /// A PAX `size` record disagrees with the size in the entry's own header: two parsers
    /// would see two different archives (the RUSTSEC-2026-0068 differential), so we refuse.
    #[error("entry {entry:?}: PAX size {pax} disagrees with the header's size {header}")]
    SizeMismatch {
        /// The entry.
        entry: String,
        /// The PAX `size` record, in bytes.
        pax: u64,
        /// The header's size field, in bytes.
        header: u64,
    },
    /// A path (or hard link target) that would leave the destination: `..` climbing above
    /// its root after lexical cleaning, as docker refuses it ("breakout").
    #[error("entry {entry:?}: {what} {path:?} climbs out of the layer root")]
    Breakout {
        /// The entry.
        entry: String,
        /// `path` or `hard link target`.
        what: &'static str,
        /// The offending path.
        path: String,
    },
    /// A path that cannot be an entry: empty after cleaning where a name is needed, a NUL
    /// byte, or a `.wh.` whiteout naming nothing.
    #[error("entry {entry:?}: invalid path: {reason}")]
    InvalidPath {
        /// The entry.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// More entries than [`UnpackOptions::max_entries`](super::UnpackOptions::max_entries).
    #[error("the layer has more than {limit} entries (entry {entry:?} is one too many)")]
    TooManyEntries {
        /// The limit.
        limit: u64,
        /// The first entry over it.
        entry: String,
    },
    /// A path (or link target) longer than
    /// [`UnpackOptions::max_name_len`](super::UnpackOptions::max_name_len) bytes.
    #[error("entry {entry:?}: {what} is {len} bytes long, over the limit of {limit}")]
    NameTooLong {
        /// The entry (cut to the limit).
        entry: String,
        /// `path`, `link target` or `xattr`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// An entry type we do not unpack (e.g. a GNU volume header, a contiguous file).
    #[error("entry {entry:?}: unsupported entry type {kind:?}")]
    UnsupportedType {
        /// The entry.
        entry: String,
        /// The type flag byte.
        kind: char,
    },
    /// A header field that does not parse (mode, owner, device numbers, mtime, PAX record).
    #[error("entry {entry:?}: invalid header: {source}")]
    Header {
        /// The entry.
        entry: String,
        /// The parser's error.
        #[source]
        source: io::Error,
    },
    /// A system call on the entry failed (creating it, resolving its parent directory inside
    /// the root, setting an owner, mode, time or xattr...).
    #[error("entry {entry:?}: cannot {op}: {source}")]
    Io {
        /// The entry.
        entry: String,
        /// What we were doing, e.g. `create the parent directory`, `set xattr user.x`.
        op: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The destination directory could not be opened.
    #[error("cannot open the destination {}: {source}", path.display())]
    Dest {
        /// The destination.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl UnpackError {
    /// `Io` from an errno.
    pub(crate) fn sys(entry: &str, op: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Self::Io {
            entry: entry.to_owned(),
            op: op.into(),
            source: io::Error::from(errno),
        }
    }

    /// `Io` from an `io::Error`.
    pub(crate) fn io(entry: &str, op: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            entry: entry.to_owned(),
            op: op.into(),
            source,
        }
    }
}
