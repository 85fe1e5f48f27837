//! The change feed on PostgreSQL: reading the log (with each insert's template and gallery as they are now, in one
//! statement, so one snapshot), the servers' progress, and pruning what no live server needs.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use super::bridge::{Bridge, pg_error, pool_error};
use super::listener::ListenerState;
use super::queries::{GALLERY_COLUMNS, gallery_from_row};
use crate::GalleryError;
use crate::store::sqlite::codec::{blob_to_floats, json_to_metadata};
use crate::store::{Change, ChangeFeed, FeedProgress, TemplateKey};

pub(crate) struct PgFeed {
    pub bridge: Arc<Bridge>,
    pub pool: Pool,
    pub listener: Arc<ListenerState>,
    pub poll_interval: Duration,
    pub replica_id: String,
    pub replica_ttl: Duration,
    pub min_log_retention: Duration,
}

/// One statement: the prune mark, then the page of changes with what each insert needs.
fn changes_sql() -> String {
    let gallery_columns: String = GALLERY_COLUMNS
        .split(", ")
        .map(|c| format!("g.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT h.pruned_upto, c.seq, c.kind, c.gallery_id, c.template_seq,
                t.template_id, t.metadata, t.embedding, {gallery_columns}
         FROM feed_head h
         LEFT JOIN LATERAL (
             SELECT seq, kind, gallery_id, template_seq FROM changes
             WHERE seq > $1 AND seq <= $2 AND ($3::bigint IS NULL OR gallery_id = $3)
             ORDER BY seq LIMIT $4) c ON true
         LEFT JOIN templates t ON c.kind = 1 AND t.seq = c.template_seq
         LEFT JOIN galleries g ON g.gallery_id = c.gallery_id
         ORDER BY c.seq"
    )
}

fn change_from_row(row: &Row) -> Result<Option<Change>, GalleryError> {
    let Some(seq) = row.get::<_, Option<i64>>(1) else {
        return Ok(None);
    };
    let (seq, kind, gallery_id) = (seq as u64, row.get::<_, i16>(2), row.get::<_, i64>(3));
    let template_seq = row.get::<_, i64>(4) as u64;
    Ok(Some(match kind {
        1 => match row.get::<_, Option<i64>>(8) {
            None => Change::Gone { seq },
            Some(_) => {
                let template = match row.get::<_, Option<uuid::Uuid>>(5) {
                    None => None,
                    Some(id) => Some((
                        TemplateKey {
                            id,
                            metadata: json_to_metadata(row.get(6))?,
                        },
                        blob_to_floats(row.get(7), "embedding")?,
                    )),
                };
                Change::Insert {
                    seq,
                    gallery: gallery_from_row(row, 8),
                    template,
                }
            }
        },
        2 => Change::Remove {
            seq,
            gallery_id,
            template_seq,
        },
        3 => Change::DropGallery { seq, gallery_id },
        other => {
            return Err(GalleryError::Storage(format!(
                "change {seq} has unknown kind {other}"
            )));
        }
    }))
}

impl ChangeFeed for PgFeed {
    fn head(&self) -> Result<u64, GalleryError> {
        let target = &self.bridge.target;
        self.bridge.block_on(async {
            let db = self.pool.get().await.map_err(|e| pool_error(target, e))?;
            super::queries::feed_head(&db)
                .await
                .map_err(|e| e.into_gallery(target))
        })
    }

    fn changes(
        &self,
        after: u64,
        upto: u64,
        gallery: Option<i64>,
        limit: usize,
    ) -> Result<Option<Vec<Change>>, GalleryError> {
        let target = &self.bridge.target;
        let rows = self.bridge.block_on(async {
            let db = self.pool.get().await.map_err(|e| pool_error(target, e))?;
            let statement = db
                .prepare_cached(&changes_sql())
                .await
                .map_err(|e| pg_error(target, e))?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
                &(after as i64),
                &(upto.min(i64::MAX as u64) as i64),
                &gallery,
                &(limit as i64),
            ];
            db.query(&statement, &params)
                .await
                .map_err(|e| pg_error(target, e))
        })?;
        let pruned_upto = rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64);
        if pruned_upto > after {
            return Ok(None);
        }
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(change) = change_from_row(row)? {
                changes.push(change);
            }
        }
        Ok(Some(changes))
    }

    fn wait_for_changes(&self, timeout: Duration) -> bool {
        self.listener.wakeup.wait(timeout)
    }

    fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    fn report_progress(&self, progress: FeedProgress) -> Result<(), GalleryError> {
        let target = &self.bridge.target;
        let ttl = self.replica_ttl.as_secs_f64();
        let retention = self.min_log_retention.as_secs_f64();
        self.bridge.block_on(async {
            let db = self.pool.get().await.map_err(|e| pool_error(target, e))?;
            let error = |e| pg_error(target, e);
            db.execute(
                "INSERT INTO replicas (replica_id, applied_seq, needed_seq, seen_at) VALUES ($1, $2, $3, now())
                 ON CONFLICT (replica_id) DO UPDATE
                 SET applied_seq = excluded.applied_seq, needed_seq = excluded.needed_seq, seen_at = now()",
                &[
                    &self.replica_id,
                    &(progress.applied as i64),
                    &(progress.needed as i64),
                ],
            )
            .await
            .map_err(error)?;
            // What every live server has and no longer wants, and old enough to go.
            let row = db
                .query_one(
                    "SELECT least(
                         (SELECT min(needed_seq) FROM replicas WHERE seen_at >= now() - make_interval(secs => $1)),
                         (SELECT coalesce(max(seq), 0) FROM changes
                          WHERE committed_at < now() - make_interval(secs => $2))),
                         (SELECT pruned_upto FROM feed_head)",
                    &[&ttl, &retention],
                )
                .await
                .map_err(error)?;
            let (prunable, pruned) = (row.get::<_, Option<i64>>(0).unwrap_or(0), row.get::<_, i64>(1));
            if prunable > pruned {
                // The mark moves first, in the same transaction: a reader never trusts a range being pruned.
                db.batch_execute("BEGIN").await.map_err(error)?;
                let done = async {
                    db.execute("UPDATE feed_head SET pruned_upto = $1", &[&prunable])
                        .await?;
                    db.execute("DELETE FROM changes WHERE seq <= $1", &[&prunable])
                        .await?;
                    db.execute(
                        "DELETE FROM replicas WHERE seen_at < now() - make_interval(secs => $1)",
                        &[&ttl],
                    )
                    .await?;
                    db.batch_execute("COMMIT").await
                }
                .await;
                if let Err(e) = done {
                    let _ = db.batch_execute("ROLLBACK").await;
                    return Err(error(e));
                }
                tracing::debug!(upto = prunable, "pruned the change log");
            }
            Ok(())
        })
    }
}
