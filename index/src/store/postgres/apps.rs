//! The application registry in the same database as the galleries. Every change bumps `apps_version` in its
//! transaction and announces it, so every server reloads the registry on its next request without querying the
//! database per request. These calls may come from async tasks (the authentication layer), so they run as tasks
//! of the store's runtime ([`Bridge::spawn_wait`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use super::bridge::{Bridge, pg_error, pool_error};
use super::listener::{APPS_CHANNEL, ListenerState};
use crate::GalleryError;
use crate::engine::now_ms;
use crate::store::{AppRecord, AppStore, RevokeOutcome};

pub(crate) struct PgAppStore {
    pub bridge: Arc<Bridge>,
    pub pool: Pool,
    pub listener: Arc<ListenerState>,
}

/// Bumps the version and announces it; the announcement goes out when the transaction commits.
type Param = Box<dyn ToSql + Sync + Send>;

const BUMP_VERSION: &str =
    "WITH bumped AS (UPDATE apps_version SET version = version + 1 RETURNING version)
                            SELECT pg_notify('faceserve_apps', version::text), version FROM bumped";

impl PgAppStore {
    /// Runs `statement` with `params` in a transaction that bumps the registry version when it changed a row;
    /// returns the rows it changed.
    fn change(&self, statement: &'static str, params: Vec<Param>) -> Result<u64, GalleryError> {
        let (pool, target, listener) = (
            self.pool.clone(),
            self.bridge.target.clone(),
            self.listener.clone(),
        );
        debug_assert_eq!(APPS_CHANNEL, "faceserve_apps");
        self.bridge.spawn_wait(async move {
            let error = |e| pg_error(&target, e);
            let mut db = pool.get().await.map_err(|e| pool_error(&target, e))?;
            let tx = db.transaction().await.map_err(error)?;
            let values: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let changed = tx.execute(statement, &values).await.map_err(error)?;
            if changed > 0 {
                let row = tx.query_one(BUMP_VERSION, &[]).await.map_err(error)?;
                listener
                    .apps_version
                    .store(row.get::<_, i64>(1), Ordering::Release);
            }
            tx.commit().await.map_err(error)?;
            Ok(changed)
        })
    }
}

impl AppStore for PgAppStore {
    fn create_app(&self, app_id: &str, key_hash: &str, note: &str) -> Result<bool, GalleryError> {
        let changed = self.change(
            "INSERT INTO apps (app_id, key_hash, note, created_at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (app_id) DO NOTHING",
            vec![
                Box::new(app_id.to_string()),
                Box::new(key_hash.to_string()),
                Box::new(note.to_string()),
                Box::new(now_ms()),
            ],
        )?;
        Ok(changed > 0)
    }

    fn replace_key(&self, app_id: &str, key_hash: &str) -> Result<bool, GalleryError> {
        let changed = self.change(
            "UPDATE apps SET key_hash = $2, revoked_at_ms = NULL WHERE app_id = $1",
            vec![Box::new(app_id.to_string()), Box::new(key_hash.to_string())],
        )?;
        Ok(changed > 0)
    }

    fn revoke_app(&self, app_id: &str) -> Result<RevokeOutcome, GalleryError> {
        let revoked = self.change(
            "UPDATE apps SET revoked_at_ms = $2 WHERE app_id = $1 AND revoked_at_ms IS NULL",
            vec![Box::new(app_id.to_string()), Box::new(now_ms())],
        );
        match revoked {
            Ok(1..) => Ok(RevokeOutcome::Revoked),
            Ok(0) => Ok(match self.list_apps()?.iter().any(|a| a.app_id == app_id) {
                true => RevokeOutcome::AlreadyRevoked,
                false => RevokeOutcome::NoSuchApp,
            }),
            Err(e) => Err(e),
        }
    }

    fn list_apps(&self) -> Result<Vec<AppRecord>, GalleryError> {
        let (pool, target) = (self.pool.clone(), self.bridge.target.clone());
        self.bridge.spawn_wait(async move {
            let db = pool.get().await.map_err(|e| pool_error(&target, e))?;
            let rows = db
                .query(
                    "SELECT app_id, note, created_at_ms, revoked_at_ms FROM apps ORDER BY app_id",
                    &[],
                )
                .await
                .map_err(|e| pg_error(&target, e))?;
            Ok(rows
                .iter()
                .map(|r| AppRecord {
                    app_id: r.get(0),
                    note: r.get(1),
                    created_at_ms: r.get(2),
                    revoked_at_ms: r.get(3),
                })
                .collect())
        })
    }

    fn active_key_hashes(&self) -> Result<Vec<(String, String)>, GalleryError> {
        let (pool, target) = (self.pool.clone(), self.bridge.target.clone());
        self.bridge.spawn_wait(async move {
            let db = pool.get().await.map_err(|e| pool_error(&target, e))?;
            let rows = db
                .query(
                    "SELECT app_id, key_hash FROM apps WHERE revoked_at_ms IS NULL",
                    &[],
                )
                .await
                .map_err(|e| pg_error(&target, e))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn version(&self) -> Result<i64, GalleryError> {
        Ok(self.listener.apps_version.load(Ordering::Acquire))
    }
}
