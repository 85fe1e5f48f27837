//! Applying committed changes to the galleries in memory, with the apply order held: galleries appear with their
//! first change and go with their deletion, and each gallery's changes of a page become visible to searches at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::MutexGuard;

use super::super::EngineCore;
use super::super::dump;
use super::super::gallery::{Gallery, IndexChange};
use super::super::memory_keys::MemoryKey;
use crate::store::{Change, FeedPosition, GalleryRow};

/// Inserts at once above which a batch is built on the build threads.
const PARALLEL_INSERTS: usize = 256;

impl EngineCore {
    /// Applies `changes`, in sequence order; the caller holds the apply order.
    pub(crate) fn apply_changes(&self, changes: &[Change]) {
        // Gallery ids are never reused, so a gallery's changes in a page are inserts and removes, possibly closed
        // by its deletion: grouping by gallery keeps every gallery's own order.
        let mut groups: Vec<(i64, Vec<&Change>)> = Vec::new();
        let mut position: HashMap<i64, usize> = HashMap::new();
        for change in changes {
            let Some(id) = change.gallery_id() else {
                continue;
            };
            let at = *position.entry(id).or_insert_with(|| {
                groups.push((id, Vec::new()));
                groups.len() - 1
            });
            groups[at].1.push(change);
        }
        for (id, group) in groups {
            if group
                .iter()
                .any(|c| matches!(c, Change::DropGallery { .. }))
            {
                self.drop_gallery_by_id(id);
                continue;
            }
            let gallery = match self.gallery_by_id(id) {
                Some(gallery) => gallery,
                None => match group.iter().find_map(|c| match c {
                    Change::Insert { gallery, .. } => Some(gallery),
                    _ => None,
                }) {
                    Some(row) => self.register_row(row.clone()),
                    // Removals in a gallery this server never had: nothing to do.
                    None => continue,
                },
            };
            self.apply_to_gallery(&gallery, &group);
        }
    }

    /// Applies a transaction this server has just committed, after every change committed before it; `writing`
    /// (the engine's write order) is released once the apply order is taken.
    pub(crate) fn apply_own_commit(
        &self,
        writing: MutexGuard<'_, ()>,
        position: FeedPosition,
        changes: Vec<Change>,
    ) {
        let feed = self.feed.as_ref().expect("a store with a feed");
        let mut applied = feed.lock();
        drop(writing);
        if *applied < position.before
            && let Err(error) = self.catch_up_locked(feed, &mut applied, position.before)
        {
            // Committed all the same: the follower applies it once the changes before it can be read.
            tracing::warn!(%error, "could not read the changes committed before this write; it shows up once they are applied");
            feed.contact(!error.is_unavailable());
            return;
        }
        let remaining: Vec<Change> = changes.into_iter().filter(|c| c.seq() > *applied).collect();
        self.apply_changes(&remaining);
        if position.last > *applied {
            *applied = position.last;
            feed.publish(position.last);
        }
    }

    fn apply_to_gallery(&self, gallery: &Gallery, group: &[&Change]) {
        let mut inserts: Vec<(u64, &[f32])> = Vec::new();
        let mut keys: Vec<(u64, MemoryKey)> = Vec::new();
        let mut removals: Vec<u64> = Vec::new();
        for change in group {
            match change {
                Change::Insert {
                    seq,
                    template: Some((key, embedding)),
                    ..
                } => {
                    inserts.push((*seq, embedding.as_slice()));
                    keys.push((*seq, MemoryKey::from(key)));
                }
                Change::Remove { template_seq, .. } => removals.push(*template_seq),
                _ => {}
            }
        }
        if inserts.is_empty() && removals.is_empty() {
            return;
        }
        let _in_order = gallery.apply_order.lock();
        let mut index = gallery.index.write();
        let before = index.len();
        // Inserts first, then removals: a removal never precedes the insert of its key, so the result is the same.
        if inserts.len() >= PARALLEL_INSERTS {
            let target = index.as_mut();
            self.build_pool.install(|| target.insert_batch(&inserts));
        } else {
            index.insert_batch(&inserts);
        }
        for seq in &removals {
            index.remove(*seq);
        }
        let after = index.len();
        if after >= before {
            self.total_templates
                .fetch_add((after - before) as u64, Ordering::Relaxed);
        } else {
            self.total_templates
                .fetch_sub((before - after) as u64, Ordering::Relaxed);
        }
        if index.persists() {
            gallery
                .undumped
                .lock()
                .record((inserts.len() + removals.len()) as u64);
        }
        if let Some(journal) = gallery.changes_during_build.lock().as_mut() {
            journal.extend(inserts.iter().map(|(seq, embedding)| IndexChange::Insert {
                seq: *seq,
                embedding: embedding.to_vec(),
            }));
            journal.extend(removals.iter().map(|&seq| IndexChange::Remove { seq }));
        }
        let mut memory = gallery.keys.write();
        memory.extend(keys);
        for seq in &removals {
            memory.remove(seq);
        }
    }

    pub(crate) fn gallery_by_id(&self, id: i64) -> Option<Arc<Gallery>> {
        self.galleries
            .read()
            .values()
            .flat_map(|by_name| by_name.values())
            .find(|g| g.row.id == id)
            .cloned()
    }

    /// Registers a gallery another server created. A gallery of the same name but another id is one deleted since
    /// (its deletion came earlier in the log): it is dropped first.
    fn register_row(&self, row: GalleryRow) -> Arc<Gallery> {
        if let Ok(stale) = self.gallery(&row.app, &row.name)
            && stale.row.id != row.id
        {
            self.drop_gallery_by_id(stale.row.id);
        }
        self.register(Gallery::new(row, self.new_empty_index()))
    }

    /// Forgets a deleted gallery: its index, its keys and its save.
    pub(crate) fn drop_gallery_by_id(&self, id: i64) {
        let Some(gallery) = self.gallery_by_id(id) else {
            return;
        };
        gallery.deleted.store(true, Ordering::Release);
        self.unregister(&gallery.row.app, &gallery.row.name);
        let held = gallery.index.read().len() as u64;
        self.total_templates.fetch_sub(held, Ordering::Relaxed);
        dump::remove_dump(&dump::gallery_dir(&self.indexes_dir, id));
    }
}
