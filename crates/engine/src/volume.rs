//! Volumes: named directories under `ROOT/volumes/<name>/_data` that outlive containers
//! (docker's `local` driver, without mount options). Anonymous volumes (`-v /data`, an
//! image's `VOLUME`) get a random 64-hex name and go with their container on `rm -v`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::Engine;
use crate::db::VolumeRow;
use crate::error::{Error, Result};

/// The volume verbs of an [`Engine`]: `engine.volumes()`.
#[derive(Debug)]
pub struct Volumes<'e> {
    pub(crate) engine: &'e Engine,
}

/// A volume, in the shape of `docker volume inspect`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeReport {
    /// The name.
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// The directory a container sees.
    pub mountpoint: PathBuf,
    /// RFC 3339.
    pub created_at: String,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
    /// Always `local`.
    pub scope: String,
    /// Whether it was made for one container (`-v /path`, an image's `VOLUME`).
    #[serde(skip)]
    pub anonymous: bool,
}

impl Volumes<'_> {
    fn data_dir(&self, name: &str) -> PathBuf {
        self.engine.root.join("volumes").join(name).join("_data")
    }

    fn report(&self, row: VolumeRow) -> VolumeReport {
        VolumeReport {
            mountpoint: self.data_dir(&row.name),
            created_at: crate::time::rfc3339(row.created),
            labels: serde_json::from_str(&row.labels).unwrap_or_default(),
            name: row.name,
            driver: "local".into(),
            scope: "local".into(),
            anonymous: row.anonymous,
        }
    }

    /// `volume create [--label K=V] [NAME]`: a new volume (a random name if none). An
    /// existing volume of that name is an error.
    ///
    /// # Errors
    /// [`Error::VolumeExists`], [`Error::InvalidFlag`] for a bad name, I/O and database errors.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) -> Result<VolumeReport> {
        let name = match name {
            Some(n) => {
                crate::container::parse_volume(&format!("{n}:/x"))?;
                n.to_owned()
            }
            None => crate::container::new_id()?,
        };
        let (report, created) = self.ensure(&name, labels, false)?;
        if !created {
            return Err(Error::VolumeExists(name));
        }
        Ok(report)
    }

    /// The volume `name`, made if missing; whether it was made.
    pub(crate) fn ensure(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<(VolumeReport, bool)> {
        if let Some(row) = self.engine.db.volume(name)? {
            return Ok((self.report(row), false));
        }
        let dir = self.data_dir(name);
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let row = VolumeRow {
            name: name.to_owned(),
            created: crate::container::now_ns(),
            labels: serde_json::to_string(labels).map_err(Error::json("volume labels"))?,
            anonymous,
        };
        let created = self.engine.db.insert_volume(&row)?;
        let row = if created {
            row
        } else {
            // Another process made it first: theirs stands.
            self.engine.db.volume(name)?.unwrap_or(row)
        };
        Ok((self.report(row), created))
    }

    /// `volume inspect NAME`.
    ///
    /// # Errors
    /// [`Error::NoSuchVolume`].
    pub fn inspect(&self, name: &str) -> Result<VolumeReport> {
        let row = self
            .engine
            .db
            .volume(name)?
            .ok_or_else(|| Error::NoSuchVolume(name.to_owned()))?;
        Ok(self.report(row))
    }

    /// `volume ls`.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn list(&self) -> Result<Vec<VolumeReport>> {
        Ok(self
            .engine
            .db
            .volumes()?
            .into_iter()
            .map(|r| self.report(r))
            .collect())
    }

    /// `volume rm NAME`: refuses a volume a container uses.
    ///
    /// # Errors
    /// [`Error::NoSuchVolume`], [`Error::VolumeInUse`], I/O errors.
    pub fn remove(&self, name: &str) -> Result<()> {
        if !self.engine.db.delete_volume(name)? {
            return Err(Error::NoSuchVolume(name.to_owned()));
        }
        let dir = self.engine.root.join("volumes").join(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &dir)(e)),
        }
    }

    /// `volume prune`: removes every volume no container uses; their names. `all: false`
    /// keeps named volumes, as docker ≥ 23 does.
    ///
    /// # Errors
    /// [`Error::Db`], I/O errors.
    pub fn prune(&self, all: bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for row in self.engine.db.volumes()? {
            if (all || row.anonymous) && self.engine.db.volume_user(&row.name)?.is_none() {
                match self.remove(&row.name) {
                    Ok(()) => removed.push(row.name),
                    Err(Error::VolumeInUse { .. } | Error::NoSuchVolume(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}
