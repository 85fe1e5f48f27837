//! The write statements of the template store on PostgreSQL. Every change also writes its row of the change log
//! in the same statement, under the sequence number the transaction hands out.

use super::queries::{Db, PgResult, prepared_exec, prepared_one};
use crate::TemplateRecord;
use crate::store::GalleryRow;
use crate::store::sqlite::codec::{floats_to_blob, landmarks_to_blob, metadata_to_json};

/// Takes the write lock (the feed's row) and returns the last committed change; waits while another server holds it.
pub(crate) async fn lock_feed(db: Db<'_>) -> PgResult<u64> {
    let row = prepared_one(db, "SELECT last_seq FROM feed_head FOR UPDATE", &[]).await?;
    Ok(row.get::<_, i64>(0) as u64)
}

pub(crate) async fn create_gallery(
    db: Db<'_>,
    app: &str,
    name: &str,
    model: &str,
    dimension: u32,
    created_at_ms: i64,
) -> PgResult<GalleryRow> {
    let row = prepared_one(
        db,
        "INSERT INTO galleries (app, name, created_at_ms, model, dimension) VALUES ($1, $2, $3, $4, $5)
         RETURNING gallery_id",
        &[&app, &name, &created_at_ms, &model, &(dimension as i32)],
    )
    .await?;
    Ok(GalleryRow {
        id: row.get(0),
        app: app.to_string(),
        name: name.to_string(),
        created_at_ms,
        model: model.to_string(),
        dimension,
    })
}

pub(crate) async fn retag_empty_galleries(
    db: Db<'_>,
    model: &str,
    dimension: u32,
) -> PgResult<u64> {
    prepared_exec(
        db,
        "UPDATE galleries SET model = $1, dimension = $2
         WHERE (model <> $1 OR dimension <> $2)
           AND NOT EXISTS (SELECT 1 FROM templates WHERE templates.gallery_id = galleries.gallery_id)",
        &[&model, &(dimension as i32)],
    )
    .await
}

/// Stores a template under sequence number `seq` with its change row, in one statement.
pub(crate) async fn insert_template(
    db: Db<'_>,
    seq: u64,
    gallery_id: i64,
    template: &TemplateRecord,
) -> PgResult<()> {
    let face = &template.face;
    prepared_exec(
        db,
        "WITH stored AS (
             INSERT INTO templates (seq, gallery_id, template_id, model, dimension, embedding, box_x, box_y, box_w,
                                    box_h, landmarks, detection_score, created_at_ms, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             RETURNING seq, gallery_id)
         INSERT INTO changes (seq, kind, gallery_id, template_seq) SELECT seq, 1, gallery_id, seq FROM stored",
        &[
            &(seq as i64),
            &gallery_id,
            &template.id,
            &template.model,
            &(template.embedding.len() as i32),
            &floats_to_blob(&template.embedding),
            &face.bbox[0],
            &face.bbox[1],
            &face.bbox[2],
            &face.bbox[3],
            &landmarks_to_blob(&face.landmarks),
            &face.score,
            &template.created_at_ms,
            &metadata_to_json(&template.metadata),
        ],
    )
    .await
    .map(drop)
}

/// Removes template `template_seq`, logging the removal as change `seq`; false when there was no such template.
pub(crate) async fn delete_template(db: Db<'_>, seq: u64, template_seq: u64) -> PgResult<bool> {
    let logged = prepared_exec(
        db,
        "WITH removed AS (DELETE FROM templates WHERE seq = $2 RETURNING gallery_id)
         INSERT INTO changes (seq, kind, gallery_id, template_seq) SELECT $1, 2, gallery_id, $2 FROM removed",
        &[&(seq as i64), &(template_seq as i64)],
    )
    .await?;
    Ok(logged > 0)
}

/// Removes a gallery and its templates, logging it as change `seq`; returns how many templates it held.
pub(crate) async fn delete_gallery(db: Db<'_>, seq: u64, gallery_id: i64) -> PgResult<u64> {
    let removed = prepared_exec(
        db,
        "DELETE FROM templates WHERE gallery_id = $1",
        &[&gallery_id],
    )
    .await?;
    prepared_exec(
        db,
        "DELETE FROM galleries WHERE gallery_id = $1",
        &[&gallery_id],
    )
    .await?;
    prepared_exec(
        db,
        "INSERT INTO changes (seq, kind, gallery_id, template_seq) VALUES ($1, 3, $2, 0)",
        &[&(seq as i64), &gallery_id],
    )
    .await?;
    Ok(removed)
}

/// Moves the feed's head to `last_seq` and announces it to the followers (delivered when the transaction commits).
pub(crate) async fn advance_head(db: Db<'_>, last_seq: u64) -> PgResult<()> {
    prepared_exec(
        db,
        "WITH moved AS (UPDATE feed_head SET last_seq = $1 RETURNING last_seq)
         SELECT pg_notify('faceserve_changes', last_seq::text) FROM moved",
        &[&(last_seq as i64)],
    )
    .await
    .map(drop)
}
