//! Unpacked layers: a staging directory under `tmp/`, renamed to `layers/<chain-hex>` when
//! complete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Result, Store, StoreError, io_err};
use crate::digest::Digest;

/// A directory a layer is being unpacked into. [`LayerStaging::commit`] renames it to the
/// layer's chain id; dropped without commit, it is removed.
#[derive(Debug)]
pub struct LayerStaging {
    dir: Option<tempfile::TempDir>,
    layers: PathBuf,
}

impl Store {
    /// A fresh, empty staging directory for one layer (mode 0755; the layer's own root
    /// entry, if any, sets it).
    pub fn layer_staging(&self) -> Result<LayerStaging> {
        let tmp = self.root.join("tmp");
        let dir = tempfile::Builder::new()
            .prefix("layer-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .tempdir_in(&tmp)
            .map_err(io_err("cannot create a staging directory in", &tmp))?;
        Ok(LayerStaging {
            dir: Some(dir),
            layers: self.root.join("layers"),
        })
    }
}

impl LayerStaging {
    /// Where to unpack.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// Moves the staged tree to `layers/<chain-hex>`. If that layer exists already (another
    /// process unpacked it meanwhile), the staged copy is removed and the existing one kept.
    pub fn commit(mut self, chain_id: &Digest) -> Result<PathBuf> {
        let target = self.layers.join(chain_id.hex());
        let Some(dir) = self.dir.take() else {
            return Ok(target);
        };
        let staged = dir.keep();
        match fs::rename(&staged, &target) {
            Ok(()) => Ok(target),
            Err(e)
                if target.is_dir()
                    && matches!(
                        e.raw_os_error(),
                        Some(nix::libc::ENOTEMPTY | nix::libc::EEXIST)
                    ) =>
            {
                remove_tree(&staged)?;
                Ok(target)
            }
            Err(e) => {
                let _ = remove_tree(&staged);
                Err(StoreError::Io {
                    action: "cannot rename a layer to",
                    path: target,
                    source: e,
                })
            }
        }
    }
}

/// Removes a tree that may hold read-only directories (a layer can make its own directories
/// 0555): permissions are widened on the way down.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(path);
            fs::remove_dir_all(path).map_err(io_err("cannot remove", path))
        }
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            make_writable(&entry.path());
        }
    }
}
