//! The application registry in its own SQLite file (`<data-dir>/apps.db`, WAL), so `faceserve apps ...` can change
//! it while a server runs and the server sees the change on its next request.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};

use super::open_durable;
use crate::GalleryError;
use crate::engine::now_ms;
use crate::store::{AppRecord, AppStore, RevokeOutcome};

pub const APPS_FILE: &str = "apps.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apps (
    app_id        TEXT PRIMARY KEY,
    key_hash      TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);";

pub struct SqliteAppStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteAppStore {
    /// Opens (creating when needed) the registry of `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, GalleryError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            GalleryError::Storage(format!(
                "can not create data folder {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(APPS_FILE);
        let conn = open_durable(&path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AppStore for SqliteAppStore {
    fn create_app(&self, app_id: &str, key_hash: &str, note: &str) -> Result<bool, GalleryError> {
        let inserted = self.conn.lock().execute(
            "INSERT INTO apps (app_id, key_hash, note, created_at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app_id) DO NOTHING",
            params![app_id, key_hash, note, now_ms()],
        )?;
        Ok(inserted > 0)
    }

    fn replace_key(&self, app_id: &str, key_hash: &str) -> Result<bool, GalleryError> {
        let updated = self.conn.lock().execute(
            "UPDATE apps SET key_hash = ?2, revoked_at_ms = NULL WHERE app_id = ?1",
            params![app_id, key_hash],
        )?;
        Ok(updated > 0)
    }

    fn revoke_app(&self, app_id: &str) -> Result<RevokeOutcome, GalleryError> {
        let conn = self.conn.lock();
        let revoked: Option<Option<i64>> = conn
            .query_row(
                "SELECT revoked_at_ms FROM apps WHERE app_id = ?1",
                [app_id],
                |row| row.get(0),
            )
            .optional()?;
        Ok(match revoked {
            None => RevokeOutcome::NoSuchApp,
            Some(Some(_)) => RevokeOutcome::AlreadyRevoked,
            Some(None) => {
                conn.execute(
                    "UPDATE apps SET revoked_at_ms = ?2 WHERE app_id = ?1",
                    params![app_id, now_ms()],
                )?;
                RevokeOutcome::Revoked
            }
        })
    }

    fn list_apps(&self) -> Result<Vec<AppRecord>, GalleryError> {
        let conn = self.conn.lock();
        let mut statement = conn.prepare(
            "SELECT app_id, note, created_at_ms, revoked_at_ms FROM apps ORDER BY app_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(AppRecord {
                app_id: row.get(0)?,
                note: row.get(1)?,
                created_at_ms: row.get(2)?,
                revoked_at_ms: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn active_key_hashes(&self) -> Result<Vec<(String, String)>, GalleryError> {
        let conn = self.conn.lock();
        let mut statement =
            conn.prepare("SELECT app_id, key_hash FROM apps WHERE revoked_at_ms IS NULL")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn version(&self) -> Result<i64, GalleryError> {
        // SQLite's data_version changes when another connection commits, and costs no lock to read.
        Ok(self
            .conn
            .lock()
            .query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }
}
