//! The verbs that look into a container or its files without changing its life: `stats`,
//! `top`, `cp` (both ways, files or tar streams), `container prune`, and the disk use that
//! `system df` shows.
//!
//! - `stats` opens the container's cgroup (`{cgroup_parent}/{id}`, as `create` wrote it in
//!   `cgroupsPath`) with [`crate::stats::Sampler`] and samples it twice, `interval` apart,
//!   as docker's CPU % needs a delta. A container that is not running shows zeros, as
//!   `docker stats` shows a stopped one.
//! - `top` lists the processes of the container's cgroup (whatever runtime started it) with
//!   [`crate::top::top`], user names read from its mounted root filesystem.
//! - `cp` uses [`crate::cp`] on the container's root filesystem (`ROOT/containers/<id>/merged`):
//!   the one the running container sees, or, for a container that is not running, the
//!   same overlay mounted for the copy and unmounted after it (docker copies to and from
//!   stopped containers too). `-a` gives the copies the container user's uid and gid,
//!   resolved in the container's own `/etc/passwd` and `/etc/group`
//!   ([`crate::spec::resolve_user`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ContainerRecord, Containers, DEFAULT_CGROUP_PARENT, State};
use crate::cp::{CopyInOptions, CpError};
use crate::error::Error;
use crate::rootfs::ContainerRootfs;
use crate::stats::{Sampler, StatsError, StatsReport};
use crate::top::{TopError, TopReport};

/// Why an observing verb failed. Each variant names the container.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The engine failed (no such container, a state that does not allow the verb, the
    /// database, mounting its root filesystem…).
    #[error(transparent)]
    Engine(#[from] Error),
    /// The container's figures could not be read.
    #[error("container {name}: {error}")]
    Stats {
        /// The container's name.
        name: String,
        /// The cause (shown in the message, so not a `source()`: printed once).
        error: StatsError,
    },
    /// The container's processes could not be listed (or a descriptor is unknown).
    #[error("container {name}: {error}")]
    Top {
        /// The container's name.
        name: String,
        /// The cause (shown in the message).
        error: TopError,
    },
    /// The container's cgroup could not be read.
    #[error("container {name}: cannot list the processes of its cgroup {path}: {error}")]
    Cgroup {
        /// The container's name.
        name: String,
        /// The cgroup (OCI `cgroupsPath`).
        path: String,
        /// The cause (boxed: it is large; shown in the message).
        error: Box<peapod_cgroup::Error>,
    },
    /// A copy failed; [`CpError::NotFound`] carries the missing path (in the container for
    /// a container path).
    #[error("container {name}: {error}")]
    Copy {
        /// The container's name.
        name: String,
        /// The cause (shown in the message).
        error: CpError,
    },
}

impl ObserveError {
    /// The copy's error, if this is one (the CLI prints docker's message for
    /// [`CpError::NotFound`]).
    pub fn as_copy(&self) -> Option<&CpError> {
        match self {
            ObserveError::Copy { error, .. } => Some(error),
            _ => None,
        }
    }
}

type Result<T, E = ObserveError> = std::result::Result<T, E>;

/// Space a container takes on disk, as `system df -v` and `ps -s` count it.
#[derive(Clone, Debug)]
pub struct ContainerUsage {
    /// The container.
    pub record: ContainerRecord,
    /// Bytes of its writable layer (`ROOT/containers/<id>/upper`): what removing it frees.
    pub size: u64,
}

/// Bytes of every regular file under `path` (by their length, not their blocks; hard
/// links counted once per name, symlinks not followed). A missing path is 0; unreadable
/// entries are skipped: this is a report, not an audit.
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    let mut total = 0u64;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ty) = entry.file_type() else { continue };
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() {
                total = total.saturating_add(entry.metadata().map_or(0, |m| m.len()));
            }
        }
    }
    total
}

/// Whether `merged` is a mount point (its device differs from its parent's).
fn is_mount_point(merged: &Path, parent: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(merged), std::fs::metadata(parent)) {
        (Ok(m), Ok(p)) => m.dev() != p.dev(),
        _ => false,
    }
}

/// A report of zeros (a container that does not run), as docker shows a stopped one.
fn zero_report(record: &ContainerRecord) -> StatsReport {
    StatsReport {
        id: record.id.clone(),
        name: record.name.clone(),
        cpu_percent: 0.0,
        memory_usage: 0,
        memory_limit: 0,
        memory_percent: 0.0,
        net_rx_bytes: 0,
        net_tx_bytes: 0,
        block_read_bytes: 0,
        block_write_bytes: 0,
        pids: 0,
    }
}

/// The container's cgroup path (its OCI `cgroupsPath`).
fn cgroups_path(record: &ContainerRecord) -> String {
    let parent = record
        .config
        .cgroup_parent
        .as_deref()
        .unwrap_or(DEFAULT_CGROUP_PARENT);
    format!("{}/{}", parent.trim_end_matches('/'), record.id)
}

fn runs(record: &ContainerRecord) -> bool {
    matches!(record.state, State::Running | State::Paused) && record.pid > 0
}

impl Containers<'_> {
    /// `stats`: each container's figures (docker's columns) over `interval` (docker's CPU %
    /// is a delta: one second in `docker stats`). Containers that do not run, or stop
    /// meanwhile, show zeros. The result follows the order of `keys`.
    ///
    /// # Errors
    /// [`ObserveError::Engine`] ([`Error::NoSuchContainer`]…) for a key; [`ObserveError::Stats`]
    /// when a running container's cgroup or `/proc` files cannot be read.
    pub fn stats<S: AsRef<str>>(&self, keys: &[S], interval: Duration) -> Result<Vec<StatsReport>> {
        let records = keys
            .iter()
            .map(|k| self.get(k.as_ref()))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut firsts = Vec::with_capacity(records.len());
        for record in &records {
            firsts.push(if runs(record) {
                self.sample_first(record)?
            } else {
                None
            });
        }
        std::thread::sleep(interval);
        let mut reports = Vec::with_capacity(records.len());
        for (record, first) in records.iter().zip(firsts) {
            let report = match first {
                None => zero_report(record),
                Some((sampler, prev)) => match sampler.sample() {
                    Ok(cur) => StatsReport::new(&record.id, &record.name, &prev, &cur),
                    Err(e) => self.stats_failed(record, e)?,
                },
            };
            reports.push(report);
        }
        Ok(reports)
    }

    /// Opens the sampler of a running container and takes its first sample; `None` if it
    /// stopped meanwhile.
    fn sample_first(
        &self,
        record: &ContainerRecord,
    ) -> Result<Option<(Sampler, crate::stats::Sample)>> {
        let opened = Sampler::open(&cgroups_path(record), Some(record.pid)).and_then(|s| {
            let first = s.sample()?;
            Ok((s, first))
        });
        match opened {
            Ok(pair) => Ok(Some(pair)),
            Err(e) => self.stats_failed(record, e).map(|_| None),
        }
    }

    /// A sampling error is a zero report if the container has stopped meanwhile.
    fn stats_failed(&self, record: &ContainerRecord, e: StatsError) -> Result<StatsReport> {
        match self.get(&record.id) {
            Ok(now) if runs(&now) => Err(ObserveError::Stats {
                name: record.name.clone(),
                error: e,
            }),
            _ => Ok(zero_report(record)),
        }
    }

    /// `top`: the container's processes with ps(1)'s `descriptors` (empty: podman's
    /// default columns, [`crate::top::DEFAULT_DESCRIPTORS`]).
    ///
    /// # Errors
    /// [`Error::WrongState`] unless it runs (or is paused); [`ObserveError::Top`] for an
    /// unknown descriptor (naming the valid ones) or unreadable `/proc` files;
    /// [`ObserveError::Cgroup`] if its cgroup cannot be read.
    pub fn top<S: AsRef<str>>(&self, key: &str, descriptors: &[S]) -> Result<TopReport> {
        let record = self.get(key)?;
        // A bad descriptor is reported whatever the state (podman checks it first too).
        crate::top::top::<S>(&[], descriptors, None).map_err(|error| ObserveError::Top {
            name: record.name.clone(),
            error,
        })?;
        if !runs(&record) {
            return Err(Error::WrongState {
                name: record.name,
                state: record.state.to_string(),
                action: "list its processes",
            }
            .into());
        }
        let path = cgroups_path(&record);
        let pids = peapod_cgroup::Cgroup::open(&path)
            .and_then(|c| c.pids())
            .map_err(|error| ObserveError::Cgroup {
                name: record.name.clone(),
                path,
                error: Box::new(error),
            })?;
        let root = ContainerRootfs::at(&self.engine.paths(&record.id).dir).merged();
        crate::top::top(&pids, descriptors, Some(&root)).map_err(|error| ObserveError::Top {
            name: record.name,
            error,
        })
    }

    /// `cp CONTAINER:SRC HOST_DEST` ([`crate::cp::copy_from_container`]; `follow` is `-L`).
    ///
    /// # Errors
    /// [`Error::NoSuchContainer`]; [`ObserveError::Copy`] (e.g. [`CpError::NotFound`]);
    /// mount errors for a container that does not run.
    pub fn copy_from(&self, key: &str, src: &str, follow: bool, host_dest: &Path) -> Result<()> {
        self.with_rootfs(key, false, |_, root| {
            crate::cp::copy_from_container(root, src, follow, host_dest)
        })
    }

    /// `cp CONTAINER:SRC -`: `src` as a tar stream to `out` ([`crate::cp::copy_out`]).
    ///
    /// # Errors
    /// As [`Containers::copy_from`].
    pub fn copy_out(&self, key: &str, src: &str, follow: bool, out: impl Write) -> Result<()> {
        self.with_rootfs(key, false, |_, root| {
            crate::cp::copy_out(root, src, follow, out)
        })
    }

    /// `cp [-a] HOST_SRC CONTAINER:DEST` ([`crate::cp::copy_to_container`]); with
    /// `archive`, the copies belong to the container's user.
    ///
    /// # Errors
    /// As [`Containers::copy_from`], plus [`Error::User`] when `-a` cannot resolve the user.
    pub fn copy_to(
        &self,
        key: &str,
        host_src: &Path,
        follow: bool,
        dest: &str,
        archive: bool,
    ) -> Result<()> {
        self.with_rootfs(key, archive, |owner, root| {
            let opts = CopyInOptions { owner };
            crate::cp::copy_to_container(host_src, follow, root, dest, &opts)
        })
    }

    /// `cp [-a] - CONTAINER:DEST`: extracts the tar stream `tar` into the directory `dest`
    /// ([`crate::cp::copy_in`]).
    ///
    /// # Errors
    /// As [`Containers::copy_to`].
    pub fn copy_in(
        &self,
        key: &str,
        tar: impl Read + Send,
        dest: &str,
        archive: bool,
    ) -> Result<()> {
        self.with_rootfs(key, archive, |owner, root| {
            let opts = CopyInOptions { owner };
            crate::cp::copy_in(root, dest, tar, &opts)
        })
    }

    /// Runs `copy` on the container's mounted root filesystem (mounting it for the copy
    /// when the container does not run), with the container user's `(uid, gid)` when
    /// `owner` (`-a`) asks for it.
    fn with_rootfs(
        &self,
        key: &str,
        owner: bool,
        copy: impl FnOnce(Option<(u32, u32)>, &Path) -> Result<(), CpError>,
    ) -> Result<()> {
        let record = self.get(key)?;
        let dir = self.engine.paths(&record.id).dir;
        let rootfs = ContainerRootfs::at(&dir);
        let merged = rootfs.merged();
        let mounted_here = !is_mount_point(&merged, &dir);
        if mounted_here {
            rootfs.mount(&self.layers(&record)?).map_err(Error::from)?;
        }
        let ids = if owner {
            self.user_ids(&record, &rootfs).map(Some)
        } else {
            Ok(None)
        };
        let result = ids.and_then(|ids| {
            copy(ids, &merged).map_err(|error| ObserveError::Copy {
                name: record.name.clone(),
                error,
            })
        });
        // A container started meanwhile runs on this mount: its monitor unmounts it at exit.
        let started = || self.get(&record.id).is_ok_and(|r| r.state.is_live());
        if mounted_here && !started() {
            let unmounted = rootfs.unmount().map_err(Error::from);
            result?;
            unmounted?;
            return Ok(());
        }
        result
    }

    /// The unpacked layers of the container's image, bottom first.
    fn layers(&self, record: &ContainerRecord) -> Result<Vec<PathBuf>> {
        let store = self.engine.images.store();
        let image = record
            .image_id
            .parse::<peapod_image::Digest>()
            .ok()
            .and_then(|d| store.image(&d).ok().flatten())
            .ok_or_else(|| Error::Monitor {
                name: record.name.clone(),
                why: format!("its image {} is gone", record.image_id),
            })?;
        Ok(image
            .layers
            .iter()
            .map(|l| store.layer_path(&l.chain_id))
            .collect())
    }

    /// The `(uid, gid)` of the container's user (`--user`, else the image's `User`) in its
    /// own `/etc/passwd` and `/etc/group`; the root filesystem must be mounted.
    fn user_ids(&self, record: &ContainerRecord, rootfs: &ContainerRootfs) -> Result<(u32, u32)> {
        let spec = match &record.config.config.user {
            Some(u) => u.clone(),
            None => {
                let images = &self.engine.images;
                let image = images.resolve(&record.image_id).map_err(Error::from)?;
                let doc = images.config(&image).map_err(Error::from)?;
                crate::spec::ImageConfig::from_image_config(&doc)
                    .map_err(Error::json(format!(
                        "the config of image {}",
                        record.image_id
                    )))?
                    .user
            }
        };
        let passwd = rootfs
            .read_file("/etc/passwd", 1 << 20)
            .map_err(Error::from)?
            .unwrap_or_default();
        let group = rootfs
            .read_file("/etc/group", 1 << 20)
            .map_err(Error::from)?
            .unwrap_or_default();
        let user = crate::spec::resolve_user(&spec, &passwd, &group).map_err(Error::from)?;
        Ok((user.uid, user.gid))
    }

    /// `container prune`: removes every container that does not run (created or exited);
    /// what each freed. As docker's, their volumes stay (`volume prune` takes them).
    ///
    /// # Errors
    /// Database errors listing them; a container that cannot be removed ends the prune
    /// with its error (those removed before it stay removed).
    pub fn prune(&self) -> Result<Vec<ContainerUsage>> {
        let mut removed = Vec::new();
        for usage in self.disk_usage()? {
            if matches!(usage.record.state, State::Created | State::Exited)
                && !usage.record.config.infra
            {
                self.remove(&usage.record.id, false, false)?;
                removed.push(usage);
            }
        }
        Ok(removed)
    }

    /// Every container with the size of its writable layer (for `system df`).
    ///
    /// # Errors
    /// Database errors.
    pub fn disk_usage(&self) -> Result<Vec<ContainerUsage>> {
        let list = self.list(&super::ListOptions {
            all: true,
            ..Default::default()
        })?;
        Ok(list
            .into_iter()
            .map(|record| {
                let dir = self.engine.paths(&record.id).dir;
                let size = dir_size(&ContainerRootfs::at(&dir).upper());
                ContainerUsage { record, size }
            })
            .collect())
    }
}
