//! A container's root filesystem: the overlay of its image's unpacked layers (read-only,
//! shared with every container of the image) and its own upper directory, under
//! `ROOT/containers/<id>/`:
//!
//! ```text
//! upper/   the container's changes (what `diff`/`commit` would read)
//! work/    overlayfs's work directory (same filesystem as upper)
//! merged/  the mount point: the rootfs the runtime is given
//! ```

use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::MntFlags;

/// What can go wrong with a container's root filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A directory could not be made or removed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The overlay could not be mounted (or a file in it opened).
    #[error(transparent)]
    Mount(#[from] peapod_rootfs::Error),
    /// Unmounting failed.
    #[error("cannot unmount {}: {source}", path.display())]
    Unmount {
        /// The mount point.
        path: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// An image with no layers cannot be a root filesystem.
    #[error("the image has no layers: nothing to make a root filesystem from")]
    NoLayers,
}

/// The directories of one container's root filesystem.
#[derive(Clone, Debug)]
pub struct ContainerRootfs {
    dir: PathBuf,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RootfsError {
    let path = path.to_path_buf();
    move |source| RootfsError::Io {
        action,
        path,
        source,
    }
}

impl ContainerRootfs {
    /// The root filesystem kept in `dir` (`ROOT/containers/<id>`); nothing is touched.
    pub fn at(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// Makes `upper/`, `work/` and `merged/` (0700 parent, so that no other user walks into
    /// a container's files).
    pub fn create(&self) -> Result<(), RootfsError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io("cannot create", &self.dir))?;
        for sub in ["upper", "work", "merged"] {
            let path = self.dir.join(sub);
            match fs::DirBuilder::new().mode(0o755).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io("cannot create", &path)(e)),
            }
        }
        Ok(())
    }

    /// The mount point the runtime gets as `root.path`.
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// The container's own changes.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// Mounts the overlay of `layers` (bottom first, as an image lists them) under the
    /// upper directory at `merged/`. Returns the mount point.
    pub fn mount(&self, layers: &[PathBuf]) -> Result<PathBuf, RootfsError> {
        if layers.is_empty() {
            return Err(RootfsError::NoLayers);
        }
        let lower: Vec<&Path> = layers.iter().rev().map(PathBuf::as_path).collect();
        let merged = self.merged();
        peapod_rootfs::mount_overlay(&lower, &self.upper(), &self.dir.join("work"), &merged)?;
        Ok(merged)
    }

    /// Unmounts `merged/` (lazily, so a process still inside does not keep it busy); not
    /// mounted is not an error.
    pub fn unmount(&self) -> Result<(), RootfsError> {
        let merged = self.merged();
        match nix::mount::umount2(&merged, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => Ok(()),
            Err(source) => Err(RootfsError::Unmount {
                path: merged,
                source,
            }),
        }
    }

    /// Unmounts and removes every directory.
    pub fn remove(&self) -> Result<(), RootfsError> {
        self.unmount()?;
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot remove", &self.dir)(e)),
        }
    }

    /// Reads a small file of the mounted root filesystem (at most `limit` bytes), resolving
    /// `path` inside it (its symlinks cannot lead out); `None` if it does not exist.
    pub fn read_file(&self, path: &str, limit: u64) -> Result<Option<String>, RootfsError> {
        let merged = self.merged();
        let root = fs::File::open(&merged).map_err(io("cannot open", &merged))?;
        let fd = match peapod_rootfs::open_in_root(root.as_fd(), Path::new(path), OFlag::O_RDONLY) {
            Ok(fd) => fd,
            Err(peapod_rootfs::Error::Resolve { source, .. })
                if source.errno() == nix::errno::Errno::ENOENT =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let mut text = String::new();
        fs::File::from(fd)
            .take(limit)
            .read_to_string(&mut text)
            .map_err(io(
                "cannot read",
                &merged.join(path.trim_start_matches('/')),
            ))?;
        Ok(Some(text))
    }
}
