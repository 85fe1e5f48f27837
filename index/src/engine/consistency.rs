//! Comparing a gallery's index with the store.

use std::collections::HashSet;

use super::EngineCore;
use crate::GalleryError;

/// How a gallery's index compares with the store at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexCheck {
    pub index_kind: &'static str,
    pub store_templates: u64,
    pub index_templates: u64,
    /// Stored templates a search cannot find.
    pub missing_from_index: u64,
    /// Index entries (not tombstoned) with no stored template.
    pub stale_in_index: u64,
}

impl IndexCheck {
    pub fn is_consistent(&self) -> bool {
        self.missing_from_index == 0 && self.stale_in_index == 0
    }
}

impl EngineCore {
    pub(crate) fn verify_index(&self, app: &str, name: &str) -> Result<IndexCheck, GalleryError> {
        // With the write order and the apply order held no change is in flight, so the two sides are comparable.
        let _writing = self.write_order.lock();
        let gallery = self.gallery(app, name)?;
        // On a shared store, with the apply order held, the indexes are brought to the snapshot's position first.
        let mut applying = self.feed.as_ref().map(|feed| (feed, feed.lock()));
        let snapshot = self.store.read()?;
        let head = snapshot.feed_head()?;
        if let (Some((feed, applied)), Some(head)) = (applying.as_mut(), head) {
            self.catch_up_locked(feed, applied, head)?;
        }
        let _in_order = gallery.apply_order.lock();
        let in_store: HashSet<u64> = snapshot.gallery_seqs(gallery.row.id)?.into_iter().collect();
        let index = gallery.index.read();
        let in_index: HashSet<u64> = index.keys().into_iter().collect();
        Ok(IndexCheck {
            index_kind: index.kind().as_str(),
            store_templates: in_store.len() as u64,
            index_templates: in_index.len() as u64,
            missing_from_index: in_store.difference(&in_index).count() as u64,
            stale_in_index: in_index.difference(&in_store).count() as u64,
        })
    }
}
