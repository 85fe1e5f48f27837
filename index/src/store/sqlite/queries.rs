//! The SQL of the template store. Each query takes a connection; the transaction types decide what runs in one
//! transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::codec::{
    blob_to_floats, blob_to_landmarks, floats_to_blob, json_to_metadata, landmarks_to_blob,
    metadata_to_json,
};
use crate::store::{GalleryRow, StoredModel, StoredVector, TemplateKey};
use crate::{FaceGeometry, GalleryError, TemplateRecord};

const GALLERY_COLUMNS: &str = "gallery_id, app, name, created_at_ms, model, dimension";

fn gallery_from_row(row: &Row<'_>) -> rusqlite::Result<GalleryRow> {
    Ok(GalleryRow {
        id: row.get(0)?,
        app: row.get(1)?,
        name: row.get(2)?,
        created_at_ms: row.get(3)?,
        model: row.get(4)?,
        dimension: row.get(5)?,
    })
}

pub(crate) fn all_galleries(conn: &Connection) -> Result<Vec<GalleryRow>, GalleryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GALLERY_COLUMNS} FROM galleries ORDER BY gallery_id"
    ))?;
    let rows = stmt.query_map([], gallery_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn find_gallery(
    conn: &Connection,
    app: &str,
    name: &str,
) -> Result<Option<GalleryRow>, GalleryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GALLERY_COLUMNS} FROM galleries WHERE app = ?1 AND name = ?2"
    ))?;
    Ok(stmt
        .query_row(params![app, name], gallery_from_row)
        .optional()?)
}

pub(crate) fn create_gallery(
    conn: &Connection,
    app: &str,
    name: &str,
    model: &str,
    dimension: u32,
    created_at_ms: i64,
) -> Result<GalleryRow, GalleryError> {
    conn.prepare_cached(
        "INSERT INTO galleries (app, name, created_at_ms, model, dimension) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![app, name, created_at_ms, model, dimension])?;
    Ok(GalleryRow {
        id: conn.last_insert_rowid(),
        app: app.to_string(),
        name: name.to_string(),
        created_at_ms,
        model: model.to_string(),
        dimension,
    })
}

/// Removes a gallery and its templates; returns how many templates it held.
pub(crate) fn delete_gallery(conn: &Connection, gallery_id: i64) -> Result<u64, GalleryError> {
    let deleted = conn
        .prepare_cached("DELETE FROM templates WHERE gallery_id = ?1")?
        .execute([gallery_id])?;
    conn.prepare_cached("DELETE FROM galleries WHERE gallery_id = ?1")?
        .execute([gallery_id])?;
    Ok(deleted as u64)
}

pub(crate) fn stored_models(conn: &Connection) -> Result<Vec<StoredModel>, GalleryError> {
    let mut stmt = conn.prepare(
        "SELECT model, dimension, count(*) FROM templates GROUP BY model, dimension ORDER BY count(*) DESC",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok(StoredModel {
            model: row.get(0)?,
            dimension: row.get(1)?,
            templates: row.get::<_, i64>(2)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Points empty galleries made by another recognizer at this one: they hold nothing to compare against.
pub(crate) fn retag_empty_galleries(
    conn: &Connection,
    model: &str,
    dimension: u32,
) -> Result<usize, GalleryError> {
    Ok(conn.execute(
        "UPDATE galleries SET model = ?1, dimension = ?2
         WHERE (model <> ?1 OR dimension <> ?2)
           AND NOT EXISTS (SELECT 1 FROM templates WHERE templates.gallery_id = galleries.gallery_id)",
        params![model, dimension],
    )?)
}

pub(crate) fn find_seq(
    conn: &Connection,
    gallery_id: i64,
    id: Uuid,
) -> Result<Option<u64>, GalleryError> {
    let mut stmt = conn
        .prepare_cached("SELECT seq FROM templates WHERE gallery_id = ?1 AND template_id = ?2")?;
    Ok(stmt
        .query_row(params![gallery_id, id.to_string()], |row| {
            row.get::<_, i64>(0)
        })
        .optional()?
        .map(|seq| seq as u64))
}

/// Stores a template and returns its sequence number.
pub(crate) fn insert_template(
    conn: &Connection,
    gallery_id: i64,
    template: &TemplateRecord,
) -> Result<u64, GalleryError> {
    let face = &template.face;
    conn.prepare_cached(
        "INSERT INTO templates (gallery_id, template_id, model, dimension, embedding, box_x, box_y, box_w, box_h,
                                landmarks, detection_score, created_at_ms, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        gallery_id,
        template.id.to_string(),
        template.model,
        template.embedding.len() as i64,
        floats_to_blob(&template.embedding),
        face.bbox[0],
        face.bbox[1],
        face.bbox[2],
        face.bbox[3],
        landmarks_to_blob(&face.landmarks),
        face.score,
        template.created_at_ms,
        metadata_to_json(&template.metadata),
    ])?;
    Ok(conn.last_insert_rowid() as u64)
}

pub(crate) fn delete_seq(conn: &Connection, seq: u64) -> Result<(), GalleryError> {
    conn.prepare_cached("DELETE FROM templates WHERE seq = ?1")?
        .execute([seq as i64])?;
    Ok(())
}

const TEMPLATE_COLUMNS: &str = "seq, template_id, model, embedding, box_x, box_y, box_w, box_h, landmarks, \
                                detection_score, created_at_ms, metadata";

fn template_from_row(
    row: &Row<'_>,
    gallery: &GalleryRow,
) -> Result<(u64, TemplateRecord), GalleryError> {
    let seq: i64 = row.get(0)?;
    let id_text: String = row.get(1)?;
    let id = Uuid::parse_str(&id_text).map_err(|e| {
        GalleryError::Storage(format!("stored template id {id_text:?} is not a UUID: {e}"))
    })?;
    let record = TemplateRecord {
        app: gallery.app.clone(),
        gallery: gallery.name.clone(),
        id,
        model: row.get(2)?,
        embedding: blob_to_floats(row.get_ref(3)?.as_blob()?, "embedding")?,
        face: FaceGeometry {
            bbox: [row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?],
            landmarks: blob_to_landmarks(row.get_ref(8)?.as_blob()?)?,
            score: row.get(9)?,
        },
        created_at_ms: row.get(10)?,
        metadata: json_to_metadata(row.get_ref(11)?.as_str()?)?,
    };
    Ok((seq as u64, record))
}

pub(crate) fn get_template(
    conn: &Connection,
    gallery: &GalleryRow,
    id: Uuid,
) -> Result<Option<TemplateRecord>, GalleryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE gallery_id = ?1 AND template_id = ?2"
    ))?;
    let mut rows = stmt.query(params![gallery.id, id.to_string()])?;
    match rows.next()? {
        Some(row) => Ok(Some(template_from_row(row, gallery)?.1)),
        None => Ok(None),
    }
}

/// Up to `limit` templates with a sequence number above `after_seq`, in sequence order.
pub(crate) fn templates_after(
    conn: &Connection,
    gallery: &GalleryRow,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<(u64, TemplateRecord)>, GalleryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE gallery_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let mut rows = stmt.query(params![gallery.id, after_seq as i64, limit as i64])?;
    let mut page = Vec::new();
    while let Some(row) = rows.next()? {
        page.push(template_from_row(row, gallery)?);
    }
    Ok(page)
}

/// The template id and metadata stored under `seq` in the gallery, if it is still there.
pub(crate) fn template_key(
    conn: &Connection,
    gallery_id: i64,
    seq: u64,
) -> Result<Option<TemplateKey>, GalleryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT template_id, metadata FROM templates WHERE seq = ?1 AND gallery_id = ?2",
    )?;
    let mut rows = stmt.query(params![seq as i64, gallery_id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let id_text = row.get_ref(0)?.as_str()?;
    let id = Uuid::parse_str(id_text).map_err(|e| {
        GalleryError::Storage(format!("stored template id {id_text:?} is not a UUID: {e}"))
    })?;
    Ok(Some(TemplateKey {
        id,
        metadata: json_to_metadata(row.get_ref(1)?.as_str()?)?,
    }))
}

/// Up to `limit` embeddings of the gallery with a sequence number above `after_seq`, in sequence order.
pub(crate) fn vectors_after(
    conn: &Connection,
    gallery_id: i64,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<StoredVector>, GalleryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, embedding FROM templates WHERE gallery_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![gallery_id, after_seq as i64, limit as i64])?;
    let mut vectors = Vec::new();
    while let Some(row) = rows.next()? {
        vectors.push(StoredVector {
            seq: row.get::<_, i64>(0)? as u64,
            embedding: blob_to_floats(row.get_ref(1)?.as_blob()?, "embedding")?,
        });
    }
    Ok(vectors)
}

/// Every sequence number in the gallery, ascending.
pub(crate) fn gallery_seqs(conn: &Connection, gallery_id: i64) -> Result<Vec<u64>, GalleryError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq FROM templates WHERE gallery_id = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([gallery_id], |row| row.get::<_, i64>(0))?;
    rows.map(|seq| Ok(seq? as u64)).collect()
}

/// The embedding stored under `seq` in the gallery, if it is still there.
pub(crate) fn vector_by_seq(
    conn: &Connection,
    gallery_id: i64,
    seq: u64,
) -> Result<Option<Vec<f32>>, GalleryError> {
    let mut stmt =
        conn.prepare_cached("SELECT embedding FROM templates WHERE seq = ?1 AND gallery_id = ?2")?;
    let mut rows = stmt.query(params![seq as i64, gallery_id])?;
    match rows.next()? {
        Some(row) => Ok(Some(blob_to_floats(
            row.get_ref(0)?.as_blob()?,
            "embedding",
        )?)),
        None => Ok(None),
    }
}

/// (template count, highest sequence number or 0) of the gallery.
pub(crate) fn gallery_extent(
    conn: &Connection,
    gallery_id: i64,
) -> Result<(u64, u64), GalleryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(*), coalesce(max(seq), 0) FROM templates WHERE gallery_id = ?1",
    )?;
    Ok(stmt.query_row([gallery_id], |row| {
        Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
    })?)
}
