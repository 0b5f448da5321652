//! The `pods` table, and the `pod_id` column of `containers` that makes a container a member.

use rusqlite::{OptionalExtension, params};

use super::{CONTAINER_COLUMNS, Db, container_row, is_constraint};
use crate::container::ContainerRecord;
use crate::error::{Error, Result};

/// A pod as the database records it.
#[derive(Clone, Debug)]
pub(crate) struct PodRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created: i64,
    pub(crate) infra_id: Option<String>,
    /// JSON: the pod's create options.
    pub(crate) config: String,
}

const POD_COLUMNS: &str = "id, name, created, infra_id, config";

fn pod_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PodRow> {
    Ok(PodRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
        infra_id: r.get(3)?,
        config: r.get(4)?,
    })
}

impl Db {
    /// Adds a pod; refuses a name in use.
    pub(crate) fn insert_pod(&self, p: &PodRow) -> Result<()> {
        match self.conn().execute(
            "INSERT INTO pods (id, name, created, infra_id, config) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![p.id, p.name, p.created, p.infra_id, p.config],
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e) => Err(Error::PodNameInUse(p.name.clone())),
            Err(e) => Err(self.err()(e)),
        }
    }

    /// Records the pod's infra container.
    pub(crate) fn set_pod_infra(&self, id: &str, infra: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE pods SET infra_id = ?2 WHERE id = ?1",
                params![id, infra],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Replaces a pod's stored options (`pod port add/rm`).
    pub(crate) fn set_pod_config(&self, id: &str, config: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE pods SET config = ?2 WHERE id = ?1",
                params![id, config],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Finds a pod by full id, name, or unique id prefix.
    pub(crate) fn find_pod(&self, key: &str) -> Result<PodRow> {
        let exact = format!("SELECT {POD_COLUMNS} FROM pods WHERE id = ?1 OR name = ?1");
        if let Some(row) = self
            .conn()
            .query_row(&exact, [key], pod_row)
            .optional()
            .map_err(self.err())?
        {
            return Ok(row);
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::NoSuchPod(key.to_owned()));
        }
        let by_prefix =
            format!("SELECT {POD_COLUMNS} FROM pods WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2");
        let mut stmt = self.conn().prepare(&by_prefix).map_err(self.err())?;
        let mut rows: Vec<PodRow> = stmt
            .query_map([key.to_ascii_lowercase()], pod_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            0 => Err(Error::NoSuchPod(key.to_owned())),
            _ => Err(Error::AmbiguousPod(key.to_owned())),
        }
    }

    /// Every pod, oldest first.
    pub(crate) fn pods(&self) -> Result<Vec<PodRow>> {
        let sql = format!("SELECT {POD_COLUMNS} FROM pods ORDER BY created");
        let mut stmt = self.conn().prepare(&sql).map_err(self.err())?;
        stmt.query_map([], pod_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())
    }

    /// The containers of a pod (its infra included), oldest first.
    pub(crate) fn pod_members(&self, pod_id: &str) -> Result<Vec<ContainerRecord>> {
        let sql = format!(
            "SELECT {CONTAINER_COLUMNS} FROM containers WHERE pod_id = ?1 ORDER BY created"
        );
        let mut stmt = self.conn().prepare(&sql).map_err(self.err())?;
        let rows: Vec<_> = stmt
            .query_map([pod_id], container_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        rows.into_iter().map(|r| self.decode(r)).collect()
    }

    /// Removes a pod's row; its containers must be gone.
    pub(crate) fn delete_pod(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM pods WHERE id = ?1", [id])
            .map_err(self.err())?;
        Ok(())
    }
}
