//! The application registry: which applications may call the server and the Argon2 hash of each one's key, kept
//! by the store's [`AppStore`] (for SQLite its own file, `<data-dir>/apps.db`, so `faceserve apps ...` can change it
//! while a server runs). A key is shown once, when it is made; only its hash is stored, and it is never logged.

pub mod cli;
mod keys;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use faceserve_index::store::sqlite::SqliteAppStore;
use faceserve_index::store::{AppRecord, AppStore, RevokeOutcome};

#[cfg(test)]
use faceserve_index::store::sqlite::APPS_FILE;
pub use keys::{KeyHash, new_key};

const MAX_APP_ID: usize = 64;

pub struct AppRegistry {
    store: Arc<dyn AppStore>,
}

impl AppRegistry {
    /// Opens (creating when needed) the registry of `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        Ok(Self::on(Arc::new(SqliteAppStore::open(data_dir)?)))
    }

    /// The registry of the configured template store: SQLite's `apps.db` in the data folder, or the shared
    /// PostgreSQL database.
    pub fn configured(engine: &faceserve_engine::EngineSettings) -> anyhow::Result<Self> {
        match &engine.store.url {
            None => Self::open(&engine.data_dir),
            Some(_) => Ok(Self::on(engine.store.open(&engine.data_dir)?.apps())),
        }
    }

    /// The registry kept by `store`.
    pub fn on(store: Arc<dyn AppStore>) -> Self {
        Self { store }
    }

    /// Registers a new application and returns its key (the only time the key exists outside the caller).
    pub fn create(&self, app_id: &str, note: &str) -> anyhow::Result<String> {
        validate_app_id(app_id)?;
        let key = new_key();
        let hash = KeyHash::of(&key)?;
        if !self.store.create_app(app_id, hash.as_str(), note)? {
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
        if !self.store.replace_key(app_id, hash.as_str())? {
            bail!("no application {app_id:?}");
        }
        Ok(key)
    }

    /// Revokes an application: its key stops working; its galleries stay. False when already revoked.
    pub fn revoke(&self, app_id: &str) -> anyhow::Result<bool> {
        match self.store.revoke_app(app_id)? {
            RevokeOutcome::NoSuchApp => bail!("no application {app_id:?}"),
            RevokeOutcome::AlreadyRevoked => Ok(false),
            RevokeOutcome::Revoked => Ok(true),
        }
    }

    pub fn list(&self) -> anyhow::Result<Vec<AppRecord>> {
        Ok(self.store.list_apps()?)
    }

    /// The key hash of every application that is not revoked.
    pub fn active_keys(&self) -> anyhow::Result<HashMap<String, KeyHash>> {
        self.store
            .active_key_hashes()?
            .into_iter()
            .map(|(app, hash)| Ok((app, KeyHash::parse(hash)?)))
            .collect()
    }

    /// A number that changes whenever another connection (a `faceserve apps` command) commits a change, read
    /// without taking any lock, so a server can check it on every request.
    pub fn data_version(&self) -> anyhow::Result<i64> {
        Ok(self.store.version()?)
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
