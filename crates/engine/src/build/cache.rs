//! The layer cache: `ROOT/build-cache/<key-hex>.json`, the image state after a step whose
//! cache key is `key` (a digest of the parent step's key, the instruction as it expands,
//! the build args a RUN sees and, for COPY/ADD, the digest of the files it copies).
//!
//! An entry is written to a temp file and renamed, so it is whole or absent. It is a weak
//! reference: the layers it names are the store's, and an entry whose layers were removed
//! since (`rmi`, `image prune`) is a miss, not an error.
//!
//! **Pruning** (`builder prune`, docker's verb; podman 5 has none: its `image prune
//! --build-cache` is about `RUN --mount=type=cache`): [`Cache::prune`] removes the entries no
//! tagged image reaches (an entry is reached when its layers are the bottom of a tagged
//! image's) and the dangling ones (a layer gone), or with `all` every entry, then the
//! store's blobs and layers nothing references any more ([`Store::collect_garbage`], which
//! waits for builds in progress: they hold a store lease).

use std::path::{Path, PathBuf};

use peapod_image::Digest;
use peapod_image::store::{ImageLayer, Store};

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

/// What [`Cache::prune`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CachePruneReport {
    /// The cache keys (hex digits) of the entries removed.
    pub entries: Vec<String>,
    /// Blobs removed from the store with them.
    pub blobs: usize,
    /// Unpacked layers removed.
    pub layers: usize,
    /// Bytes freed: the blobs' and the entries' own files.
    pub bytes: u64,
}

/// The cache's size, as `system df` shows its "Build Cache" row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// Entries.
    pub entries: usize,
    /// Entries a tagged image reaches (a plain prune keeps them).
    pub active: usize,
    /// Bytes: the entries' files, and the blobs and unpacked layers (their tar sizes) of the
    /// layers they name, each once.
    pub size: u64,
    /// Bytes of that which `builder prune -a` frees: the entries' files and the layers no
    /// image uses.
    pub reclaimable: u64,
}

/// One entry as read back: its key, file, size, and its layers (`None` when it does not
/// parse or names a layer gone from the store).
struct Entry {
    key: String,
    path: PathBuf,
    bytes: u64,
    layers: Option<Vec<ImageLayer>>,
}

/// The layer chains (chain ids, bottom first) of the store's images: (tagged, all).
type Chains = (Vec<Vec<Digest>>, Vec<Vec<Digest>>);

fn image_chains(store: &Store) -> Result<Chains, BuildError> {
    let (mut tagged, mut all) = (Vec::new(), Vec::new());
    for id in store.image_ids().map_err(peapod_image::Error::from)? {
        let Some(image) = store.image(&id).map_err(peapod_image::Error::from)? else {
            continue;
        };
        let chain: Vec<Digest> = image.layers.iter().map(|l| l.chain_id.clone()).collect();
        let names = store.names_of(&id).map_err(peapod_image::Error::from)?;
        if names.iter().any(|n| !n.contains('@')) {
            tagged.push(chain.clone());
        }
        all.push(chain);
    }
    Ok((tagged, all))
}

/// Whether `layers` are the bottom of one of `chains`.
fn reached(layers: &[ImageLayer], chains: &[Vec<Digest>]) -> bool {
    chains
        .iter()
        .any(|c| c.len() >= layers.len() && layers.iter().zip(c).all(|(l, id)| l.chain_id == *id))
}

impl Cache {
    /// Every entry, read back (an unreadable directory is an empty cache).
    fn entries(&self, store: &Store) -> Vec<Entry> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(key) = name.strip_suffix(".json") else {
                continue;
            };
            let layers = format!("sha256:{key}")
                .parse::<Digest>()
                .ok()
                .and_then(|k| self.get(&k, store))
                .map(|state| state.image_layers());
            out.push(Entry {
                key: key.to_owned(),
                path: e.path(),
                bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
                layers,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// `builder prune [-a]`: removes the entries no tagged image reaches and the dangling
    /// ones (every entry with `all`), then the blobs and layers nothing references.
    ///
    /// # Errors
    /// [`BuildError::Io`] when an entry cannot be removed; store errors (its database, a
    /// blob or layer that cannot be removed). Entries removed before the error stay removed.
    pub fn prune(&self, store: &Store, all: bool) -> Result<CachePruneReport, BuildError> {
        let (tagged, _) = image_chains(store)?;
        let mut report = CachePruneReport::default();
        for e in self.entries(store) {
            let keep = !all && e.layers.as_deref().is_some_and(|l| reached(l, &tagged));
            if keep {
                continue;
            }
            match std::fs::remove_file(&e.path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(BuildError::io("remove", &e.path)(err)),
            }
            report.bytes += e.bytes;
            report.entries.push(e.key);
        }
        let freed = store.collect_garbage().map_err(peapod_image::Error::from)?;
        report.blobs = freed.blobs;
        report.layers = freed.layers;
        report.bytes += freed.bytes;
        Ok(report)
    }

    /// The cache's size (see [`CacheUsage`]).
    ///
    /// # Errors
    /// The store's database cannot be read.
    pub fn usage(&self, store: &Store) -> Result<CacheUsage, BuildError> {
        let (tagged, all) = image_chains(store)?;
        let used: std::collections::HashSet<&Digest> = all.iter().flatten().collect();
        let mut seen = std::collections::HashSet::new();
        let mut usage = CacheUsage::default();
        for e in self.entries(store) {
            usage.entries += 1;
            usage.size += e.bytes;
            usage.reclaimable += e.bytes;
            if e.layers.as_deref().is_some_and(|l| reached(l, &tagged)) {
                usage.active += 1;
            }
            let layers = e.layers.unwrap_or_default();
            for l in layers {
                if seen.insert(l.chain_id.clone()) {
                    usage.size += l.blob_size + l.size;
                    if !used.contains(&l.chain_id) {
                        usage.reclaimable += l.blob_size + l.size;
                    }
                }
            }
        }
        Ok(usage)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn layer(n: u8) -> ImageLayer {
        let d = Digest::of(&[n]);
        ImageLayer {
            blob_digest: d.clone(),
            media_type: String::new(),
            blob_size: 1,
            diff_id: d.clone(),
            chain_id: d,
            size: 1,
        }
    }

    #[test]
    fn an_entry_is_reached_when_its_layers_are_the_bottom_of_an_image() {
        let chains = vec![vec![
            layer(1).chain_id,
            layer(2).chain_id,
            layer(3).chain_id,
        ]];
        assert!(reached(&[], &chains));
        assert!(reached(&[layer(1), layer(2)], &chains));
        assert!(reached(&[layer(1), layer(2), layer(3)], &chains));
        assert!(!reached(&[layer(2)], &chains), "not at the bottom");
        assert!(!reached(&[layer(1), layer(3)], &chains));
        assert!(!reached(&[layer(1), layer(2), layer(3), layer(4)], &chains));
        assert!(!reached(&[layer(1)], &[]), "no tagged image");
    }
}
