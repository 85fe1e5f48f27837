//! The change feed of a store shared by several servers. Every write transaction appends its changes to a log,
//! each under the next sequence number, and sequence numbers grow in commit order (the store serialises writers),
//! so a server that applies the log in sequence order applies every change in the order it was committed. A
//! template's sequence number in the store is the sequence number of the change that inserted it.

use std::time::Duration;

use super::{GalleryRow, TemplateKey};
use crate::GalleryError;

/// Where one write transaction's changes sit in the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedPosition {
    /// Every change up to this one was committed before the transaction took the store's write lock.
    pub before: u64,
    /// The transaction's last change (`before` while it made none).
    pub last: u64,
}

/// One committed change, as a server applies it to its indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Template `seq` was stored in `gallery` (the gallery as it is now). `template` is `None` when the template
    /// was removed since: a later change removes it, but the gallery itself exists.
    Insert {
        seq: u64,
        gallery: GalleryRow,
        template: Option<(TemplateKey, Vec<f32>)>,
    },
    /// Template `template_seq` of the gallery was deleted or replaced.
    Remove {
        seq: u64,
        gallery_id: i64,
        template_seq: u64,
    },
    /// The gallery and every template in it were deleted.
    DropGallery { seq: u64, gallery_id: i64 },
    /// An insert into a gallery deleted since: nothing to apply (the deletion follows).
    Gone { seq: u64 },
}

impl Change {
    pub fn seq(&self) -> u64 {
        match self {
            Change::Insert { seq, .. }
            | Change::Remove { seq, .. }
            | Change::DropGallery { seq, .. }
            | Change::Gone { seq } => *seq,
        }
    }

    pub fn gallery_id(&self) -> Option<i64> {
        match self {
            Change::Insert { gallery, .. } => Some(gallery.id),
            Change::Remove { gallery_id, .. } | Change::DropGallery { gallery_id, .. } => {
                Some(*gallery_id)
            }
            Change::Gone { .. } => None,
        }
    }
}

/// What one server reports to the feed about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedProgress {
    /// Every change up to this one is in the server's indexes.
    pub applied: u64,
    /// The oldest change the server may still want from the log: its oldest index save reflects this one, and a
    /// restart replays the log from there.
    pub needed: u64,
}

pub trait ChangeFeed: Send + Sync {
    /// The last committed change (0 before the first).
    fn head(&self) -> Result<u64, GalleryError>;

    /// Up to `limit` changes with a sequence number in (`after`, `upto`], in sequence order, of every gallery or
    /// only of `gallery`. `None` when the log no longer reaches back to `after`: rows no live server needed were
    /// pruned, and the caller must compare its indexes with the templates themselves.
    fn changes(
        &self,
        after: u64,
        upto: u64,
        gallery: Option<i64>,
        limit: usize,
    ) -> Result<Option<Vec<Change>>, GalleryError>;

    /// Blocks until another server's commit is announced or `timeout` passes; true when one was announced.
    /// Announcements can be lost (a dropped connection), so callers poll at a bounded interval too.
    fn wait_for_changes(&self, timeout: Duration) -> bool;

    /// The longest a follower should wait between two reads of the log.
    fn poll_interval(&self) -> Duration;

    /// Records this server as alive with its progress, and prunes log rows no live server needs.
    fn report_progress(&self, progress: FeedProgress) -> Result<(), GalleryError>;
}
