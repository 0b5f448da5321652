//! [`Images`]: the image store as operators see it: names resolved as docker does, listing,
//! inspect in docker's shape, history, tag, remove, prune, and the archive verbs. The
//! `peapod` command line (and the engine) call this; it holds no output formatting.

use std::io::{Read, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::archive::{self, ArchiveFormat, LoadedImage};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::MAX_CONFIG_SIZE;
use crate::store::{DiskUsage, ImageRecord, PruneReport, Store, StoreError};

/// The image store of an engine root.
#[derive(Debug)]
pub struct Images {
    store: Store,
}

/// One row of `images`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// The image id (`sha256:…`).
    pub id: Digest,
    /// Full names that are tags (`docker.io/library/busybox:latest`), sorted.
    pub tags: Vec<String>,
    /// Full names that are digests (`docker.io/library/busybox@sha256:…`), sorted.
    pub digests: Vec<String>,
    /// The config's `created`, RFC 3339, if any.
    pub created: Option<String>,
    /// Unix seconds when it was stored here.
    pub added: i64,
    /// Bytes: the sum of its uncompressed layers.
    pub size: u64,
}

/// One line of `image history`, newest first as docker prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The layer's diff_id for an entry that made one; `None` for an empty layer.
    pub layer: Option<Digest>,
    /// RFC 3339.
    pub created: Option<String>,
    /// The instruction that made it.
    pub created_by: String,
    /// Bytes of that layer (0 for an empty one).
    pub size: u64,
    /// A comment, if any.
    pub comment: String,
}

/// What `rmi` did to one argument.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoveReport {
    /// Names removed.
    pub untagged: Vec<String>,
    /// Images deleted (with their no longer used blobs and layers).
    pub deleted: Vec<Digest>,
}

/// Why an image was not removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// An id given for an image with several names, without force.
    #[error(
        "image {id} is referenced by several names ({names}): remove them by name, or use --force"
    )]
    SeveralNames {
        /// The image.
        id: Digest,
        /// Its names.
        names: String,
    },
    /// A container uses it, without force.
    #[error("image {0} is in use by a container: remove the container first, or use --force")]
    InUse(Digest),
}

impl Images {
    /// Opens the store at `root` (created if missing).
    pub fn open(root: &Path) -> Result<Self> {
        Ok(Self {
            store: Store::open(root)?,
        })
    }

    /// The content store under it.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The image `name` means: a full or short name (`busybox` is
    /// `docker.io/library/busybox:latest`), `name@sha256:…`, or an id or unique id prefix
    /// (`sha256:…` or hex), as docker resolves them.
    ///
    /// Errors: [`StoreError::ImageUnknown`] naming `name`; [`StoreError::Ambiguous`].
    pub fn resolve(&self, name: &str) -> Result<ImageRecord> {
        let id = self.resolve_id(name)?;
        self.store
            .image(&id)?
            .ok_or_else(|| Error::Store(StoreError::ImageUnknown(name.to_owned())))
    }

    fn resolve_id(&self, name: &str) -> Result<Digest> {
        if let Some(id) = self.store.image_by_name(name)? {
            return Ok(id);
        }
        if let Ok(full) = crate::reference::normalize(name)
            && let Some(id) = self.store.image_by_name(&full)?
        {
            return Ok(id);
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 3
            && let Some(id) = self.store.image_by_id_prefix(name)?
        {
            return Ok(id);
        }
        Err(Error::Store(StoreError::ImageUnknown(name.to_owned())))
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let mut out = Vec::new();
        for id in self.store.image_ids()?.into_iter().rev() {
            let Some(record) = self.store.image(&id)? else {
                continue;
            };
            let (digests, tags) = self
                .store
                .names_of(&id)?
                .into_iter()
                .partition(|n| n.contains('@'));
            out.push(ImageSummary {
                size: record.size(),
                id,
                tags,
                digests,
                created: record.created,
                added: record.added,
            });
        }
        Ok(out)
    }

    /// The image's config, as stored (verified against its digest).
    pub fn config(&self, image: &ImageRecord) -> Result<Value> {
        let bytes = self.store.read_blob(&image.id, MAX_CONFIG_SIZE, "config")?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Encode {
            what: "image config",
            source,
        })
    }

    /// `image inspect` in docker's (and podman's) shape: `Id`, `RepoTags`, `RepoDigests`,
    /// `Created`, `Author`, `Config`, `Architecture`, `Variant`, `Os`, `Size`, `RootFS`,
    /// `History`, plus `Digest` and `ManifestType` as podman adds.
    pub fn inspect(&self, name: &str) -> Result<Value> {
        let image = self.resolve(name)?;
        let config = self.config(&image)?;
        let names = self.store.names_of(&image.id)?;
        let (digests, tags): (Vec<String>, Vec<String>) =
            names.into_iter().partition(|n| n.contains('@'));
        Ok(json!({
            "Id": image.id.to_string(),
            "Digest": image.manifest_digest.to_string(),
            "RepoTags": tags,
            "RepoDigests": digests,
            "Created": config.get("created").cloned().unwrap_or(Value::Null),
            "Author": config.get("author").cloned().unwrap_or(json!("")),
            "Config": config.get("config").cloned().unwrap_or(json!({})),
            "Architecture": image.architecture,
            "Variant": config.get("variant").cloned().unwrap_or(json!("")),
            "Os": image.os,
            "Size": image.size(),
            "RootFS": {
                "Type": "layers",
                "Layers": image.layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
            },
            "History": config.get("history").cloned().unwrap_or(json!([])),
            "ManifestType": image.manifest_media_type,
        }))
    }

    /// The image's history, newest first; an entry that made a layer carries its diff_id and
    /// size. Without a `history` in the config, one entry per layer.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        let image = self.resolve(name)?;
        let config = self.config(&image)?;
        let history = config
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut layers = image.layers.iter();
        let mut out = Vec::new();
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        for h in &history {
            let empty = h
                .get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let layer = if empty { None } else { layers.next() };
            out.push(HistoryEntry {
                layer: layer.map(|l| l.diff_id.clone()),
                created: h
                    .get("created")
                    .and_then(Value::as_str)
                    .map(ToOwned::to_owned),
                created_by: text(h, "created_by"),
                size: layer.map_or(0, |l| l.size),
                comment: text(h, "comment"),
            });
        }
        for layer in layers {
            out.push(HistoryEntry {
                layer: Some(layer.diff_id.clone()),
                created: None,
                created_by: String::new(),
                size: layer.size,
                comment: String::new(),
            });
        }
        out.reverse();
        Ok(out)
    }

    /// Points a new name (normalised: `app` is `docker.io/library/app:latest`) at the image
    /// `source` names. Returns the full new name.
    pub fn tag(&self, source: &str, target: &str) -> Result<String> {
        let image = self.resolve(source)?;
        let full = crate::reference::normalize(target)?;
        self.store.add_name(&image.id, &full)?;
        Ok(full)
    }

    /// `rmi`: by name, removes that name, and the image with it if it was its last name; by
    /// id, removes the image (refused if it has several names, unless `force`). An image a
    /// container uses (`in_use`) is refused unless `force`. Blobs and layers no other image
    /// uses are deleted.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: impl Fn(&Digest) -> bool,
    ) -> Result<RemoveReport> {
        let id = self.resolve_id(name)?;
        let names = self.store.names_of(&id)?;
        let by_name = names
            .iter()
            .find(|n| **n == name || crate::reference::normalize(name).is_ok_and(|f| f == **n))
            .cloned();
        let mut report = RemoveReport::default();
        if let Some(n) = &by_name
            && names.iter().filter(|m| !m.contains('@')).count() > 1
            && !n.contains('@')
        {
            self.store.remove_name(n)?;
            report.untagged.push(n.clone());
            return Ok(report);
        }
        let tags = names.iter().filter(|n| !n.contains('@')).count();
        if by_name.is_none() && tags > 1 && !force {
            return Err(Error::Remove(RemoveError::SeveralNames {
                id,
                names: names.join(", "),
            }));
        }
        if in_use(&id) && !force {
            return Err(Error::Remove(RemoveError::InUse(id)));
        }
        self.store.remove_image_record(&id)?;
        report.untagged = names;
        report.deleted.push(id);
        self.store.collect_garbage()?;
        Ok(report)
    }

    /// `image prune`: removes images without a tag (with `all`, every image no container
    /// uses), then every blob and layer nothing references.
    pub fn prune(&self, all: bool, in_use: impl Fn(&Digest) -> bool) -> Result<PruneReport> {
        let mut removed = Vec::new();
        for id in self.store.image_ids()? {
            let tagged = self.store.names_of(&id)?.iter().any(|n| !n.contains('@'));
            if (all || !tagged) && !in_use(&id) {
                self.store.remove_image_record(&id)?;
                removed.push(id);
            }
        }
        let mut report = self.store.collect_garbage()?;
        report.images = removed;
        Ok(report)
    }

    /// Sizes for `system df`.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        Ok(self.store.disk_usage()?)
    }

    /// `load`: see [`archive::load`].
    pub fn load(
        &self,
        path: &Path,
        input: impl Read + Send,
        seekable: Option<std::fs::File>,
    ) -> Result<Vec<LoadedImage>> {
        archive::load(&self.store, path, input, seekable, None)
    }

    /// `save`: the images `names` resolve to, with the names given (a name that is an id
    /// saves the image with all its names), as one archive.
    pub fn save(&self, names: &[&str], format: ArchiveFormat, out: impl Write) -> Result<()> {
        let mut images = Vec::new();
        for name in names {
            let image = self.resolve(name)?;
            let all = self.store.names_of(&image.id)?;
            let chosen: Vec<String> = all
                .iter()
                .filter(|n| {
                    **n == *name || crate::reference::normalize(name).is_ok_and(|f| f == **n)
                })
                .cloned()
                .collect();
            images.push((image, if chosen.is_empty() { all } else { chosen }));
        }
        archive::save(&self.store, &images, format, out)
    }

    /// `import`: see [`archive::import`].
    pub fn import(&self, tar: impl Read + Send, name: Option<&str>) -> Result<ImageRecord> {
        archive::import(&self.store, tar, name)
    }
}

/// Options of [`Images::pull`].
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// How to reach registries (TLS, credentials, plain-HTTP hosts).
    pub registry: crate::registry::RegistryOptions,
    /// The platform to pick from a multi-platform image.
    pub platform: crate::manifest::Platform,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            registry: crate::registry::RegistryOptions::default(),
            platform: crate::manifest::Platform::host(),
        }
    }
}

/// What [`Images::pull`] did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image id.
    pub id: Digest,
    /// The names recorded for it.
    pub names: Vec<String>,
    /// Layers fetched (the others were present).
    pub fetched: usize,
}

impl Images {
    /// `pull`: `source` is a reference (`busybox`, `127.0.0.1:5000/app:1`,
    /// `name@sha256:…`), or a transport: `oci:DIR[:tag]`, `oci-archive:FILE`,
    /// `docker-archive:FILE` (as podman takes them). A registry image is recorded under its
    /// full name and `repository@digest`.
    pub fn pull(
        &self,
        source: &str,
        options: &PullOptions,
        progress: &dyn crate::pull::Progress,
    ) -> Result<Pulled> {
        let loaded = |l: Vec<LoadedImage>| -> Result<Pulled> {
            let first = l.into_iter().next().ok_or_else(|| Error::Archive {
                path: source.into(),
                reason: "no image in it".into(),
            })?;
            Ok(Pulled {
                id: first.id,
                names: first.names,
                fetched: 0,
            })
        };
        if let Some(rest) = source.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((d, t)) if !t.contains('/') => (d, Some(t)),
                _ => (rest, None),
            };
            let mut result = archive::load_oci_dir(&self.store, Path::new(dir), tag, None)?;
            // A layout entry without a full name is named after its directory, as podman
            // names what it pulls from a layout: `localhost/DIR:TAG`.
            if let Some(first) = result.first_mut()
                && first.names.is_empty()
                && let Some(base) = Path::new(dir).file_name().and_then(|b| b.to_str())
                && let Ok(name) = crate::reference::normalize(&format!(
                    "localhost/{base}:{}",
                    tag.unwrap_or("latest")
                ))
            {
                self.store.add_name(&first.id, &name)?;
                first.names.push(name);
            }
            return loaded(result);
        }
        for prefix in ["oci-archive:", "docker-archive:"] {
            if let Some(file) = source.strip_prefix(prefix) {
                return loaded(archive::load_file(&self.store, Path::new(file), None)?);
            }
        }
        let reference = crate::reference::Reference::parse(source)?;
        let client = crate::registry::RegistryClient::new(options.registry.clone());
        let remote = crate::registry_source::RegistrySource::new(&client, reference.clone());
        let mut names = Vec::new();
        if reference.tag().is_some() && reference.digest().is_none() {
            names.push(reference.to_string());
        }
        let report = crate::pull::pull(
            &self.store,
            &remote,
            &reference.object(),
            &options.platform,
            &names,
            Some(&reference.name()),
            progress,
        )?;
        let mut all = names;
        all.push(format!("{}@{}", reference.name(), report.digest));
        Ok(Pulled {
            id: report.image.id,
            names: all,
            fetched: report.fetched,
        })
    }
}

impl Images {
    /// Unpacks the image `name` names, layer after layer, into `dest` as one flat tree (OCI
    /// whiteouts applied, as `umoci unpack` makes it): for a project that wants a root
    /// filesystem and no overlay. `dest` is created if missing; as root, owners and device
    /// nodes are kept, otherwise they are left out ([`UnpackOptions::rootless`]).
    ///
    /// [`UnpackOptions::rootless`]: crate::unpack::UnpackOptions::rootless
    pub fn unpack_into(&self, name: &str, dest: &Path) -> Result<ImageRecord> {
        use crate::unpack::{Compression, UnpackMode, UnpackOptions, decompress, unpack};
        let image = self.resolve(name)?;
        std::fs::create_dir_all(dest).map_err(crate::error::io_err("cannot create", dest))?;
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        });
        let base = if root {
            UnpackOptions::default()
        } else {
            UnpackOptions::rootless()
        };
        let opts = UnpackOptions {
            mode: UnpackMode::Apply,
            ..base
        };
        for layer in &image.layers {
            let compression = Compression::from_media_type(&layer.media_type).ok_or_else(|| {
                Error::LayerMediaType {
                    layer: layer.blob_digest.clone(),
                    media_type: layer.media_type.clone(),
                }
            })?;
            let blob = self.store.open_blob(&layer.blob_digest)?;
            let stream = decompress(blob, compression).map_err(|source| Error::LayerRead {
                layer: layer.blob_digest.clone(),
                source,
            })?;
            let report = unpack(stream, dest, &opts).map_err(|source| Error::LayerUnpack {
                layer: layer.blob_digest.clone(),
                source,
            })?;
            if report.diff_id != layer.diff_id {
                return Err(Error::DiffIdMismatch {
                    layer: layer.blob_digest.clone(),
                    expected: layer.diff_id.clone(),
                    actual: report.diff_id,
                });
            }
        }
        Ok(image)
    }
}
