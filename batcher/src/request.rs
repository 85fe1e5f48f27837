//! One queued request, and the queue's bookkeeping shared by callers, the scheduler and the workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::admission::{ServiceTime, expected_wait};
use crate::{BatchError, Observer};

pub(crate) type ReplySender<O> = oneshot::Sender<Result<O, BatchError>>;

pub(crate) struct Request<I, O> {
    pub input: I,
    pub reply: ReplySender<O>,
    pub enqueued_at: Instant,
    pub deadline: Option<Instant>,
}

/// Why a request is not worth running any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abandoned {
    /// Its deadline passed while it waited (whether or not its caller is still there).
    Expired,
    /// Its caller stopped waiting before any deadline.
    CallerGone,
}

impl<I, O> Request<I, O> {
    /// Whether running it would be wasted work, and why.
    pub fn abandoned(&self, now: Instant) -> Option<Abandoned> {
        if self.deadline.is_some_and(|deadline| deadline <= now) {
            Some(Abandoned::Expired)
        } else if self.reply.is_closed() {
            Some(Abandoned::CallerGone)
        } else {
            None
        }
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
    /// Longest expected queue time a new request is admitted with; `None`: only the capacity bounds the queue.
    pub budget: Option<Duration>,
    pub workers: usize,
    pub observer: Arc<dyn Observer>,
    /// The workers' measured inference time per item, behind the expected wait.
    pub service: ServiceTime,
    waiting: AtomicUsize,
}

impl QueueState {
    pub fn new(
        model: &str,
        capacity: usize,
        budget: Option<Duration>,
        workers: usize,
        observer: Arc<dyn Observer>,
    ) -> Self {
        Self {
            model: model.to_owned(),
            capacity,
            budget,
            workers,
            observer,
            service: ServiceTime::default(),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The queue time a request arriving now can expect.
    pub fn expected_wait(&self) -> Duration {
        expected_wait(self.waiting(), self.service.per_item(), self.workers)
    }

    /// Refuses a request that could not start within the budget or before its deadline, before it takes a place.
    pub fn admit(&self, now: Instant, deadline: Option<Instant>) -> Result<(), BatchError> {
        if deadline.is_some_and(|deadline| deadline <= now) {
            self.observer.expired(&self.model, 1);
            return Err(BatchError::DeadlineExceeded);
        }
        let expected = self.expected_wait();
        if let Some(budget) = self.budget
            && expected > budget
        {
            self.observer.over_budget(&self.model);
            return Err(BatchError::OverBudget {
                model: self.model.clone(),
                expected_wait: expected,
                budget,
            });
        }
        if deadline.is_some_and(|deadline| now + expected > deadline) {
            self.observer.expired(&self.model, 1);
            return Err(BatchError::DeadlineExceeded);
        }
        Ok(())
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
