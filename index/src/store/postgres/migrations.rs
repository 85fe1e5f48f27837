//! The schema, as numbered migrations kept in this folder and applied in order at start. Servers starting at once
//! take turns (an advisory lock held while migrating), each migration runs in its own transaction with its row in
//! `faceserve_migrations`, and a database migrated by a newer faceserve is refused rather than misread.

use tokio_postgres::Client;

use super::bridge::pg_error;
use crate::GalleryError;

/// (version, what it does, its SQL). Append only: a released migration never changes.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "galleries, templates, change log, replicas, applications",
    include_str!("migrations/0001_initial.sql"),
)];

/// Any number, the same in every faceserve: the advisory lock migrating servers take turns on.
const MIGRATION_LOCK: i64 = 0x6661_6365_7365_7276; // "faceserv"

/// The newest schema version this faceserve knows.
pub(crate) fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Brings the database to the newest schema; returns the versions it applied.
pub(crate) async fn migrate(client: &mut Client, target: &str) -> Result<Vec<i32>, GalleryError> {
    let error = |e| pg_error(target, e);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(error)?;
    let result = apply_missing(client, target).await;
    // The lock is the session's: released on every path, also when the connection is dropped.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

async fn apply_missing(client: &mut Client, target: &str) -> Result<Vec<i32>, GalleryError> {
    let error = |e| pg_error(target, e);
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS faceserve_migrations (
                 version     integer PRIMARY KEY,
                 description text NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(error)?;
    let applied: Vec<i32> = client
        .query(
            "SELECT version FROM faceserve_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(error)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if let Some(&newest) = applied.last()
        && newest > latest()
    {
        return Err(GalleryError::Storage(format!(
            "the database at {target} has schema version {newest}, newer than the {} this faceserve understands: \
             run a faceserve release that supports it",
            latest()
        )));
    }
    let mut done = Vec::new();
    for &(version, description, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let tx = client.transaction().await.map_err(error)?;
        tx.batch_execute(sql).await.map_err(error)?;
        tx.execute(
            "INSERT INTO faceserve_migrations (version, description) VALUES ($1, $2)",
            &[&version, &description],
        )
        .await
        .map_err(error)?;
        tx.commit().await.map_err(error)?;
        tracing::info!(%target, version, description, "applied a schema migration");
        done.push(version);
    }
    Ok(done)
}
