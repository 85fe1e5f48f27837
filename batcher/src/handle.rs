//! The callers' side: configuration, start-up, and submitting requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use tokio::sync::oneshot;

use crate::request::{QueueState, Request};
use crate::scheduler::Scheduler;
use crate::worker::start_workers;
use crate::{BatchError, Model, ModelError, Observer};

#[derive(Debug, Clone)]
pub struct BatcherConfig {
    /// Largest batch handed to a worker (lowered to the model's own limit).
    pub max_batch_size: usize,
    /// How long a batch that is not full may wait, after its oldest item was picked, for more items while a
    /// worker is free. Zero runs whatever is there at once.
    pub max_queue_delay: Duration,
    /// Requests allowed to wait (not counting batches already running); past it callers get `QueueFull`.
    pub queue_capacity: usize,
    /// Longest expected queue time a request is admitted with (`OverBudget` past it); `None`: no time budget.
    pub max_queue_time: Option<Duration>,
    /// Worker threads, each with its own model instance.
    pub workers: usize,
    /// Run each model over [`warm_up_batch_sizes`] before accepting requests.
    pub warm_up: bool,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_batch_size: 8,
            max_queue_delay: Duration::ZERO,
            queue_capacity: 256,
            max_queue_time: None,
            workers: 1,
            warm_up: true,
        }
    }
}

impl BatcherConfig {
    fn validate(&self, model: &str) -> Result<(), ModelError> {
        let problem = if self.max_batch_size == 0 {
            "max_batch_size must be at least 1"
        } else if self.queue_capacity == 0 {
            "queue_capacity must be at least 1"
        } else if self.workers == 0 {
            "workers must be at least 1"
        } else {
            return Ok(());
        };
        Err(ModelError(format!(
            "invalid batcher config for model {model}: {problem}"
        )))
    }
}

/// The batch sizes each worker warms up over: the powers of two below `max_batch_size`, then `max_batch_size`.
/// Every size up to the maximum can occur, but warming each one would make start-up slow for large maxima, and
/// runtimes that plan per shape mostly reuse what these leave behind.
pub fn warm_up_batch_sizes(max_batch_size: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = std::iter::successors(Some(1_usize), |size| size.checked_mul(2))
        .take_while(|&size| size < max_batch_size)
        .collect();
    if max_batch_size > 0 {
        sizes.push(max_batch_size);
    }
    sizes
}

/// Cheap to clone; when the last handle is dropped the threads finish the queued work and exit.
pub struct Batcher<I, O> {
    shared: Arc<Shared<I, O>>,
}

struct Shared<I, O> {
    requests: Sender<Request<I, O>>,
    queue: Arc<QueueState>,
    max_batch_size: usize,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// `make_model(worker_index)` builds one model per worker (on that worker's thread or before; a model need not
    /// be Sync). Fails if any model fails to build or to warm up.
    ///
    /// Blocks until every worker has warmed up: from async code, call it inside `spawn_blocking`.
    pub fn spawn<M, F>(
        name: &str,
        config: BatcherConfig,
        mut make_model: F,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, ModelError>
    where
        M: Model<Input = I, Output = O>,
        F: FnMut(usize) -> Result<M, ModelError> + Send + 'static,
    {
        config.validate(name)?;
        let models = (0..config.workers)
            .map(|index| {
                make_model(index).map_err(|error| {
                    ModelError(format!("building worker {index} of model {name}: {error}"))
                })
            })
            .collect::<Result<Vec<M>, _>>()?;
        let max_batch_size = models
            .iter()
            .map(Model::max_batch_size)
            .fold(config.max_batch_size, usize::min);
        if max_batch_size == 0 {
            return Err(ModelError(format!(
                "model {name} accepts no batch size above 0"
            )));
        }
        let warm_up_sizes = if config.warm_up {
            warm_up_batch_sizes(max_batch_size)
        } else {
            Vec::new()
        };

        let queue = Arc::new(QueueState::new(
            name,
            config.queue_capacity,
            config.max_queue_time,
            config.workers,
            observer,
        ));
        // The channel never fills: `QueueState` refuses requests before it would.
        let (requests, queued) = crossbeam_channel::bounded(config.queue_capacity);
        let workers = start_workers(models, &warm_up_sizes, &queue)?;
        Scheduler::start(
            queued,
            workers,
            max_batch_size,
            config.max_queue_delay,
            Arc::clone(&queue),
        )?;
        tracing::info!(
            model = name,
            workers = config.workers,
            max_batch_size,
            max_queue_delay = ?config.max_queue_delay,
            queue_capacity = config.queue_capacity,
            max_queue_time = ?config.max_queue_time,
            "batcher started"
        );
        Ok(Self {
            shared: Arc::new(Shared {
                requests,
                queue,
                max_batch_size,
            }),
        })
    }

    /// Enqueues one input and awaits its output, under the task's deadline ([`crate::with_deadline`]) if any.
    /// Refuses at once when the queue is full or over its time budget. If the returned future is dropped before
    /// the item runs (caller gone), the item is dropped before inference.
    pub async fn infer(&self, input: I) -> Result<O, BatchError> {
        self.submit(input, None)?.await
    }

    /// Same, but the item is dropped (answered DeadlineExceeded) if `deadline` (or the task's, if earlier) passes
    /// before it is run.
    pub async fn infer_with_deadline(
        &self,
        input: I,
        deadline: Option<Instant>,
    ) -> Result<O, BatchError> {
        self.submit(input, deadline)?.await
    }

    /// Same, blocking the calling thread; for threads outside an async runtime (it panics inside one).
    pub fn infer_blocking(&self, input: I, deadline: Option<Instant>) -> Result<O, BatchError> {
        self.submit(input, deadline)?.wait_blocking()
    }

    /// Enqueues one input now and returns its pending reply. Requests submitted one after another are run in
    /// that order, so a caller can submit a whole stream before awaiting any reply. Dropping the reply
    /// abandons the request. The deadline is the earlier of `deadline` and the task's; the reply answers
    /// `DeadlineExceeded` when it passes, whether or not the request is still queued.
    pub fn submit(
        &self,
        input: I,
        deadline: Option<Instant>,
    ) -> Result<PendingReply<O>, BatchError> {
        let queue = &self.shared.queue;
        let deadline = crate::deadline::earliest(deadline, crate::deadline::current_deadline());
        let enqueued_at = Instant::now();
        queue.admit(enqueued_at, deadline)?;
        let depth = queue.reserve().ok_or_else(|| queue.reject())?;
        let (reply, receiver) = oneshot::channel();
        match self.shared.requests.try_send(Request {
            input,
            reply,
            enqueued_at,
            deadline,
        }) {
            Ok(()) => {
                queue.observer.queue_depth(&queue.model, depth);
                Ok(PendingReply {
                    receiver,
                    deadline,
                    timer: None,
                })
            }
            Err(TrySendError::Full(_)) => {
                queue.release(1);
                Err(queue.reject())
            }
            Err(TrySendError::Disconnected(_)) => {
                queue.release(1);
                Err(BatchError::Stopped)
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.queue.model
    }

    /// Requests waiting: queued or in the batch being formed, not yet handed to a worker.
    pub fn queue_depth(&self) -> usize {
        self.shared.queue.waiting()
    }

    pub fn queue_capacity(&self) -> usize {
        self.shared.queue.capacity
    }

    pub fn effective_max_batch_size(&self) -> usize {
        self.shared.max_batch_size
    }

    /// Whether a request submitted now would be admitted (time budget and the task's deadline; the capacity is
    /// checked on submission), without queueing anything: a caller can refuse before the work that precedes the
    /// queue, such as decoding a photo. A refusal is counted like one on submission.
    pub fn admits(&self) -> Result<(), BatchError> {
        self.shared
            .queue
            .admit(Instant::now(), crate::deadline::current_deadline())
    }

    /// The queue time a request submitted now can expect (zero before the first batch is measured).
    pub fn expected_wait(&self) -> Duration {
        self.shared.queue.expected_wait()
    }
}

/// The reply to one submitted request: await it, or call [`PendingReply::wait_blocking`]. Dropping it tells the
/// batcher that nobody waits for the answer, so the request is not run if it has not started yet.
#[must_use = "dropping a pending reply abandons its request"]
pub struct PendingReply<O> {
    receiver: oneshot::Receiver<Result<O, BatchError>>,
    deadline: Option<Instant>,
    /// Started on the first poll (inside the runtime), so a reply awaited by `wait_blocking` needs no timer.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<O> PendingReply<O> {
    /// Blocks the calling thread until the answer comes; panics if called inside an async runtime.
    pub fn wait_blocking(self) -> Result<O, BatchError> {
        self.receiver
            .blocking_recv()
            .unwrap_or(Err(BatchError::Stopped))
    }
}

impl<O> Future for PendingReply<O> {
    type Output = Result<O, BatchError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        // The sender is only dropped unanswered when the batcher's threads have stopped.
        if let Poll::Ready(answer) = Pin::new(&mut self.receiver).poll(context) {
            return Poll::Ready(answer.unwrap_or(Err(BatchError::Stopped)));
        }
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        // Past the deadline the caller is answered now; the scheduler drops the request (counted as expired)
        // when it reaches it, since its deadline has passed.
        timer
            .as_mut()
            .poll(context)
            .map(|()| Err(BatchError::DeadlineExceeded))
    }
}
