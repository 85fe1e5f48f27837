//! Catching up without the log: for a server whose position in the change log was pruned (it was away longer than
//! the store keeps changes no live server needs), every gallery in memory is compared with the templates table in one
//! snapshot and given the difference, galleries created since are loaded and deleted ones dropped. Searches go on
//! meanwhile; each gallery changes at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::super::EngineCore;
use super::super::gallery::{Gallery, IndexChange};
use super::super::memory_keys;
use crate::GalleryError;
use crate::store::ReadTransaction;

/// Vectors read per query while inserting the difference.
const RESYNC_BATCH: usize = 4096;

impl EngineCore {
    /// Brings every gallery to the store's current state; returns the last change the snapshot includes. The
    /// caller holds the apply order.
    pub(crate) fn resync(&self) -> Result<u64, GalleryError> {
        let snapshot = self.store.read()?;
        let head = snapshot.feed_head()?.unwrap_or(0);
        let rows = snapshot.galleries()?;
        let live: HashSet<i64> = rows.iter().map(|row| row.id).collect();
        let registered: Vec<Arc<Gallery>> = self
            .galleries
            .read()
            .values()
            .flat_map(|by_name| by_name.values().cloned())
            .collect();
        for gallery in &registered {
            if !live.contains(&gallery.row.id) {
                self.drop_gallery_by_id(gallery.row.id);
            }
        }
        for row in rows {
            match self.gallery_by_id(row.id) {
                Some(gallery) => self.resync_gallery(&*snapshot, &gallery)?,
                None => {
                    let gallery = self.load_gallery(&*snapshot, row)?;
                    let templates = gallery.index.read().len() as u64;
                    self.total_templates.fetch_add(templates, Ordering::Relaxed);
                    self.register(gallery);
                }
            }
        }
        tracing::info!(
            head,
            "indexes compared with the templates table and brought up to date"
        );
        Ok(head)
    }

    fn resync_gallery(
        &self,
        snapshot: &dyn ReadTransaction,
        gallery: &Gallery,
    ) -> Result<(), GalleryError> {
        let keys = memory_keys::load(snapshot, &gallery.row)?;
        let in_index: HashSet<u64> = gallery.index.read().keys().into_iter().collect();
        let removals: Vec<u64> = in_index
            .iter()
            .filter(|seq| !keys.contains_key(seq))
            .copied()
            .collect();
        let mut missing: Vec<u64> = keys
            .keys()
            .filter(|seq| !in_index.contains(seq))
            .copied()
            .collect();
        missing.sort_unstable();
        let mut vectors = Vec::with_capacity(missing.len());
        for chunk in missing.chunks(RESYNC_BATCH) {
            vectors.extend(snapshot.vectors_by_seq(gallery.row.id, chunk)?);
        }

        let _in_order = gallery.apply_order.lock();
        let mut index = gallery.index.write();
        let before = index.len() as u64;
        let items: Vec<(u64, &[f32])> = vectors
            .iter()
            .map(|v| (v.seq, v.embedding.as_slice()))
            .collect();
        let target = index.as_mut();
        self.build_pool.install(|| target.insert_batch(&items));
        for seq in &removals {
            index.remove(*seq);
        }
        let after = index.len() as u64;
        self.total_templates.fetch_add(after, Ordering::Relaxed);
        self.total_templates.fetch_sub(before, Ordering::Relaxed);
        if index.persists() && !(items.is_empty() && removals.is_empty()) {
            gallery
                .undumped
                .lock()
                .record((items.len() + removals.len()) as u64);
        }
        if let Some(journal) = gallery.changes_during_build.lock().as_mut() {
            journal.extend(vectors.iter().map(|v| IndexChange::Insert {
                seq: v.seq,
                embedding: v.embedding.clone(),
            }));
            journal.extend(removals.iter().map(|&seq| IndexChange::Remove { seq }));
        }
        *gallery.keys.write() = keys;
        Ok(())
    }
}
