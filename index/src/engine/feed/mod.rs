//! Following a shared store's change feed: every index change, this server's own writes and other servers' alike,
//! is applied in sequence (= commit) order, one page of the log at a time under one lock, and the last applied
//! sequence number is published for read-your-writes waits.
//!
//! Own writes apply their changes right after committing (read-your-writes on this server), after fetching any
//! changes other servers committed before them; the follower thread ([`follower`]) wakes on the store's
//! announcements and polls at a bounded interval, so a lost announcement or a dropped connection delays changes but
//! loses none. A server whose log position was pruned (it was away longer than the store keeps it) compares its
//! indexes with the templates themselves instead ([`resync`]).

mod apply;
pub(crate) mod follower;
mod resync;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::{EngineCore, GalleryEngine};
use crate::GalleryError;
use crate::store::{Change, ChangeFeed, FeedProgress, TemplateStore};

/// Changes read from the log per query.
const PAGE: usize = 2000;

/// Where this server stands with the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedStatus {
    /// Every change up to this one is in this server's indexes.
    pub applied: u64,
    /// The last committed change this server has seen.
    pub head: u64,
    /// The store answered the follower's last read.
    pub reachable: bool,
    /// The follower has caught up once since start: the server knows everything committed before it started.
    pub caught_up: bool,
    /// Time since the store last answered the follower.
    pub since_contact: Option<Duration>,
    /// Searches answered from memory because the store could not be reached, since start.
    pub answered_from_memory: u64,
}

impl FeedStatus {
    /// Whether searches may miss committed changes: the store is unreachable or changes are waiting.
    pub fn is_stale(&self) -> bool {
        !self.reachable || self.applied < self.head
    }
}

pub(crate) struct FeedState {
    pub source: Arc<dyn ChangeFeed>,
    /// Held while changes are applied, so they are applied one after another in sequence order; holds the last
    /// applied sequence number.
    applying: Mutex<u64>,
    applied: AtomicU64,
    /// Waiters for a sequence number; notified whenever `applied` moves.
    advanced: Condvar,
    advanced_lock: Mutex<()>,
    head_seen: AtomicU64,
    reachable: AtomicBool,
    caught_up: AtomicBool,
    last_contact: Mutex<Option<Instant>>,
    from_memory: AtomicU64,
}

impl FeedState {
    pub(crate) fn new(source: Arc<dyn ChangeFeed>, applied: u64) -> Self {
        FeedState {
            source,
            applying: Mutex::new(applied),
            applied: AtomicU64::new(applied),
            advanced: Condvar::new(),
            advanced_lock: Mutex::new(()),
            head_seen: AtomicU64::new(applied),
            reachable: AtomicBool::new(true),
            caught_up: AtomicBool::new(false),
            last_contact: Mutex::new(Some(Instant::now())),
            from_memory: AtomicU64::new(0),
        }
    }

    /// The feed of `store`, if it has one, with this server registered on it before the engine takes its start-up
    /// snapshot, so no other server prunes the changes this one will need.
    pub(crate) fn join(store: &dyn TemplateStore) -> Result<Option<FeedState>, GalleryError> {
        let Some(source) = store.feed() else {
            return Ok(None);
        };
        source.report_progress(FeedProgress {
            applied: 0,
            needed: 0,
        })?;
        Ok(Some(FeedState::new(source, 0)))
    }

    /// Sets where the engine's indexes stand after loading them from a snapshot.
    pub(crate) fn start_at(&self, head: u64) {
        *self.applying.lock() = head;
        self.publish(head);
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Takes the apply order.
    pub(crate) fn lock(&self) -> MutexGuard<'_, u64> {
        self.applying.lock()
    }

    /// Makes `seq` the published applied sequence number and wakes its waiters.
    pub(crate) fn publish(&self, seq: u64) {
        self.applied.store(seq, Ordering::Release);
        self.head_seen.fetch_max(seq, Ordering::AcqRel);
        let _guard = self.advanced_lock.lock();
        self.advanced.notify_all();
    }

    pub(crate) fn contact(&self, reachable: bool) {
        let was = self.reachable.swap(reachable, Ordering::AcqRel);
        if reachable {
            *self.last_contact.lock() = Some(Instant::now());
            if !was {
                tracing::info!("template store reachable again: following its changes");
            }
        } else if was {
            tracing::warn!(
                "template store unreachable: searches answer from memory and may be stale; writes fail"
            );
        }
    }

    pub(crate) fn status(&self) -> FeedStatus {
        FeedStatus {
            applied: self.applied(),
            head: self.head_seen.load(Ordering::Acquire),
            reachable: self.reachable.load(Ordering::Acquire),
            caught_up: self.caught_up.load(Ordering::Acquire),
            since_contact: self.last_contact.lock().map(|at| at.elapsed()),
            answered_from_memory: self.from_memory.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn answered_from_memory(&self) {
        self.from_memory.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Acquire)
    }

    /// Waits until `seq` is applied, at most `timeout`; true when it is.
    pub(crate) fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.advanced_lock.lock();
        while self.applied() < seq {
            if self.advanced.wait_until(&mut guard, deadline).timed_out() {
                return self.applied() >= seq;
            }
        }
        true
    }
}

impl GalleryEngine {
    /// Where this server stands with the store's change feed; `None` for a store without one.
    pub fn feed_status(&self) -> Option<FeedStatus> {
        self.core.feed.as_ref().map(|feed| feed.status())
    }

    /// The last change of the feed in this server's indexes; `None` for a store without a feed.
    pub fn applied_seq(&self) -> Option<u64> {
        self.core.feed.as_ref().map(|feed| feed.applied())
    }

    /// Waits until change `seq` is in this server's indexes, at most `timeout`; true when it is (at once for a
    /// store without a feed, whose writes are all this server's).
    pub fn wait_for_seq(&self, seq: u64, timeout: Duration) -> bool {
        self.core
            .feed
            .as_ref()
            .is_none_or(|feed| feed.wait_for(seq, timeout))
    }

    /// Applies every change committed up to now (what the follower thread does when woken); returns the last
    /// applied sequence number. An error for a store without a feed.
    pub fn catch_up(&self) -> Result<u64, GalleryError> {
        self.core.catch_up()
    }
}

impl EngineCore {
    fn feed_state(&self) -> Result<&FeedState, GalleryError> {
        self.feed.as_ref().ok_or_else(|| {
            GalleryError::InvalidArgument("the template store has no change feed".into())
        })
    }

    /// Applies every change committed up to now; returns the last applied sequence number.
    pub(crate) fn catch_up(&self) -> Result<u64, GalleryError> {
        let feed = self.feed_state()?;
        let head = match feed.source.head() {
            Ok(head) => head,
            Err(e) => {
                feed.contact(!e.is_unavailable());
                return Err(e);
            }
        };
        feed.head_seen.fetch_max(head, Ordering::AcqRel);
        let mut applied = feed.lock();
        let result = self.catch_up_locked(feed, &mut applied, head);
        feed.contact(!matches!(&result, Err(e) if e.is_unavailable()));
        if result.is_ok() && *applied >= head {
            feed.caught_up.store(true, Ordering::Release);
        }
        result.map(|()| *applied)
    }

    /// Applies the changes after `*applied` up to `upto`, with the apply order held.
    pub(crate) fn catch_up_locked(
        &self,
        feed: &FeedState,
        applied: &mut u64,
        upto: u64,
    ) -> Result<(), GalleryError> {
        while *applied < upto && !self.is_shutting_down() {
            let page = feed.source.changes(*applied, upto, None, PAGE)?;
            let changes = match page {
                Some(changes) if changes.first().is_some_and(|c| c.seq() == *applied + 1) => {
                    changes
                }
                // Pruned past this server's position (or a hole where the log is gapless): compare instead.
                _ => {
                    tracing::warn!(
                        applied = *applied,
                        upto,
                        "the change log no longer reaches back to this server's position; comparing the indexes with the templates table"
                    );
                    *applied = self.resync()?;
                    feed.publish(*applied);
                    continue;
                }
            };
            let last = changes.last().map_or(*applied, Change::seq);
            self.apply_changes(&changes);
            *applied = last;
            feed.publish(last);
        }
        Ok(())
    }
}
