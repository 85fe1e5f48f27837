//! The SQL of the template store on PostgreSQL. Each query takes a pooled connection; the transaction types decide
//! what runs in one transaction. Embeddings, landmarks and metadata use the SQLite store's column layout.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::store::sqlite::codec::{blob_to_floats, blob_to_landmarks, json_to_metadata};
use crate::store::{GalleryRow, StoredModel, StoredVector, TemplateKey};
use crate::{FaceGeometry, GalleryError, TemplateRecord};

pub(crate) type Db<'a> = &'a ClientWrapper;

/// A query failed in the driver, or returned a row this code cannot read.
#[derive(Debug)]
pub(crate) enum QueryError {
    Db(tokio_postgres::Error),
    Stored(GalleryError),
}

impl From<tokio_postgres::Error> for QueryError {
    fn from(error: tokio_postgres::Error) -> Self {
        QueryError::Db(error)
    }
}

impl From<GalleryError> for QueryError {
    fn from(error: GalleryError) -> Self {
        QueryError::Stored(error)
    }
}

impl QueryError {
    pub(crate) fn into_gallery(self, target: &str) -> GalleryError {
        match self {
            QueryError::Db(e) => super::bridge::pg_error(target, e),
            QueryError::Stored(e) => e,
        }
    }
}

pub(crate) type PgResult<T> = Result<T, QueryError>;

pub(crate) const GALLERY_COLUMNS: &str = "gallery_id, app, name, created_at_ms, model, dimension";

/// A gallery row whose columns start at `first`.
pub(crate) fn gallery_from_row(row: &Row, first: usize) -> GalleryRow {
    GalleryRow {
        id: row.get(first),
        app: row.get(first + 1),
        name: row.get(first + 2),
        created_at_ms: row.get(first + 3),
        model: row.get(first + 4),
        dimension: row.get::<_, i32>(first + 5) as u32,
    }
}

pub(crate) async fn all_galleries(db: Db<'_>) -> PgResult<Vec<GalleryRow>> {
    let sql = format!("SELECT {GALLERY_COLUMNS} FROM galleries ORDER BY gallery_id");
    let rows = db.query(&db.prepare_cached(&sql).await?, &[]).await?;
    Ok(rows.iter().map(|r| gallery_from_row(r, 0)).collect())
}

pub(crate) async fn find_gallery(
    db: Db<'_>,
    app: &str,
    name: &str,
) -> PgResult<Option<GalleryRow>> {
    let sql = format!("SELECT {GALLERY_COLUMNS} FROM galleries WHERE app = $1 AND name = $2");
    let row = db
        .query_opt(&db.prepare_cached(&sql).await?, &[&app, &name])
        .await?;
    Ok(row.map(|r| gallery_from_row(&r, 0)))
}

pub(crate) async fn stored_models(db: Db<'_>) -> PgResult<Vec<StoredModel>> {
    let rows = db
        .query(
            "SELECT model, dimension, count(*) FROM templates GROUP BY model, dimension ORDER BY count(*) DESC",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredModel {
            model: r.get(0),
            dimension: r.get::<_, i32>(1) as u32,
            templates: r.get::<_, i64>(2) as u64,
        })
        .collect())
}

pub(crate) async fn find_seq(db: Db<'_>, gallery_id: i64, id: Uuid) -> PgResult<Option<u64>> {
    let statement = db
        .prepare_cached("SELECT seq FROM templates WHERE gallery_id = $1 AND template_id = $2")
        .await?;
    let row = db.query_opt(&statement, &[&gallery_id, &id]).await?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}

const TEMPLATE_COLUMNS: &str = "seq, template_id, model, embedding, box_x, box_y, box_w, box_h, landmarks, \
                                detection_score, created_at_ms, metadata";

fn template_from_row(
    row: &Row,
    gallery: &GalleryRow,
) -> Result<(u64, TemplateRecord), GalleryError> {
    let record = TemplateRecord {
        app: gallery.app.clone(),
        gallery: gallery.name.clone(),
        id: row.get(1),
        model: row.get(2),
        embedding: blob_to_floats(row.get(3), "embedding")?,
        face: FaceGeometry {
            bbox: [row.get(4), row.get(5), row.get(6), row.get(7)],
            landmarks: blob_to_landmarks(row.get(8))?,
            score: row.get(9),
        },
        created_at_ms: row.get(10),
        metadata: json_to_metadata(row.get(11))?,
    };
    Ok((row.get::<_, i64>(0) as u64, record))
}

pub(crate) async fn get_template(
    db: Db<'_>,
    gallery: &GalleryRow,
    id: Uuid,
) -> PgResult<Option<TemplateRecord>> {
    let sql = format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE gallery_id = $1 AND template_id = $2"
    );
    let row = prepared_opt(db, &sql, &[&gallery.id, &id]).await?;
    Ok(match row {
        Some(row) => Some(template_from_row(&row, gallery)?.1),
        None => None,
    })
}

pub(crate) async fn templates_after(
    db: Db<'_>,
    gallery: &GalleryRow,
    after_seq: u64,
    limit: usize,
) -> PgResult<Vec<(u64, TemplateRecord)>> {
    let sql = format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE gallery_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    let rows = prepared(
        db,
        &sql,
        &[&gallery.id, &(after_seq as i64), &(limit as i64)],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| template_from_row(r, gallery))
        .collect::<Result<_, _>>()?)
}

fn key_from_row(row: &Row) -> Result<(u64, TemplateKey), GalleryError> {
    let key = TemplateKey {
        id: row.get(1),
        metadata: json_to_metadata(row.get(2))?,
    };
    Ok((row.get::<_, i64>(0) as u64, key))
}

pub(crate) async fn keys_after(
    db: Db<'_>,
    gallery_id: i64,
    after_seq: u64,
    limit: usize,
) -> PgResult<Vec<(u64, TemplateKey)>> {
    let sql = "SELECT seq, template_id, metadata FROM templates WHERE gallery_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    let rows = prepared(
        db,
        sql,
        &[&gallery_id, &(after_seq as i64), &(limit as i64)],
    )
    .await?;
    Ok(rows.iter().map(key_from_row).collect::<Result<_, _>>()?)
}

/// The id and metadata of each sequence number, `None` where it is no longer in the gallery.
pub(crate) async fn template_keys(
    db: Db<'_>,
    gallery_id: i64,
    seqs: &[u64],
) -> PgResult<Vec<Option<TemplateKey>>> {
    let wanted: Vec<i64> = seqs.iter().map(|&s| s as i64).collect();
    let sql =
        "SELECT seq, template_id, metadata FROM templates WHERE gallery_id = $1 AND seq = ANY($2)";
    let rows = prepared(db, sql, &[&gallery_id, &wanted]).await?;
    let mut found: std::collections::HashMap<u64, TemplateKey> =
        rows.iter().map(key_from_row).collect::<Result<_, _>>()?;
    Ok(seqs.iter().map(|seq| found.remove(seq)).collect())
}

fn vector_from_row(row: &Row) -> Result<StoredVector, GalleryError> {
    Ok(StoredVector {
        seq: row.get::<_, i64>(0) as u64,
        embedding: blob_to_floats(row.get(1), "embedding")?,
    })
}

pub(crate) async fn vectors_after(
    db: Db<'_>,
    gallery_id: i64,
    after_seq: u64,
    limit: usize,
) -> PgResult<Vec<StoredVector>> {
    let sql = "SELECT seq, embedding FROM templates WHERE gallery_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    let rows = prepared(
        db,
        sql,
        &[&gallery_id, &(after_seq as i64), &(limit as i64)],
    )
    .await?;
    Ok(rows.iter().map(vector_from_row).collect::<Result<_, _>>()?)
}

pub(crate) async fn vectors_by_seq(
    db: Db<'_>,
    gallery_id: i64,
    seqs: &[u64],
) -> PgResult<Vec<StoredVector>> {
    let wanted: Vec<i64> = seqs.iter().map(|&s| s as i64).collect();
    let sql =
        "SELECT seq, embedding FROM templates WHERE gallery_id = $1 AND seq = ANY($2) ORDER BY seq";
    let rows = prepared(db, sql, &[&gallery_id, &wanted]).await?;
    Ok(rows.iter().map(vector_from_row).collect::<Result<_, _>>()?)
}

pub(crate) async fn gallery_seqs(db: Db<'_>, gallery_id: i64) -> PgResult<Vec<u64>> {
    let rows = prepared(
        db,
        "SELECT seq FROM templates WHERE gallery_id = $1 ORDER BY seq",
        &[&gallery_id],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
}

pub(crate) async fn gallery_extent(db: Db<'_>, gallery_id: i64) -> PgResult<(u64, u64)> {
    let row = prepared_one(
        db,
        "SELECT count(*), coalesce(max(seq), 0) FROM templates WHERE gallery_id = $1",
        &[&gallery_id],
    )
    .await?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

pub(crate) async fn feed_head(db: Db<'_>) -> PgResult<u64> {
    let row = prepared_one(db, "SELECT last_seq FROM feed_head", &[]).await?;
    Ok(row.get::<_, i64>(0) as u64)
}

// --- helpers ------------------------------------------------------------------------------------------------------

pub(crate) type Params<'a> = &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)];

pub(crate) async fn prepared(db: Db<'_>, sql: &str, params: Params<'_>) -> PgResult<Vec<Row>> {
    Ok(db.query(&db.prepare_cached(sql).await?, params).await?)
}

pub(crate) async fn prepared_opt(
    db: Db<'_>,
    sql: &str,
    params: Params<'_>,
) -> PgResult<Option<Row>> {
    Ok(db.query_opt(&db.prepare_cached(sql).await?, params).await?)
}

pub(crate) async fn prepared_one(db: Db<'_>, sql: &str, params: Params<'_>) -> PgResult<Row> {
    Ok(db.query_one(&db.prepare_cached(sql).await?, params).await?)
}

pub(crate) async fn prepared_exec(db: Db<'_>, sql: &str, params: Params<'_>) -> PgResult<u64> {
    Ok(db.execute(&db.prepare_cached(sql).await?, params).await?)
}
