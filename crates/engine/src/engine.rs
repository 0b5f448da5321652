//! [`Engine`]: the engine opened on a root (images, containers, volumes, the database) and
//! a runroot (runtime state, monitor sockets).

use std::path::{Path, PathBuf};

use crate::container::{ContainerPaths, Containers};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::volume::Volumes;

/// Where an [`Engine`] keeps its state.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Images, containers, volumes and `peapod.db` (`--root`, default `/var/lib/peapod`).
    pub root: PathBuf,
    /// Runtime state: gone after a reboot (`--runroot`, default `/run/peapod`).
    pub runroot: PathBuf,
    /// The program that runs a container's monitor: a binary whose `main` calls
    /// [`crate::monitor::dispatch`] first (the `peapod` CLI does). Default: the running
    /// program (`/proc/self/exe`).
    pub monitor_program: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            root: "/var/lib/peapod".into(),
            runroot: "/run/peapod".into(),
            monitor_program: None,
        }
    }
}

/// The engine: open one per command (it holds a database connection, nothing else).
pub struct Engine {
    pub(crate) root: PathBuf,
    pub(crate) runroot: PathBuf,
    pub(crate) db: Db,
    pub(crate) images: peapod_image::Images,
    pub(crate) monitor_program: PathBuf,
    /// The configuration to keep the default network in line with, if one was given.
    pub(crate) config: Option<crate::config::EngineConfig>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("root", &self.root)
            .field("runroot", &self.runroot)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the engine: creates the root and runroot if missing and migrates the database.
    ///
    /// # Errors
    /// [`Error::Io`] when a directory cannot be made, [`Error::Db`]/[`Error::Image`] when
    /// the database cannot be opened.
    pub fn open(options: &EngineOptions) -> Result<Self> {
        for dir in [&options.root, &options.runroot] {
            std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        }
        let images = peapod_image::Images::open(&options.root)?;
        let db = Db::open(&options.root)?;
        let monitor_program = match &options.monitor_program {
            Some(p) => p.clone(),
            None => std::fs::read_link("/proc/self/exe")
                .map_err(Error::io("resolve", Path::new("/proc/self/exe")))?,
        };
        Ok(Self {
            root: options.root.clone(),
            runroot: options.runroot.clone(),
            db,
            images,
            monitor_program,
            config: None,
        })
    }

    /// Keeps the default network in line with `config` (see [`crate::config`]): an engine
    /// opened without one takes the default network as the database has it.
    #[must_use]
    pub fn with_config(mut self, config: crate::config::EngineConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// The network mode of a container or pod made without `--network`: the configuration's
    /// `containers.netns` (see [`crate::config`]), or the built-in default, `bridge` (the
    /// default network [`crate::network::DEFAULT_NETWORK`]), for an engine opened without one.
    pub fn default_network_mode(&self) -> crate::container::NetworkMode {
        self.config
            .as_ref()
            .map(|c| c.containers.netns.clone())
            .unwrap_or_else(|| crate::config::ContainersConfig::default().netns)
    }

    /// The image store (pull, load, list… as `peapod-image` offers them).
    pub fn images(&self) -> &peapod_image::Images {
        &self.images
    }

    /// The container verbs.
    pub fn containers(&self) -> Containers<'_> {
        Containers { engine: self }
    }

    /// The network verbs.
    pub fn networks(&self) -> crate::network::Networks<'_> {
        crate::network::Networks { engine: self }
    }

    /// The pod verbs.
    pub fn pods(&self) -> crate::pod::Pods<'_> {
        crate::pod::Pods { engine: self }
    }

    /// The volume verbs.
    pub fn volumes(&self) -> Volumes<'_> {
        Volumes { engine: self }
    }

    /// `--root`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `--runroot`.
    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    pub(crate) fn paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths {
            dir: self.root.join("containers").join(id),
            run: self.runroot.join("containers").join(id),
        }
    }

    /// The built-in runtime's state directory (runc's layout).
    pub(crate) fn runtime_root(&self) -> PathBuf {
        self.runroot.join("runtime")
    }

    /// Whether any container uses this image (for `rmi`/`image prune`).
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn image_in_use(&self, image_id: &str) -> Result<bool> {
        self.db.image_in_use(image_id)
    }
}
