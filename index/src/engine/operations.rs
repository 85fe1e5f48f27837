//! What the server asks of the engine: enrol, search, read, list and delete.

use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::gallery::{Gallery, IndexChange};
use super::{EngineCore, dump, now_ms};
use crate::embedding::validate_embedding;
use crate::store::{Change, TemplateKey};
use crate::{GalleryError, Hit, NewTemplate, TemplateRecord, page_token};

impl EngineCore {
    pub(crate) fn add(&self, template: NewTemplate) -> Result<TemplateRecord, GalleryError> {
        let embedding = validate_embedding(&template.embedding, self.config.dimension)?;
        let record = TemplateRecord {
            app: template.app,
            gallery: template.gallery,
            id: template.id.unwrap_or_else(Uuid::new_v4),
            model: self.config.model.clone(),
            embedding,
            face: template.face,
            created_at_ms: now_ms(),
            metadata: template.metadata,
        };

        let writing = self.write_order.lock();
        let mut tx = self.store.write()?;
        let row = match tx.find_gallery(&record.app, &record.gallery)? {
            Some(row) => row,
            None => tx.create_gallery(
                &record.app,
                &record.gallery,
                &self.config.model,
                self.config.dimension as u32,
                record.created_at_ms,
            )?,
        };
        let replaced = tx.find_seq(row.id, record.id)?;
        if replaced.is_some() && !template.replace {
            return Err(GalleryError::TemplateExists {
                gallery: record.gallery,
                id: record.id,
            });
        }
        if let Some(old_seq) = replaced {
            tx.delete_template(old_seq)?;
        }
        let seq = tx.insert_template(row.id, &record)?;
        let position = tx.feed_position();
        tx.commit()?;

        if let Some(position) = position.filter(|_| self.feed.is_some()) {
            let mut changes = Vec::new();
            if let Some(old_seq) = replaced {
                changes.push(Change::Remove {
                    seq: seq - 1,
                    gallery_id: row.id,
                    template_seq: old_seq,
                });
            }
            let key = TemplateKey {
                id: record.id,
                metadata: record.metadata.clone(),
            };
            changes.push(Change::Insert {
                seq,
                gallery: row,
                template: Some((key, record.embedding.clone())),
            });
            self.apply_own_commit(writing, position, changes);
            return Ok(record);
        }
        let gallery = match self.gallery(&record.app, &record.gallery) {
            Ok(gallery) => gallery,
            Err(_) => self.register(Gallery::new(row, self.new_empty_index())),
        };
        let mut changes = vec![IndexChange::Insert {
            seq,
            embedding: record.embedding.clone(),
        }];
        match replaced {
            Some(old_seq) => changes.push(IndexChange::Remove { seq: old_seq }),
            None => {
                self.total_templates.fetch_add(1, Ordering::Relaxed);
            }
        }
        gallery.apply_after_commit(writing, changes);
        Ok(record)
    }

    /// A search's query, renormalised, or why it cannot be searched with.
    pub(crate) fn check_query(&self, query: &[f32], k: usize) -> Result<Vec<f32>, GalleryError> {
        if k == 0 {
            return Err(GalleryError::InvalidArgument("k must be at least 1".into()));
        }
        validate_embedding(query, self.config.dimension)
    }

    /// The `k` best answers to a checked query in `gallery`, resolved against the store.
    pub(crate) fn search(
        &self,
        gallery: &Gallery,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, GalleryError> {
        let scored = gallery.index.read().search(query, k);
        // The index may still hold a template whose deletion has just committed; the store has the last word.
        let seqs: Vec<u64> = scored.iter().map(|answer| answer.key).collect();
        let keys = self.resolve_keys(gallery, &seqs)?;
        Ok(scored
            .into_iter()
            .zip(keys)
            .filter_map(|(answer, key)| {
                key.map(|key| Hit {
                    id: key.id,
                    similarity: answer.similarity,
                    metadata: key.metadata,
                })
            })
            .collect())
    }

    /// The id and metadata of each sequence number from the store. On a shared store that cannot be reached, from
    /// memory instead: the answer may then include a template deleted meanwhile by another server.
    fn resolve_keys(
        &self,
        gallery: &Gallery,
        seqs: &[u64],
    ) -> Result<Vec<Option<TemplateKey>>, GalleryError> {
        let Some(feed) = &self.feed else {
            return self.store.read()?.template_keys(gallery.row.id, seqs);
        };
        let stored = match feed.reachable() {
            true => self
                .store
                .read()
                .and_then(|snapshot| snapshot.template_keys(gallery.row.id, seqs)),
            false => Err(GalleryError::Unavailable("known to be down".into())),
        };
        match stored {
            Err(error) if error.is_unavailable() => {
                feed.answered_from_memory();
                let keys = gallery.keys.read();
                Ok(seqs
                    .iter()
                    .map(|seq| keys.get(seq).map(|key| key.to_key()))
                    .collect())
            }
            other => other,
        }
    }

    pub(crate) fn get(
        &self,
        app: &str,
        gallery: &str,
        id: Uuid,
    ) -> Result<TemplateRecord, GalleryError> {
        let gallery = self.gallery(app, gallery)?;
        self.store
            .read()?
            .get_template(&gallery.row, id)?
            .ok_or_else(|| GalleryError::TemplateNotFound {
                gallery: gallery.row.name.clone(),
                id,
            })
    }

    pub(crate) fn delete(&self, app: &str, gallery: &str, id: Uuid) -> Result<(), GalleryError> {
        let writing = self.write_order.lock();
        let gallery = self.gallery(app, gallery)?;
        let mut tx = self.store.write()?;
        let seq =
            tx.find_seq(gallery.row.id, id)?
                .ok_or_else(|| GalleryError::TemplateNotFound {
                    gallery: gallery.row.name.clone(),
                    id,
                })?;
        tx.delete_template(seq)?;
        let position = tx.feed_position();
        tx.commit()?;
        if let Some(position) = position.filter(|_| self.feed.is_some()) {
            let removal = Change::Remove {
                seq: position.last,
                gallery_id: gallery.row.id,
                template_seq: seq,
            };
            self.apply_own_commit(writing, position, vec![removal]);
            return Ok(());
        }
        self.total_templates.fetch_sub(1, Ordering::Relaxed);
        gallery.apply_after_commit(writing, vec![IndexChange::Remove { seq }]);
        Ok(())
    }

    pub(crate) fn list(
        &self,
        app: &str,
        gallery: &str,
        page_token: Option<&str>,
        page_size: usize,
    ) -> Result<(Vec<TemplateRecord>, Option<String>), GalleryError> {
        if page_size == 0 {
            return Err(GalleryError::InvalidArgument(
                "page size must be at least 1".into(),
            ));
        }
        let gallery = self.gallery(app, gallery)?;
        let after_seq = match page_token {
            Some(token) if !token.is_empty() => page_token::decode(token, app, &gallery.row.name)?,
            _ => 0,
        };
        let mut page =
            self.store
                .read()?
                .templates_after(&gallery.row, after_seq, page_size + 1)?;
        let next = if page.len() > page_size {
            page.truncate(page_size);
            page.last()
                .map(|(seq, _)| page_token::encode(app, &gallery.row.name, *seq))
        } else {
            None
        };
        Ok((page.into_iter().map(|(_, record)| record).collect(), next))
    }

    pub(crate) fn delete_gallery(&self, app: &str, gallery: &str) -> Result<u64, GalleryError> {
        let writing = self.write_order.lock();
        let gallery = self.gallery(app, gallery)?;
        let mut tx = self.store.write()?;
        let deleted = tx.delete_gallery(gallery.row.id)?;
        let position = tx.feed_position();
        tx.commit()?;
        if let Some(position) = position.filter(|_| self.feed.is_some()) {
            let dropped = Change::DropGallery {
                seq: position.last,
                gallery_id: gallery.row.id,
            };
            self.apply_own_commit(writing, position, vec![dropped]);
            return Ok(deleted);
        }
        gallery.deleted.store(true, Ordering::Release);
        self.unregister(app, &gallery.row.name);
        self.total_templates.fetch_sub(deleted, Ordering::Relaxed);
        drop(writing);
        dump::remove_dump(&dump::gallery_dir(&self.indexes_dir, gallery.row.id));
        Ok(deleted)
    }
}
