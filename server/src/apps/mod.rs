//! The application registry: which applications may call the server and the argon2 hash of each one's key, in
//! its own SQLite file (`<data-dir>/apps.db`, WAL) so `faceserve apps ...` can change it while a server runs. A key
//! is shown once, when it is made; only its hash is stored, and it is never logged.

pub mod cli;
mod keys;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OptionalExtension, params};

pub use keys::{KeyHash, new_key};

pub const APPS_FILE: &str = "apps.db";
const MAX_APP_ID: usize = 64;
/// A CLI write and the server's reads may meet; neither holds the lock for more than a few milliseconds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apps (
    app_id        TEXT PRIMARY KEY,
    key_hash      TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);";

/// One application, without its key hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub app_id: String,
    pub note: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

pub struct AppRegistry {
    conn: Connection,
    path: PathBuf,
}

impl AppRegistry {
    /// Opens (creating when needed) the registry of `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("can not create data folder {}", data_dir.display()))?;
        let path = data_dir.join(APPS_FILE);
        let conn = Connection::open(&path)
            .with_context(|| format!("can not open application registry {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!("can not switch {} to WAL mode (got {mode})", path.display());
        }
        // A revocation must survive a power cut once the command has answered.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Registers a new application and returns its key (the only time the key exists outside the caller).
    pub fn create(&self, app_id: &str, note: &str) -> anyhow::Result<String> {
        validate_app_id(app_id)?;
        let key = new_key();
        let hash = KeyHash::of(&key)?;
        let inserted = self.conn.execute(
            "INSERT INTO apps (app_id, key_hash, note, created_at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app_id) DO NOTHING",
            params![app_id, hash.as_str(), note, now_ms()],
        )?;
        if inserted == 0 {
            bail!(
                "application {app_id:?} already exists (use `faceserve apps rotate-key {app_id}` for a new key)"
            );
        }
        Ok(key)
    }

    /// Replaces an application's key (and lifts a revocation); the old key stops working at once.
    pub fn rotate_key(&self, app_id: &str) -> anyhow::Result<String> {
        let key = new_key();
        let hash = KeyHash::of(&key)?;
        let updated = self.conn.execute(
            "UPDATE apps SET key_hash = ?2, revoked_at_ms = NULL WHERE app_id = ?1",
            params![app_id, hash.as_str()],
        )?;
        if updated == 0 {
            bail!("no application {app_id:?}");
        }
        Ok(key)
    }

    /// Revokes an application: its key stops working; its galleries stay on disk. False when already revoked.
    pub fn revoke(&self, app_id: &str) -> anyhow::Result<bool> {
        let exists: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT revoked_at_ms FROM apps WHERE app_id = ?1",
                [app_id],
                |row| row.get(0),
            )
            .optional()?;
        match exists {
            None => bail!("no application {app_id:?}"),
            Some(Some(_)) => Ok(false),
            Some(None) => {
                self.conn.execute(
                    "UPDATE apps SET revoked_at_ms = ?2 WHERE app_id = ?1",
                    params![app_id, now_ms()],
                )?;
                Ok(true)
            }
        }
    }

    pub fn list(&self) -> anyhow::Result<Vec<AppRecord>> {
        let mut statement = self.conn.prepare(
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

    /// The key hash of every application that is not revoked.
    pub fn active_keys(&self) -> anyhow::Result<HashMap<String, KeyHash>> {
        let mut statement = self
            .conn
            .prepare("SELECT app_id, key_hash FROM apps WHERE revoked_at_ms IS NULL")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut keys = HashMap::new();
        for row in rows {
            let (app, hash) = row?;
            keys.insert(app, KeyHash::parse(hash)?);
        }
        Ok(keys)
    }

    /// A number that changes whenever another connection (a `faceserve apps` command) commits a change, read
    /// without taking any lock, so a server can check it on every request.
    pub fn data_version(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }
}

/// Application ids follow the gallery-name rules: 1-64 characters of [A-Za-z0-9_.-].
pub fn validate_app_id(app_id: &str) -> anyhow::Result<()> {
    let valid = !app_id.is_empty()
        && app_id.len() <= MAX_APP_ID
        && app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        bail!(
            "application id {app_id:?} is invalid: use 1-{MAX_APP_ID} characters of A-Z, a-z, 0-9, '_', '-', '.'"
        );
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_rotate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let registry = AppRegistry::open(dir.path()).unwrap();
        let key = registry.create("door-cams", "lobby").unwrap();
        assert!(registry.create("door-cams", "").is_err(), "ids are unique");
        assert!(registry.create("bad/id", "").is_err());
        let keys = registry.active_keys().unwrap();
        assert!(keys["door-cams"].verify(&key));
        assert!(!keys["door-cams"].verify("fsk_wrong"));
        let stored = std::fs::read(dir.path().join(APPS_FILE)).unwrap();
        assert!(
            !stored.windows(key.len()).any(|w| w == key.as_bytes()),
            "the key itself is never stored"
        );

        let rotated = registry.rotate_key("door-cams").unwrap();
        let keys = registry.active_keys().unwrap();
        assert!(keys["door-cams"].verify(&rotated) && !keys["door-cams"].verify(&key));

        assert!(registry.revoke("door-cams").unwrap());
        assert!(!registry.revoke("door-cams").unwrap(), "already revoked");
        assert!(registry.active_keys().unwrap().is_empty());
        assert!(registry.list().unwrap()[0].revoked_at_ms.is_some());
        assert!(registry.revoke("nobody").is_err());
    }

    #[test]
    fn another_connection_changes_the_data_version() {
        let dir = tempfile::tempdir().unwrap();
        let server = AppRegistry::open(dir.path()).unwrap();
        let before = server.data_version().unwrap();
        assert_eq!(server.data_version().unwrap(), before, "stable while idle");
        let cli = AppRegistry::open(dir.path()).unwrap();
        cli.create("a", "").unwrap();
        assert_ne!(server.data_version().unwrap(), before);
    }
}
