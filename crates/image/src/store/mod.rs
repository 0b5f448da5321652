//! The content store under an engine root (`/var/lib/peapod` by default):
//!
//! ```text
//! ROOT/peapod.db            SQLite (WAL): images, their layers, names (tags and digests)
//! ROOT/blobs/sha256/<hex>   blobs by digest: manifests, configs, compressed layers
//! ROOT/layers/<chain-hex>/  unpacked layers by chain id, overlay-ready lower dirs
//! ROOT/tmp/                 blobs and layers being written (ingest), renamed when complete
//! ROOT/gc.lock              flock: shared while a pull/load writes, exclusive for prune
//! ```
//!
//! Three rules make it safe under concurrent `peapod` processes and crashes (the ideas of
//! containerd's content store):
//! - **Verify while writing, rename to commit.** A blob is written to `tmp/`, its digest and
//!   size checked as the bytes go through ([`BlobWriter`]), then renamed into `blobs/`; a
//!   layer is unpacked into a staging directory ([`LayerStaging`]) and renamed to its chain id.
//!   What exists under `blobs/` or `layers/` is therefore complete. Two processes writing the
//!   same blob or layer both succeed: the second rename finds it there and drops its copy.
//! - **The database names only what is complete.** Image rows are written in one short
//!   transaction after their blobs and layers exist (and after `syncfs`, so a power loss does
//!   not leave a row naming data that never reached the disk).
//! - **A lease for work in flight.** Writers hold `gc.lock` shared ([`Store::lease`]);
//!   [`Store::collect_garbage`] takes it exclusive, so it never removes what a pull is about to
//!   reference. A crash releases the lock; what it left in `tmp/` is removed by the next prune.
//!
//! Database: [`rusqlite`] with SQLite bundled (a system libsqlite3 is not assumed), WAL mode,
//! a 10 s busy timeout, and a migrations table shared with the engine's own tables (each
//! component keeps its own schema version), so the engine adds containers to the same file.

mod blobs;
mod db;
mod gc;
mod layers;

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use nix::fcntl::{Flock, FlockArg};

pub use blobs::BlobWriter;
pub use db::{DiskUsage, ImageLayer, ImageRecord, PruneReport, open_database};
pub use layers::LayerStaging;
pub(crate) use layers::remove_tree;

use crate::digest::Digest;

/// What can go wrong in the store; every message names the file, digest or image concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation under the root failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("cannot create", "cannot rename …").
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database refused a statement.
    #[error("image database {}: {source}", path.display())]
    Db {
        /// `ROOT/peapod.db`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Written bytes do not hash to the expected digest.
    #[error("digest mismatch for {expected}: the content hashes to {actual}")]
    DigestMismatch {
        /// The digest the manifest promised.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// Written bytes are not as many as the descriptor said.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// Bytes promised.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A blob is not in the store.
    #[error("blob {0} is not in the store")]
    BlobMissing(Digest),
    /// A blob is larger than the caller allows (manifests and configs are bounded).
    #[error("blob {digest} is {size} bytes, over the {limit}-byte limit for a {what}")]
    TooLarge {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// The bound.
        limit: u64,
        /// "manifest", "config"…
        what: &'static str,
    },
    /// No image has this name or id.
    #[error("image not known: {0}")]
    ImageUnknown(String),
    /// A short id matches several images.
    #[error("image id prefix {0} is ambiguous: it matches several images")]
    Ambiguous(String),
    /// The database was written by a newer peapod.
    #[error(
        "image database {} has schema version {found}, newer than this peapod's {known}: upgrade peapod", path.display()
    )]
    SchemaTooNew {
        /// `ROOT/peapod.db`.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// An image store opened on a root directory. Cheap to share by reference between threads
/// (the database connection is behind a mutex; statements are short).
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    db: Mutex<rusqlite::Connection>,
}

/// A shared lease on the store: while it is held, [`Store::collect_garbage`] waits. Dropping it
/// releases it.
#[derive(Debug)]
pub struct Lease(#[allow(dead_code)] Flock<fs::File>);

impl Store {
    /// Opens (creating if needed) the store at `root`, migrating its database.
    ///
    /// Errors: the root cannot be created, or the database cannot be opened or migrated.
    pub fn open(root: &Path) -> Result<Self> {
        for dir in ["blobs/sha256", "layers", "tmp"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(io_err("cannot create", &path))?;
        }
        let conn = db::open(&root.join("peapod.db"))?;
        Ok(Self {
            root: root.to_path_buf(),
            db: Mutex::new(conn),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ROOT/blobs/sha256/<hex>`, whether or not the blob is there.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Whether the blob is in the store (complete: only renamed blobs are visible).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// `ROOT/layers/<chain-hex>`: the unpacked layer whose chain id is `chain_id`.
    pub fn layer_path(&self, chain_id: &Digest) -> PathBuf {
        self.root.join("layers").join(chain_id.hex())
    }

    /// Whether the layer with this chain id is unpacked (complete).
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.layer_path(chain_id).is_dir()
    }

    /// Takes a shared lease (blocking while a prune runs). Hold it from the first blob a
    /// pull writes until its image row is committed.
    pub fn lease(&self) -> Result<Lease> {
        self.lock(FlockArg::LockShared).map(Lease)
    }

    fn lock(&self, arg: FlockArg) -> Result<Flock<fs::File>> {
        let path = self.root.join("gc.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        Flock::lock(file, arg).map_err(|(_, errno)| StoreError::Io {
            action: "cannot lock",
            path,
            source: errno.into(),
        })
    }

    /// Flushes everything written to the store's filesystem to disk (`syncfs`), so that a
    /// database row committed next never names data a power loss would lose.
    pub fn sync(&self) -> Result<()> {
        let dir = fs::File::open(&self.root).map_err(io_err("cannot open", &self.root))?;
        nix::unistd::syncfs(dir.as_fd()).map_err(|e| StoreError::Io {
            action: "cannot syncfs",
            path: self.root.clone(),
            source: e.into(),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while holding the lock cannot leave the connection half-used in a way that
        // matters (every statement is its own transaction or a scoped one), so take it back.
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn db_error(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Db {
            path: self.root.join("peapod.db"),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
