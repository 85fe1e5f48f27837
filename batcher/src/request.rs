//! One queued request, and the queue's bookkeeping shared by callers, the scheduler and the workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::{BatchError, Observer};

pub(crate) type ReplySender<O> = oneshot::Sender<Result<O, BatchError>>;

pub(crate) struct Request<I, O> {
    pub input: I,
    pub reply: ReplySender<O>,
    pub enqueued_at: Instant,
    pub deadline: Option<Instant>,
}

impl<I, O> Request<I, O> {
    /// Running it would be wasted work: its caller stopped waiting or its deadline has passed.
    pub fn is_abandoned(&self, now: Instant) -> bool {
        self.reply.is_closed() || self.deadline.is_some_and(|deadline| deadline <= now)
    }

    /// Tells a caller who is still waiting why its request will not run.
    pub fn answer_abandoned(self) {
        if !self.reply.is_closed() {
            // The receiver may go between the check and the send; then nobody needs the answer.
            let _ = self.reply.send(Err(BatchError::DeadlineExceeded));
        }
    }
}

/// Counts the requests waiting (sent but not yet handed to a worker), which is what the queue bound limits.
/// A counter rather than the channel's own bound, because the batch being formed has already left the channel
/// yet is still waiting.
pub(crate) struct QueueState {
    pub model: String,
    pub capacity: usize,
    pub observer: Arc<dyn Observer>,
    waiting: AtomicUsize,
}

impl QueueState {
    pub fn new(model: &str, capacity: usize, observer: Arc<dyn Observer>) -> Self {
        Self {
            model: model.to_owned(),
            capacity,
            observer,
            waiting: AtomicUsize::new(0),
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Takes one place in the queue and returns the new depth, or `None` when the queue is full.
    pub fn reserve(&self) -> Option<usize> {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < self.capacity).then_some(waiting + 1)
            })
            .ok()
            .map(|previous| previous + 1)
    }

    /// Gives back `count` places and reports the new depth.
    pub fn release(&self, count: usize) {
        if count == 0 {
            return;
        }
        let depth = self.waiting.fetch_sub(count, Ordering::AcqRel) - count;
        self.observer.queue_depth(&self.model, depth);
    }

    /// Reports a refused request and builds the caller's error.
    pub fn reject(&self) -> BatchError {
        self.observer.rejected(&self.model);
        BatchError::QueueFull {
            model: self.model.clone(),
            capacity: self.capacity,
        }
    }
}
