//! The image tables of the engine's database. The only code of this crate that writes SQL.

use std::collections::HashSet;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::digest::Digest;

/// This component's name in the shared `migrations` table.
const COMPONENT: &str = "image";

/// Schema versions, oldest first; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
CREATE TABLE images (
    id                  TEXT PRIMARY KEY,   -- the config digest, sha256:…
    manifest_digest     TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    created             TEXT,               -- the config's `created` (RFC 3339), if any
    added               INTEGER NOT NULL,   -- unix seconds when stored here
    os                  TEXT NOT NULL,
    architecture        TEXT NOT NULL
);
CREATE TABLE image_layers (
    image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,           -- 0 = bottom layer
    blob_digest TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    blob_size   INTEGER NOT NULL,           -- bytes of the blob as stored (compressed)
    diff_id     TEXT NOT NULL,
    chain_id    TEXT NOT NULL,
    size        INTEGER NOT NULL,           -- bytes of the uncompressed layer tar
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX image_layers_chain ON image_layers(chain_id);
CREATE INDEX image_layers_blob ON image_layers(blob_digest);
CREATE TABLE image_names (
    name     TEXT PRIMARY KEY,              -- registry/repo:tag or registry/repo@sha256:…
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX image_names_image ON image_names(image_id);
"];

/// One layer of an image as the store records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageLayer {
    /// The layer blob's digest (what the manifest names).
    pub blob_digest: Digest,
    /// Its media type (gzip, zstd or plain tar).
    pub media_type: String,
    /// Bytes of the blob as stored.
    pub blob_size: u64,
    /// The digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    /// The chain id of this layer and those below it: the name of its unpacked directory.
    pub chain_id: Digest,
    /// Bytes of the uncompressed tar.
    pub size: u64,
}

/// An image as the store records it. Its manifest and config are blobs in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRecord {
    /// The image id: the digest of its config (as docker and podman define it).
    pub id: Digest,
    /// The digest of the manifest it was pulled or loaded with.
    pub manifest_digest: Digest,
    /// That manifest's media type.
    pub manifest_media_type: String,
    /// The config's `created`, RFC 3339, if it has one.
    pub created: Option<String>,
    /// Unix seconds when it was stored.
    pub added: i64,
    /// The config's `os`.
    pub os: String,
    /// The config's `architecture`.
    pub architecture: String,
    /// Layers, bottom first.
    pub layers: Vec<ImageLayer>,
}

impl ImageRecord {
    /// The sum of the uncompressed layer sizes, as `images` shows it.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// What a prune or a removal freed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Images removed.
    pub images: Vec<Digest>,
    /// Blobs removed.
    pub blobs: usize,
    /// Unpacked layers removed.
    pub layers: usize,
    /// Bytes of blobs freed (unpacked layers counted by their tar size).
    pub bytes: u64,
}

/// Sizes for `system df`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Number of images.
    pub images: usize,
    /// Bytes of all distinct unpacked layers (their tar sizes).
    pub layers_size: u64,
    /// Bytes of all blobs.
    pub blobs_size: u64,
}

pub(super) fn open(path: &Path) -> Result<Connection> {
    open_database(path, COMPONENT, MIGRATIONS)
}

/// How long an open waits for another process's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens (creating if need be) the engine's shared SQLite database at `path` in WAL mode,
/// with a 60 s busy timeout (dozens of `peapod` processes at once on a slow disk queue for
/// the write lock: 10 s ran out with 50 parallel `run -d` in the TCG test guest), foreign
/// keys on and `synchronous = NORMAL`, and brings
/// `component`'s tables to the newest of `migrations` (entry `i` takes the schema from
/// version `i` to `i + 1`; versions are kept per component in the `migrations` table, so
/// that the image store and the engine share one file and migrate independently).
///
/// # Errors
/// [`StoreError::Db`] when SQLite fails (after 60 s of retries while another process holds
/// the database), [`StoreError::SchemaTooNew`] when a newer peapod migrated it.
pub fn open_database(path: &Path, component: &str, migrations: &[&str]) -> Result<Connection> {
    let err = |source| StoreError::Db {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // Switching a new database to WAL takes an exclusive lock, and SQLite answers another
    // process doing the same at that moment with SQLITE_BUSY without waiting: retry (60 s
    // at most), as for the migration that follows.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        let result = set_wal(&conn)
            .map_err(err)
            .and_then(|()| migrate(&mut conn, path, component, migrations));
        match result {
            Err(StoreError::Db { source, .. })
                if is_busy(&source) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other?,
        }
    }
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(err)?;
    // No checkpoint (and its fsyncs) each time a command's connection closes: SQLite's
    // automatic checkpoint (every 1000 WAL pages) keeps the WAL bounded.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    Ok(conn)
}

fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    Ok(())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Brings this component's tables to the newest version, in one immediate transaction (two
/// processes opening a fresh database do not both migrate).
fn migrate(conn: &mut Connection, path: &Path, component: &str, migrations: &[&str]) -> Result<()> {
    let err = |source| StoreError::Db {
        path: path.to_path_buf(),
        source,
    };
    // Up to date (every open but the first): a plain read, no write lock taken.
    let current: Option<i64> = conn
        .query_row(
            "SELECT version FROM migrations WHERE component = ?1",
            [component],
            |r| r.get(0),
        )
        .optional()
        .unwrap_or(None);
    if current == Some(migrations.len() as i64) {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    )
    .map_err(err)?;
    let version: i64 = tx
        .query_row(
            "SELECT version FROM migrations WHERE component = ?1",
            [component],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?
        .unwrap_or(0);
    let known = migrations.len() as i64;
    if version > known {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(sql).map_err(err)?;
        tx.execute(
            "INSERT INTO migrations (component, version) VALUES (?1, ?2)
             ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            params![component, i as i64 + 1],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn digest_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Digest> {
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// An `image_layers` row selected as `blob_digest, media_type, blob_size, diff_id, chain_id,
/// size`.
fn layer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImageLayer> {
    Ok(ImageLayer {
        blob_digest: digest_col(r, 0)?,
        media_type: r.get(1)?,
        blob_size: size_col(r, 2)?,
        diff_id: digest_col(r, 3)?,
        chain_id: digest_col(r, 4)?,
        size: size_col(r, 5)?,
    })
}

fn size_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    Ok(u64::try_from(v).unwrap_or(0))
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Records an image (replacing an earlier record of the same id) and points each of
    /// `names` at it (moving a name from another image, as `docker pull` does with a tag), in
    /// one transaction. The caller has committed its blobs and layers, and called
    /// [`Store::sync`].
    pub fn put_image(&self, image: &ImageRecord, names: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let err = self.db_error();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&err)?;
        tx.execute(
            "INSERT INTO images (id, manifest_digest, manifest_media_type, created, added, os, architecture)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,
                 manifest_media_type = excluded.manifest_media_type, created = excluded.created,
                 os = excluded.os, architecture = excluded.architecture",
            params![
                image.id.to_string(),
                image.manifest_digest.to_string(),
                image.manifest_media_type,
                image.created,
                if image.added == 0 { now() } else { image.added },
                image.os,
                image.architecture
            ],
        )
        .map_err(&err)?;
        tx.execute(
            "DELETE FROM image_layers WHERE image_id = ?1",
            [image.id.to_string()],
        )
        .map_err(&err)?;
        for (idx, layer) in image.layers.iter().enumerate() {
            tx.execute(
                "INSERT INTO image_layers (image_id, idx, blob_digest, media_type, blob_size, diff_id, chain_id, size)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    image.id.to_string(),
                    idx as i64,
                    layer.blob_digest.to_string(),
                    layer.media_type,
                    as_i64(layer.blob_size),
                    layer.diff_id.to_string(),
                    layer.chain_id.to_string(),
                    as_i64(layer.size)
                ],
            )
            .map_err(&err)?;
        }
        for name in names {
            tx.execute(
                "INSERT INTO image_names (name, image_id) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                params![name, image.id.to_string()],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// The image with this id, if recorded.
    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        let conn = self.conn();
        let err = self.db_error();
        let row = conn
            .query_row(
                "SELECT id, manifest_digest, manifest_media_type, created, added, os, architecture
                 FROM images WHERE id = ?1",
                [id.to_string()],
                |r| {
                    Ok(ImageRecord {
                        id: digest_col(r, 0)?,
                        manifest_digest: digest_col(r, 1)?,
                        manifest_media_type: r.get(2)?,
                        created: r.get(3)?,
                        added: r.get(4)?,
                        os: r.get(5)?,
                        architecture: r.get(6)?,
                        layers: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(&err)?;
        let Some(mut image) = row else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare(
                "SELECT blob_digest, media_type, blob_size, diff_id, chain_id, size
                 FROM image_layers WHERE image_id = ?1 ORDER BY idx",
            )
            .map_err(&err)?;
        image.layers = stmt
            .query_map([id.to_string()], layer_row)
            .map_err(&err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&err)?;
        Ok(Some(image))
    }

    /// The image a full name (`docker.io/library/busybox:latest`, `…@sha256:…`) points at.
    pub fn image_by_name(&self, name: &str) -> Result<Option<Digest>> {
        let conn = self.conn();
        conn.query_row(
            "SELECT image_id FROM image_names WHERE name = ?1",
            [name],
            |r| digest_col(r, 0),
        )
        .optional()
        .map_err(self.db_error())
    }

    /// The image whose id starts with `prefix` (hex digits, with or without `sha256:`).
    /// `Ok(None)` if none; [`StoreError::Ambiguous`] if several.
    pub fn image_by_id_prefix(&self, prefix: &str) -> Result<Option<Digest>> {
        let hex = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let hex = hex.to_ascii_lowercase();
        let conn = self.conn();
        let err = self.db_error();
        let mut stmt = conn
            .prepare("SELECT id FROM images WHERE substr(id, 8, ?1) = ?2 LIMIT 2")
            .map_err(&err)?;
        let ids: Vec<Digest> = stmt
            .query_map(params![hex.len() as i64, hex], |r| digest_col(r, 0))
            .map_err(&err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&err)?;
        match ids.len() {
            0 => Ok(None),
            1 => Ok(ids.into_iter().next()),
            _ => Err(StoreError::Ambiguous(prefix.to_owned())),
        }
    }

    /// Every image id, oldest added first.
    pub fn image_ids(&self) -> Result<Vec<Digest>> {
        let conn = self.conn();
        let err = self.db_error();
        let mut stmt = conn
            .prepare("SELECT id FROM images ORDER BY added, id")
            .map_err(&err)?;
        stmt.query_map([], |r| digest_col(r, 0))
            .map_err(&err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&err)
    }

    /// The names pointing at an image, sorted.
    pub fn names_of(&self, id: &Digest) -> Result<Vec<String>> {
        let conn = self.conn();
        let err = self.db_error();
        let mut stmt = conn
            .prepare("SELECT name FROM image_names WHERE image_id = ?1 ORDER BY name")
            .map_err(&err)?;
        stmt.query_map([id.to_string()], |r| r.get(0))
            .map_err(&err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&err)
    }

    /// Points `name` at the image `id` (moving it from another image).
    pub fn add_name(&self, id: &Digest, name: &str) -> Result<()> {
        let conn = self.conn();
        let changed = conn
            .execute(
                "INSERT INTO image_names (name, image_id) SELECT ?1, id FROM images WHERE id = ?2
                 ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                params![name, id.to_string()],
            )
            .map_err(self.db_error())?;
        if changed == 0 {
            return Err(StoreError::ImageUnknown(id.to_string()));
        }
        Ok(())
    }

    /// Removes a name; returns whether it existed.
    pub fn remove_name(&self, name: &str) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .execute("DELETE FROM image_names WHERE name = ?1", [name])
            .map_err(self.db_error())?;
        Ok(n > 0)
    }

    /// Removes an image's record and names (its blobs and layers go with the next
    /// [`Store::collect_garbage`]); returns whether it existed.
    pub fn remove_image_record(&self, id: &Digest) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .execute("DELETE FROM images WHERE id = ?1", [id.to_string()])
            .map_err(self.db_error())?;
        Ok(n > 0)
    }

    /// Every blob digest and chain id some image references (its manifest, config and layer
    /// blobs, its unpacked layers).
    pub(super) fn referenced(&self) -> Result<(HashSet<String>, HashSet<String>)> {
        let conn = self.conn();
        let err = self.db_error();
        let pairs = |sql: &str| -> Result<Vec<(String, String)>> {
            let mut stmt = conn.prepare(sql).map_err(&err)?;
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(&err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(&err)
        };
        let mut blobs = HashSet::new();
        let mut chains = HashSet::new();
        for (id, manifest) in pairs("SELECT id, manifest_digest FROM images")? {
            blobs.insert(hex_of(&id));
            blobs.insert(hex_of(&manifest));
        }
        for (blob, chain) in pairs("SELECT blob_digest, chain_id FROM image_layers")? {
            blobs.insert(hex_of(&blob));
            chains.insert(hex_of(&chain));
        }
        Ok((blobs, chains))
    }

    /// Layer sizes by chain id (for `system df`).
    pub(super) fn layer_sizes(&self) -> Result<Vec<(String, u64)>> {
        let conn = self.conn();
        let err = self.db_error();
        let mut stmt = conn
            .prepare("SELECT chain_id, MAX(size) FROM image_layers GROUP BY chain_id")
            .map_err(&err)?;
        stmt.query_map([], |r| {
            Ok((hex_of(&r.get::<_, String>(0)?), size_col(r, 1)?))
        })
        .map_err(&err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(&err)
    }
}

fn hex_of(digest: &str) -> String {
    digest.strip_prefix("sha256:").unwrap_or(digest).to_owned()
}

impl Store {
    /// The layer some image records with this blob and chain id, if any.
    pub fn recorded_layer(&self, blob: &Digest, chain_id: &Digest) -> Result<Option<ImageLayer>> {
        let conn = self.conn();
        conn.query_row(
            "SELECT blob_digest, media_type, blob_size, diff_id, chain_id, size
             FROM image_layers WHERE blob_digest = ?1 AND chain_id = ?2 LIMIT 1",
            params![blob.to_string(), chain_id.to_string()],
            layer_row,
        )
        .optional()
        .map_err(self.db_error())
    }
}
