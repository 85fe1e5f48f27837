//! The store's tables, and the check that a database is one this code can read.

use rusqlite::{Connection, OptionalExtension};

use crate::GalleryError;

/// Bumped on every change to the tables below; a newer database is refused rather than misread.
pub(crate) const SCHEMA_VERSION: i64 = 1;

const CREATE_V1: &str = "
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE galleries (
    gallery_id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    model TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    UNIQUE (app, name)
);
-- seq never repeats (AUTOINCREMENT): it orders pages and names the template in the in-memory index, and a
-- replaced template gets a new one, so an index can tell the new embedding from the old.
CREATE TABLE templates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    gallery_id INTEGER NOT NULL REFERENCES galleries (gallery_id),
    template_id TEXT NOT NULL,
    model TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    box_x REAL NOT NULL,
    box_y REAL NOT NULL,
    box_w REAL NOT NULL,
    box_h REAL NOT NULL,
    landmarks BLOB NOT NULL,
    detection_score REAL NOT NULL,
    created_at_ms INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (gallery_id, template_id)
);
CREATE INDEX templates_by_gallery ON templates (gallery_id, seq);
";

/// Creates the tables in an empty database, or checks the version of an existing one.
pub(crate) fn ensure_schema(conn: &mut Connection) -> Result<(), GalleryError> {
    let has_version_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if !has_version_table {
        let other_tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |row| row.get(0),
        )?;
        if other_tables > 0 {
            return Err(GalleryError::Storage(
                "the database has tables but no schema_version table: it is not a faceserve template store"
                    .into(),
            ));
        }
        let tx = conn.transaction()?;
        tx.execute_batch(CREATE_V1)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [SCHEMA_VERSION],
        )?;
        tx.commit()?;
        return Ok(());
    }
    let version: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .optional()?;
    match version {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(newer) if newer > SCHEMA_VERSION => Err(GalleryError::Storage(format!(
            "the template store has schema version {newer}, newer than the {SCHEMA_VERSION} this faceserve \
             understands: run a faceserve release that supports it"
        ))),
        Some(older) => Err(GalleryError::Storage(format!(
            "the template store has schema version {older}, which this faceserve cannot migrate"
        ))),
        None => Err(GalleryError::Storage(
            "the schema_version table is empty".into(),
        )),
    }
}
