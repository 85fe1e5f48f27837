//! The scheduler thread: forms the next batch from the queue while workers run, and hands it to a free worker.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::ModelError;
use crate::request::{Abandoned, QueueState, Request};
use crate::worker::{Batch, WorkerLinks};

pub(crate) struct Scheduler<I, O> {
    requests: Receiver<Request<I, O>>,
    /// False once every `Batcher` handle is gone and the queue has been drained.
    accepting: bool,
    worker_ready: Receiver<usize>,
    worker_batches: Vec<Sender<Batch<I, O>>>,
    idle_workers: Vec<usize>,
    next_batch: Vec<Request<I, O>>,
    /// When the oldest request of `next_batch` was picked from the queue: `max_queue_delay` counts from here.
    next_batch_started: Option<Instant>,
    max_batch_size: usize,
    max_queue_delay: Duration,
    queue: Arc<QueueState>,
}

enum Event<I, O> {
    Request(Request<I, O>),
    QueueClosed,
    WorkerReady(usize),
    WorkersGone,
    DelayOver,
}

impl<I: Send + 'static, O: Send + 'static> Scheduler<I, O> {
    pub fn start(
        requests: Receiver<Request<I, O>>,
        workers: WorkerLinks<I, O>,
        max_batch_size: usize,
        max_queue_delay: Duration,
        queue: Arc<QueueState>,
    ) -> Result<(), ModelError> {
        let name = format!("{}-scheduler", queue.model);
        let scheduler = Scheduler {
            requests,
            accepting: true,
            worker_ready: workers.ready,
            worker_batches: workers.batches,
            idle_workers: Vec::new(),
            next_batch: Vec::with_capacity(max_batch_size),
            next_batch_started: None,
            max_batch_size,
            max_queue_delay,
            queue,
        };
        thread::Builder::new()
            .name(name)
            .spawn(move || scheduler.run())
            .map(drop)
            .map_err(|error| ModelError(format!("cannot start the batch scheduler: {error}")))
    }

    fn run(mut self) {
        // Returning drops the workers' batch channels, which ends their threads once their current batch is done.
        while self.accepting || !self.next_batch.is_empty() {
            if !self.idle_workers.is_empty() && !self.next_batch.is_empty() {
                self.top_up();
                if self.batch_is_due(Instant::now()) {
                    self.drop_abandoned_and_refill();
                    self.hand_over();
                    continue;
                }
            }
            match self.wait_for_event() {
                Event::Request(request) => self.pick(request),
                Event::QueueClosed => self.accepting = false,
                Event::WorkerReady(index) => self.idle_workers.push(index),
                Event::WorkersGone => return self.stop_without_workers(),
                Event::DelayOver => {}
            }
        }
    }

    fn wait_for_event(&self) -> Event<I, O> {
        let no_requests = crossbeam_channel::never();
        let requests = if self.accepting && self.next_batch.len() < self.max_batch_size {
            &self.requests
        } else {
            &no_requests
        };
        let delay_over = match self.next_batch_started {
            Some(started) if !self.idle_workers.is_empty() => {
                crossbeam_channel::at(started + self.max_queue_delay)
            }
            _ => crossbeam_channel::never(),
        };
        crossbeam_channel::select! {
            recv(requests) -> request => request.map_or(Event::QueueClosed, Event::Request),
            recv(self.worker_ready) -> index => index.map_or(Event::WorkersGone, Event::WorkerReady),
            recv(delay_over) -> _ => Event::DelayOver,
        }
    }

    fn pick(&mut self, request: Request<I, O>) {
        if self.next_batch.is_empty() {
            self.next_batch_started = Some(Instant::now());
        }
        self.next_batch.push(request);
    }

    /// Takes whatever is already queued, up to the batch limit, without waiting.
    fn top_up(&mut self) {
        while self.accepting && self.next_batch.len() < self.max_batch_size {
            match self.requests.try_recv() {
                Ok(request) => self.pick(request),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.accepting = false,
            }
        }
    }

    fn batch_is_due(&self, now: Instant) -> bool {
        self.next_batch.len() >= self.max_batch_size
            || !self.accepting
            || self
                .next_batch_started
                .is_none_or(|started| now >= started + self.max_queue_delay)
    }

    /// Drops the requests nobody needs any more, filling their places from the queue, so a worker never spends
    /// time on them.
    fn drop_abandoned_and_refill(&mut self) {
        loop {
            let now = Instant::now();
            let (mut expired, mut gone) = (0, 0);
            for request in self
                .next_batch
                .extract_if(.., |request| request.abandoned(now).is_some())
            {
                match request.abandoned(now) {
                    Some(Abandoned::Expired) => expired += 1,
                    _ => gone += 1,
                }
                request.answer_abandoned();
            }
            if expired + gone == 0 {
                return;
            }
            let observer = &self.queue.observer;
            if expired > 0 {
                observer.expired(&self.queue.model, expired);
            }
            if gone > 0 {
                observer.dropped(&self.queue.model, gone);
            }
            self.queue.release(expired + gone);
            self.top_up();
        }
    }

    fn hand_over(&mut self) {
        self.next_batch_started = None;
        if self.next_batch.is_empty() {
            return;
        }
        let worker = self
            .idle_workers
            .pop()
            .expect("hand_over is only called with an idle worker");
        let requests = std::mem::replace(
            &mut self.next_batch,
            Vec::with_capacity(self.max_batch_size),
        );
        let size = requests.len();
        let batch = Batch {
            requests,
            handed_over_at: Instant::now(),
        };
        self.queue.release(size);
        // A worker that has gone drops the batch, and its callers are answered `Stopped`.
        let _ = self.worker_batches[worker].send(batch);
    }

    /// Every worker has exited (which only a panic outside `Model::run` can cause): nothing can run any more.
    fn stop_without_workers(mut self) {
        tracing::error!(model = %self.queue.model, "all workers have stopped; failing queued requests");
        let waiting = self.next_batch.len() + self.requests.try_iter().count();
        self.next_batch.clear();
        self.queue.release(waiting);
        // Dropping the queue's receiver here makes later submissions fail with `Stopped`.
    }
}
