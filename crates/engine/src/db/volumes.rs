//! The `volumes` and `container_volumes` tables.

use rusqlite::{OptionalExtension, params};

use super::{Db, is_constraint};
use crate::error::{Error, Result};

/// A volume as the database records it.
#[derive(Clone, Debug)]
pub(crate) struct VolumeRow {
    pub(crate) name: String,
    pub(crate) created: i64,
    pub(crate) labels: String,
    pub(crate) anonymous: bool,
}

fn volume_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VolumeRow> {
    Ok(VolumeRow {
        name: r.get(0)?,
        created: r.get(1)?,
        labels: r.get(2)?,
        anonymous: r.get(3)?,
    })
}

impl Db {
    /// Adds a volume; `Ok(false)` if one of that name exists (left as it is).
    pub(crate) fn insert_volume(&self, v: &VolumeRow) -> Result<bool> {
        match self.conn().execute(
            "INSERT INTO volumes (name, created, labels, anonymous) VALUES (?1, ?2, ?3, ?4)",
            params![v.name, v.created, v.labels, v.anonymous],
        ) {
            Ok(_) => Ok(true),
            Err(e) if is_constraint(&e) => Ok(false),
            Err(e) => Err(self.err()(e)),
        }
    }

    /// The volume of this name.
    pub(crate) fn volume(&self, name: &str) -> Result<Option<VolumeRow>> {
        self.conn()
            .query_row(
                "SELECT name, created, labels, anonymous FROM volumes WHERE name = ?1",
                [name],
                volume_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Every volume, by name.
    pub(crate) fn volumes(&self) -> Result<Vec<VolumeRow>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT name, created, labels, anonymous FROM volumes ORDER BY name")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], volume_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// A container using the volume, if any.
    pub(crate) fn volume_user(&self, name: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT c.name FROM container_volumes v JOIN containers c ON c.id = v.container_id
                 WHERE v.volume = ?1 LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Links a container to the volumes it mounts.
    pub(crate) fn link_volumes(&self, container: &str, links: &[(String, String)]) -> Result<()> {
        for (volume, destination) in links {
            self.conn()
                .execute(
                    "INSERT OR REPLACE INTO container_volumes (container_id, volume, destination)
                     VALUES (?1, ?2, ?3)",
                    params![container, volume, destination],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// The volumes a container mounts, with whether each is anonymous.
    pub(crate) fn volumes_of(&self, container: &str) -> Result<Vec<(String, bool)>> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT v.name, v.anonymous FROM container_volumes c JOIN volumes v ON v.name = c.volume
                 WHERE c.container_id = ?1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([container], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Removes a volume's row; refuses one in use.
    pub(crate) fn delete_volume(&self, name: &str) -> Result<bool> {
        if let Some(container) = self.volume_user(name)? {
            return Err(Error::VolumeInUse {
                name: name.to_owned(),
                container,
            });
        }
        let n = self
            .conn()
            .execute("DELETE FROM volumes WHERE name = ?1", [name])
            .map_err(self.err())?;
        Ok(n == 1)
    }
}
