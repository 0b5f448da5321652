//! The engine's tables in the shared SQLite database (`ROOT/peapod.db`, WAL, opened through
//! [`peapod_image::store::open_database`] so that images and containers share one file and
//! migrate independently). The only code of the engine that writes SQL. Every statement is
//! a short transaction: nothing slow (mounting, pulling, waiting) happens inside one.

mod networks;
mod pods;
mod volumes;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::container::{ContainerRecord, CreateOptions, State};
use crate::error::{Error, Result};

pub(crate) use networks::NetworkRow;
pub(crate) use pods::PodRow;
pub(crate) use volumes::VolumeRow;

/// This component's name in the `migrations` table.
const COMPONENT: &str = "engine";

/// Schema versions, oldest first.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE containers (
    id            TEXT PRIMARY KEY,          -- 64 hex digits
    name          TEXT NOT NULL UNIQUE,
    image_id      TEXT NOT NULL,             -- sha256:… (the config digest)
    image_name    TEXT NOT NULL,             -- as the operator typed it
    config        TEXT NOT NULL,             -- JSON: the create options
    created       INTEGER NOT NULL,          -- unix nanoseconds
    state         TEXT NOT NULL,             -- created|running|paused|restarting|exited|removing
    pid           INTEGER NOT NULL DEFAULT 0,
    monitor_pid   INTEGER NOT NULL DEFAULT 0,
    exit_code     INTEGER,
    started       INTEGER,                   -- unix nanoseconds
    finished      INTEGER,                   -- unix nanoseconds
    restart_count INTEGER NOT NULL DEFAULT 0,
    oom_killed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX containers_image ON containers(image_id);
CREATE TABLE volumes (
    name      TEXT PRIMARY KEY,
    created   INTEGER NOT NULL,              -- unix nanoseconds
    labels    TEXT NOT NULL DEFAULT '{}',    -- JSON object
    anonymous INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE container_volumes (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    volume       TEXT NOT NULL REFERENCES volumes(name),
    destination  TEXT NOT NULL,
    PRIMARY KEY (container_id, destination)
);
CREATE INDEX container_volumes_volume ON container_volumes(volume);
",
    "
CREATE TABLE networks (
    name     TEXT PRIMARY KEY,
    id       TEXT NOT NULL,                  -- 64 hex digits
    bridge   TEXT NOT NULL UNIQUE,
    subnet   TEXT NOT NULL,                  -- CIDR
    gateway  TEXT NOT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    created  INTEGER NOT NULL                -- unix nanoseconds
);
CREATE TABLE leases (
    network      TEXT NOT NULL REFERENCES networks(name),
    address      TEXT NOT NULL,
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    PRIMARY KEY (network, address),
    UNIQUE (network, container_id)
);
CREATE INDEX leases_container ON leases(container_id);
",
    // Leases belong to an endpoint (a container or a pod: whatever holds the network
    // namespace), one per address family and network; a container's go with its row.
    "
CREATE TABLE endpoint_leases (
    network  TEXT NOT NULL REFERENCES networks(name),
    address  TEXT NOT NULL,
    endpoint TEXT NOT NULL,                  -- the id of the container or pod
    family   INTEGER NOT NULL,               -- 4 or 6
    PRIMARY KEY (network, address),
    UNIQUE (network, endpoint, family)
);
INSERT INTO endpoint_leases (network, address, endpoint, family)
    SELECT network, address, container_id, CASE WHEN instr(address, ':') > 0 THEN 6 ELSE 4 END
    FROM leases;
DROP TABLE leases;
ALTER TABLE endpoint_leases RENAME TO leases;
CREATE INDEX leases_endpoint ON leases(endpoint);
CREATE TRIGGER container_leases AFTER DELETE ON containers
BEGIN
    DELETE FROM leases WHERE endpoint = OLD.id;
END;
",
    // Dual-stack networks and a network's MTU.
    "
ALTER TABLE networks ADD COLUMN subnet6 TEXT;         -- CIDR, or NULL without IPv6
ALTER TABLE networks ADD COLUMN gateway6 TEXT;
ALTER TABLE networks ADD COLUMN mtu INTEGER;          -- bytes, or NULL for the kernel's
",
    "
CREATE TABLE pods (
    id       TEXT PRIMARY KEY,               -- 64 hex digits
    name     TEXT NOT NULL UNIQUE,
    created  INTEGER NOT NULL,               -- unix nanoseconds
    infra_id TEXT,                           -- its infra container (NULL with --infra=false)
    config   TEXT NOT NULL                   -- JSON: the pod create options
);
ALTER TABLE containers ADD COLUMN pod_id TEXT REFERENCES pods(id);
CREATE INDEX containers_pod ON containers(pod_id);
",
];

/// A connection to the engine's tables.
pub(crate) struct Db {
    conn: Connection,
    path: PathBuf,
}

/// The columns of a container row, in [`container_row`]'s order.
const CONTAINER_COLUMNS: &str = "id, name, image_id, image_name, config, created, state, pid, \
     monitor_pid, exit_code, started, finished, restart_count, oom_killed";

fn container_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ContainerRecord, String)> {
    let state: String = r.get(6)?;
    Ok((
        ContainerRecord {
            id: r.get(0)?,
            name: r.get(1)?,
            image_id: r.get(2)?,
            image_name: r.get(3)?,
            config: CreateOptions::default(),
            created: r.get(5)?,
            state: State::parse(&state),
            pid: r.get(7)?,
            monitor_pid: r.get(8)?,
            exit_code: r.get(9)?,
            started: r.get(10)?,
            finished: r.get(11)?,
            restart_count: r.get(12)?,
            oom_killed: r.get(13)?,
        },
        r.get(4)?,
    ))
}

impl Db {
    /// Opens `ROOT/peapod.db`, migrating the engine's tables.
    pub(crate) fn open(root: &Path) -> Result<Self> {
        let path = root.join("peapod.db");
        let conn = peapod_image::store::open_database(&path, COMPONENT, MIGRATIONS)
            .map_err(|e| Error::Image(e.into()))?;
        Ok(Self { conn, path })
    }

    fn err(&self) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        |source| Error::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn decode(&self, (mut record, config): (ContainerRecord, String)) -> Result<ContainerRecord> {
        record.config = serde_json::from_str(&config).map_err(Error::json(format!(
            "the record of container {}",
            record.name
        )))?;
        Ok(record)
    }

    /// Adds a container; refuses a name in use.
    pub(crate) fn insert_container(&self, c: &ContainerRecord) -> Result<()> {
        let config =
            serde_json::to_string(&c.config).map_err(Error::json("a container's options"))?;
        let result = self.conn.execute(
            "INSERT INTO containers (id, name, image_id, image_name, config, created, state, pod_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                c.id,
                c.name,
                c.image_id,
                c.image_name,
                config,
                c.created,
                c.state.as_str(),
                c.config.pod
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e) => Err(self.name_in_use(&c.name)),
            Err(e) => Err(self.err()(e)),
        }
    }

    fn name_in_use(&self, name: &str) -> Error {
        let id = self
            .conn
            .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                r.get::<_, String>(0)
            })
            .unwrap_or_default();
        Error::NameInUse {
            name: name.to_owned(),
            id,
        }
    }

    /// The container with this exact id.
    pub(crate) fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        let sql = format!("SELECT {CONTAINER_COLUMNS} FROM containers WHERE id = ?1");
        let row = self
            .conn
            .query_row(&sql, [id], container_row)
            .optional()
            .map_err(self.err())?;
        row.map(|r| self.decode(r)).transpose()
    }

    /// Finds a container by full id, name, or unique id prefix (docker's order).
    pub(crate) fn find_container(&self, key: &str) -> Result<ContainerRecord> {
        let by_name =
            format!("SELECT {CONTAINER_COLUMNS} FROM containers WHERE id = ?1 OR name = ?1");
        let exact = self
            .conn
            .query_row(&by_name, [key], container_row)
            .optional()
            .map_err(self.err())?;
        if let Some(row) = exact {
            return self.decode(row);
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::NoSuchContainer(key.to_owned()));
        }
        let by_prefix = format!(
            "SELECT {CONTAINER_COLUMNS} FROM containers WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2"
        );
        let mut stmt = self.conn.prepare(&by_prefix).map_err(self.err())?;
        let rows: Vec<_> = stmt
            .query_map([key.to_ascii_lowercase()], container_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        match rows.len() {
            0 => Err(Error::NoSuchContainer(key.to_owned())),
            1 => rows.into_iter().next().map_or_else(
                || Err(Error::NoSuchContainer(key.to_owned())),
                |r| self.decode(r),
            ),
            _ => Err(Error::AmbiguousContainer(key.to_owned())),
        }
    }

    /// Every container, oldest first.
    pub(crate) fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let sql = format!("SELECT {CONTAINER_COLUMNS} FROM containers ORDER BY created");
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows: Vec<_> = stmt
            .query_map([], container_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        rows.into_iter().map(|r| self.decode(r)).collect()
    }

    /// Whether any container uses image `image_id`.
    pub(crate) fn image_in_use(&self, image_id: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM containers WHERE image_id = ?1)",
                [image_id],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Records a container's run state. Returns whether the row was there.
    pub(crate) fn update_state(&self, c: &ContainerRecord) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = ?2, pid = ?3, monitor_pid = ?4, exit_code = ?5,
                 started = ?6, finished = ?7, restart_count = ?8, oom_killed = ?9 WHERE id = ?1",
                params![
                    c.id,
                    c.state.as_str(),
                    c.pid,
                    c.monitor_pid,
                    c.exit_code,
                    c.started,
                    c.finished,
                    c.restart_count,
                    c.oom_killed
                ],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Moves a container from state `from` to `to` only if it is still in `from`: whoever
    /// wins this does the work that goes with the change (reconcile, remove).
    pub(crate) fn claim_state(&self, id: &str, from: State, to: State) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = ?3 WHERE id = ?1 AND state = ?2",
                params![id, from.as_str(), to.as_str()],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Replaces a container's stored options (after create named its anonymous volumes).
    pub(crate) fn set_config(&self, id: &str, config: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE containers SET config = ?2 WHERE id = ?1",
                params![id, config],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Marks a container `removing` whatever its state (unless another remover already
    /// did): for `--rm`, whose monitor may finish before `start` has recorded the start.
    pub(crate) fn claim_removal(&self, id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = 'removing' WHERE id = ?1 AND state != 'removing'",
                [id],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Renames a container; refuses a name in use.
    pub(crate) fn rename(&self, id: &str, name: &str) -> Result<()> {
        match self.conn.execute(
            "UPDATE containers SET name = ?2 WHERE id = ?1",
            params![id, name],
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e) => Err(self.name_in_use(name)),
            Err(e) => Err(self.err()(e)),
        }
    }

    /// Removes a container's row (and its volume links).
    pub(crate) fn delete_container(&self, id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM containers WHERE id = ?1", [id])
            .map_err(self.err())?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}
