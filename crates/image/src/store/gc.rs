//! Garbage collection: blobs and layers no image references, and leftovers in `tmp/`.

use std::fs;

use nix::fcntl::FlockArg;

use super::layers::remove_tree;
use super::{DiskUsage, PruneReport, Result, Store, io_err};

impl Store {
    /// Removes every blob and unpacked layer no image references, and everything in `tmp/`
    /// (what crashed writers left). Waits for leases ([`Store::lease`]) to be released first,
    /// so a pull in progress loses nothing.
    pub fn collect_garbage(&self) -> Result<PruneReport> {
        let _exclusive = self.lock(FlockArg::LockExclusive)?;
        let (blobs, chains) = self.referenced()?;
        let mut report = PruneReport::default();
        let blob_dir = self.root.join("blobs/sha256");
        for entry in fs::read_dir(&blob_dir).map_err(io_err("cannot list", &blob_dir))? {
            let entry = entry.map_err(io_err("cannot list", &blob_dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if blobs.contains(&name) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            fs::remove_file(entry.path()).map_err(io_err("cannot remove", &entry.path()))?;
            report.blobs += 1;
            report.bytes += size;
        }
        let layer_dir = self.root.join("layers");
        for entry in fs::read_dir(&layer_dir).map_err(io_err("cannot list", &layer_dir))? {
            let entry = entry.map_err(io_err("cannot list", &layer_dir))?;
            if chains.contains(&*entry.file_name().to_string_lossy()) {
                continue;
            }
            remove_tree(&entry.path())?;
            report.layers += 1;
        }
        let tmp = self.root.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(io_err("cannot list", &tmp))? {
            let entry = entry.map_err(io_err("cannot list", &tmp))?;
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&path)?;
            } else {
                fs::remove_file(&path).map_err(io_err("cannot remove", &path))?;
            }
        }
        Ok(report)
    }

    /// Sizes for `system df`: images, their distinct layers, all blobs.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let images = self.image_ids()?.len();
        let layers_size = self.layer_sizes()?.iter().map(|(_, s)| s).sum();
        let blob_dir = self.root.join("blobs/sha256");
        let mut blobs_size = 0;
        for entry in fs::read_dir(&blob_dir).map_err(io_err("cannot list", &blob_dir))? {
            let entry = entry.map_err(io_err("cannot list", &blob_dir))?;
            blobs_size += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
        Ok(DiskUsage {
            images,
            layers_size,
            blobs_size,
        })
    }
}
