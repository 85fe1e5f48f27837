//! Building a gallery's index from the store aside from the one in use, then swapping it in. Searches keep
//! using the old index throughout; writes keep going to it and are journaled for the new one.

use std::sync::Arc;
use std::time::Instant;

use super::EngineCore;
use super::dump;
use super::gallery::{Gallery, GalleryIndex, IndexChange, apply_to};
use crate::store::ReadTransaction;
use crate::vector_index::IndexKind;
use crate::{GalleryError, engines};

/// Vectors read from the store per parallel insert: enough to keep every build thread busy.
const BUILD_BATCH: usize = 4096;
/// Journaled changes are replayed without blocking writers until fewer than this remain.
const FINAL_REPLAY: usize = 256;

impl EngineCore {
    /// The index kind for a gallery of `templates`, built afresh.
    pub(crate) fn kind_for(&self, templates: usize) -> IndexKind {
        engines::kind_for(&self.config.index, templates)
    }

    /// The index kind a gallery of `templates` now searched by `current` should have (with hysteresis).
    pub(crate) fn kind_to_keep(&self, templates: usize, current: IndexKind) -> IndexKind {
        engines::kind_to_keep(&self.config.index, templates, current)
    }

    /// Builds an index of `kind` from the gallery's vectors as `snapshot` sees them; None when the engine is
    /// shutting down or the gallery was deleted meanwhile.
    pub(crate) fn build_index(
        &self,
        snapshot: &dyn ReadTransaction,
        gallery: &Gallery,
        kind: IndexKind,
        expected: usize,
    ) -> Result<Option<GalleryIndex>, GalleryError> {
        let started = Instant::now();
        let mut index = engines::new_index(
            kind,
            self.config.dimension,
            &self.config.index,
            expected,
            &dump::gallery_dir(&self.indexes_dir, gallery.row.id),
        );
        let mut after_seq = 0;
        loop {
            if self.is_shutting_down() || gallery.is_deleted() {
                return Ok(None);
            }
            let batch = snapshot.vectors_after(gallery.row.id, after_seq, BUILD_BATCH)?;
            let Some(last) = batch.last() else {
                break;
            };
            after_seq = last.seq;
            let items: Vec<(u64, &[f32])> = batch
                .iter()
                .map(|s| (s.seq, s.embedding.as_slice()))
                .collect();
            self.build_pool.install(|| index.insert_batch(&items));
            if kind != IndexKind::Exact && index.held() % (BUILD_BATCH * 25) < BUILD_BATCH {
                tracing::info!(gallery = %gallery.row.name, done = index.held(), of = expected, engine = kind.as_str(), "building index");
            }
        }
        if kind != IndexKind::Exact {
            tracing::info!(
                gallery = %gallery.row.name,
                engine = kind.as_str(),
                templates = index.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "built index"
            );
        }
        Ok(Some(index))
    }

    /// Builds a new index of `kind` for the gallery from the store and swaps it in; a saving index is then dumped.
    pub(crate) fn rebuild(
        &self,
        gallery: &Arc<Gallery>,
        kind: IndexKind,
    ) -> Result<(), GalleryError> {
        let _one_build = gallery.build.lock();
        let journal = Journal::start(gallery);
        let (snapshot, expected) = {
            // With the write order and the apply order held, every committed change is in the index and none is
            // in flight: the snapshot taken now is where the journal starts.
            let _writing = self.write_order.lock();
            let _in_order = gallery.apply_order.lock();
            if gallery.is_deleted() {
                return Ok(());
            }
            journal.open();
            let snapshot = self.store.read()?;
            let (count, _) = snapshot.gallery_extent(gallery.row.id)?;
            (snapshot, count as usize)
        };
        let built = self.build_index(&*snapshot, gallery, kind, expected)?;
        drop(snapshot);
        let Some(mut index) = built else {
            return Ok(());
        };

        loop {
            let changes = journal.drain();
            for change in &changes {
                apply_to(index.as_mut(), change);
            }
            if changes.len() < FINAL_REPLAY {
                break;
            }
        }
        let replaced = {
            let _in_order = gallery.apply_order.lock();
            for change in &journal.drain() {
                apply_to(index.as_mut(), change);
            }
            journal.close();
            *gallery.undumped.lock() = Default::default();
            std::mem::replace(&mut *gallery.index.write(), index)
        };
        // Dropping a large graph takes a while; do it with no lock held.
        drop(replaced);

        let saved = self.checkpoint_gallery(gallery)?;
        if !saved {
            dump::remove_dump(&dump::gallery_dir(&self.indexes_dir, gallery.row.id));
        }
        Ok(())
    }

    /// Saves the gallery's index, when its engine saves itself and it holds anything; returns whether it saved.
    pub(crate) fn checkpoint_gallery(&self, gallery: &Gallery) -> Result<bool, GalleryError> {
        // Read before the index: the save holds at least every change up to it.
        let feed_seq = self.feed.as_ref().map(|feed| feed.applied());
        // Writes to this gallery wait for the save (no engine saves while inserting); searches go on.
        let index = gallery.index.read();
        if !index.persists() || gallery.is_deleted() || index.held() == 0 {
            return Ok(false);
        }
        let started = Instant::now();
        let dir = dump::gallery_dir(&self.indexes_dir, gallery.row.id);
        let manifest = dump::write_dump(
            &dir,
            gallery.row.id,
            &self.config.model,
            index.as_ref(),
            feed_seq,
        )?;
        *gallery.undumped.lock() = Default::default();
        tracing::info!(
            gallery = %gallery.row.name,
            engine = manifest.engine,
            templates = manifest.template_count,
            tombstones = index.tombstones(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "saved index"
        );
        Ok(true)
    }
}

/// The changes a gallery makes while a new index is built for it; closed again however the build ends.
struct Journal<'a> {
    gallery: &'a Gallery,
}

impl<'a> Journal<'a> {
    fn start(gallery: &'a Gallery) -> Self {
        Journal { gallery }
    }

    fn open(&self) {
        *self.gallery.changes_during_build.lock() = Some(Vec::new());
    }

    fn drain(&self) -> Vec<IndexChange> {
        self.gallery
            .changes_during_build
            .lock()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn close(&self) {
        *self.gallery.changes_during_build.lock() = None;
    }
}

impl Drop for Journal<'_> {
    fn drop(&mut self) {
        self.close();
    }
}
