//! The layer cache: `ROOT/build-cache/<key-hex>.json`, the image state after a step whose
//! cache key is `key` (a digest of the parent step's key, the instruction as it expands,
//! the build args a RUN sees and, for COPY/ADD, the digest of the files it copies).
//!
//! An entry is written to a temp file and renamed, so it is whole or absent. It is a weak
//! reference: the layers it names are the store's, and an entry whose layers were removed
//! since (`rmi`, `image prune`) is a miss, not an error.

use std::path::{Path, PathBuf};

use peapod_image::Digest;
use peapod_image::store::Store;

use super::{BuildError, ImageState};

/// The largest entry read back (an image state is a config and a list of layers).
const MAX_ENTRY: u64 = 16 << 20;

/// The cache directory of an engine root.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache under `root` (`ROOT/build-cache`); nothing is touched.
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join("build-cache"),
        }
    }

    /// The state after the step with `key`, if it is cached and every layer it names is
    /// still in `store`.
    pub fn get(&self, key: &Digest, store: &Store) -> Option<ImageState> {
        use std::io::Read;
        let path = self.dir.join(format!("{}.json", key.hex()));
        let mut text = Vec::new();
        std::fs::File::open(&path)
            .ok()?
            .take(MAX_ENTRY)
            .read_to_end(&mut text)
            .ok()?;
        let state: ImageState = serde_json::from_slice(&text).ok()?;
        let layers = state.image_layers();
        (layers.len() == state.layers.len()
            && layers
                .iter()
                .all(|l| store.has_layer(&l.chain_id) && store.has_blob(&l.blob_digest)))
        .then_some(state)
    }

    /// Records the state after the step with `key`.
    ///
    /// # Errors
    /// [`BuildError::Io`] when the entry cannot be written.
    pub fn put(&self, key: &Digest, state: &ImageState) -> Result<(), BuildError> {
        std::fs::create_dir_all(&self.dir).map_err(BuildError::io("create", &self.dir))?;
        let text = serde_json::to_vec(state).map_err(crate::Error::json("a build cache entry"))?;
        let path = self.dir.join(format!("{}.json", key.hex()));
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(BuildError::io("create a temp file in", &self.dir))?;
        std::io::Write::write_all(&mut tmp, &text).map_err(BuildError::io("write", tmp.path()))?;
        tmp.persist(&path)
            .map_err(|e| BuildError::io("rename into place", &path)(e.error))?;
        Ok(())
    }
}
