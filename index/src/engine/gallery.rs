//! One gallery in memory: its store row, its index, and the bookkeeping that keeps the index in step with the
//! store while it is rebuilt or dumped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard, RwLock};

use super::memory_keys::MemoryKeys;
use crate::GalleryStats;
use crate::store::GalleryRow;
use crate::vector_index::VectorIndex;

/// A change to a gallery's index, in the order the store committed it.
#[derive(Debug, Clone)]
pub(crate) enum IndexChange {
    Insert { seq: u64, embedding: Vec<f32> },
    Remove { seq: u64 },
}

/// The index a gallery currently uses, of whichever engine.
pub(crate) type GalleryIndex = Box<dyn VectorIndex>;

/// Index changes not yet in the gallery's dump.
#[derive(Debug, Default)]
pub(crate) struct Undumped {
    pub changes: u64,
    pub since: Option<Instant>,
}

impl Undumped {
    pub(crate) fn record(&mut self, changes: u64) {
        self.changes += changes;
        self.since.get_or_insert_with(Instant::now);
    }
}

pub(crate) struct Gallery {
    pub row: GalleryRow,
    /// Searches share it; changes and swaps take it exclusively.
    pub index: RwLock<GalleryIndex>,
    /// Taken by a write before it releases the engine's write order and held until its index change is applied,
    /// so this gallery's index changes in commit order while writes to other galleries go on.
    pub apply_order: Mutex<()>,
    /// Some while a replacement index is built aside: the changes since the build's store snapshot.
    pub changes_during_build: Mutex<Option<Vec<IndexChange>>>,
    /// One build at a time.
    pub build: Mutex<()>,
    pub undumped: Mutex<Undumped>,
    /// Set when the gallery is deleted, so background work on it stops.
    pub deleted: AtomicBool,
    /// Every template's id and metadata, kept only on a shared store (searches answer from them while it is
    /// unreachable); empty otherwise.
    pub keys: RwLock<MemoryKeys>,
}

impl Gallery {
    pub(crate) fn new(row: GalleryRow, index: GalleryIndex) -> Self {
        Gallery {
            row,
            index: RwLock::new(index),
            apply_order: Mutex::new(()),
            changes_during_build: Mutex::new(None),
            build: Mutex::new(()),
            undumped: Mutex::new(Undumped::default()),
            deleted: AtomicBool::new(false),
            keys: RwLock::new(MemoryKeys::new()),
        }
    }

    /// Applies changes the store has just committed. `writing` is the engine's write order the commit was made
    /// under: it is released only once this gallery's place in the apply order is taken.
    pub(crate) fn apply_after_commit(
        &self,
        writing: MutexGuard<'_, ()>,
        changes: Vec<IndexChange>,
    ) {
        let _in_order = self.apply_order.lock();
        drop(writing);
        self.apply(changes);
    }

    /// All `changes` become visible to searches at once.
    fn apply(&self, changes: Vec<IndexChange>) {
        let mut index = self.index.write();
        for change in &changes {
            apply_to(index.as_mut(), change);
        }
        if index.persists() {
            self.undumped.lock().record(changes.len() as u64);
        }
        if let Some(journal) = self.changes_during_build.lock().as_mut() {
            journal.extend(changes);
        }
    }

    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    pub(crate) fn stats(&self) -> GalleryStats {
        let index = self.index.read();
        GalleryStats {
            gallery: self.row.name.clone(),
            template_count: index.len() as u64,
            index_kind: index.kind().as_str(),
            tombstones: index.tombstones() as u64,
            created_at_ms: self.row.created_at_ms,
            model: self.row.model.clone(),
            dimension: self.row.dimension,
        }
    }
}

/// Applies one change. Keys are never reused, so replaying a change an index already has is harmless.
pub(crate) fn apply_to(index: &mut dyn VectorIndex, change: &IndexChange) {
    match change {
        IndexChange::Insert { seq, embedding } => {
            index.insert(*seq, embedding);
        }
        IndexChange::Remove { seq } => {
            index.remove(*seq);
        }
    }
}
