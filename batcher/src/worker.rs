//! Worker threads: each owns one model instance, warms it up, then runs the batches the scheduler hands it.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::request::{QueueState, Request};
use crate::{BatchError, Model, ModelError};

/// Requests handed to one worker, and when they were handed over (the end of their queue time).
pub(crate) struct Batch<I, O> {
    pub requests: Vec<Request<I, O>>,
    pub handed_over_at: Instant,
}

/// The scheduler's ends of the worker channels. A worker sends its index on `ready` each time it is free, then
/// takes one batch from its own channel in `batches`; so a batch only goes to a worker that is waiting for one.
pub(crate) struct WorkerLinks<I, O> {
    pub ready: Receiver<usize>,
    pub batches: Vec<Sender<Batch<I, O>>>,
}

/// Starts one thread per model and waits until every model has warmed up over `warm_up_sizes`. On failure the
/// threads that did start exit by themselves once the returned channels' ends are dropped.
pub(crate) fn start_workers<M: Model>(
    models: Vec<M>,
    warm_up_sizes: &[usize],
    queue: &Arc<QueueState>,
) -> Result<WorkerLinks<M::Input, M::Output>, ModelError> {
    let worker_count = models.len();
    let (ready_sender, ready) = crossbeam_channel::unbounded();
    let (warm_up_sender, warm_up_results) = crossbeam_channel::unbounded();
    let mut batches = Vec::with_capacity(worker_count);
    for (index, model) in models.into_iter().enumerate() {
        let (batch_sender, batch_receiver) = crossbeam_channel::bounded(1);
        batches.push(batch_sender);
        let worker = Worker {
            index,
            model,
            queue: Arc::clone(queue),
            ready: ready_sender.clone(),
            batches: batch_receiver,
        };
        let warm_up_sizes = warm_up_sizes.to_vec();
        let warm_up_sender = warm_up_sender.clone();
        thread::Builder::new()
            .name(format!("{}-worker-{index}", queue.model))
            .spawn(move || worker.run(&warm_up_sizes, warm_up_sender))
            .map_err(|error| {
                ModelError(format!(
                    "cannot start worker {index} of model {}: {error}",
                    queue.model
                ))
            })?;
    }
    drop(warm_up_sender);
    for _ in 0..worker_count {
        match warm_up_results.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                return Err(ModelError(format!(
                    "a worker of model {} stopped while warming up",
                    queue.model
                )));
            }
        }
    }
    Ok(WorkerLinks { ready, batches })
}

struct Worker<M: Model> {
    index: usize,
    model: M,
    queue: Arc<QueueState>,
    ready: Sender<usize>,
    batches: Receiver<Batch<M::Input, M::Output>>,
}

impl<M: Model> Worker<M> {
    fn run(mut self, warm_up_sizes: &[usize], warm_up_result: Sender<Result<(), ModelError>>) {
        let warmed_up = self.warm_up(warm_up_sizes);
        let failed = warmed_up.is_err();
        let _ = warm_up_result.send(warmed_up);
        if failed {
            return;
        }
        drop(warm_up_result);
        // Both channels close when the batcher has shut down (or failed to start): the thread then ends.
        while self.ready.send(self.index).is_ok() {
            let Ok(batch) = self.batches.recv() else {
                break;
            };
            self.run_batch(batch);
        }
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        if batch_sizes.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| self.model.warm_up(batch_sizes)))
            .unwrap_or_else(|panic| Err(ModelError(format!("panicked: {}", panic_message(&panic)))))
            .map_err(|error| {
                ModelError(format!(
                    "warming up worker {} of model {}: {error}",
                    self.index, self.queue.model
                ))
            });
        if result.is_ok() {
            tracing::info!(
                model = %self.queue.model,
                worker = self.index,
                ?batch_sizes,
                elapsed = ?started.elapsed(),
                "warmed up"
            );
        }
        result
    }

    fn run_batch(&mut self, batch: Batch<M::Input, M::Output>) {
        let size = batch.requests.len();
        let mut inputs = Vec::with_capacity(size);
        let mut replies = Vec::with_capacity(size);
        let mut queue_times: Vec<Duration> = Vec::with_capacity(size);
        for request in batch.requests {
            queue_times.push(
                batch
                    .handed_over_at
                    .saturating_duration_since(request.enqueued_at),
            );
            inputs.push(request.input);
            replies.push(request.reply);
        }

        let started = Instant::now();
        // A panic fails this batch's requests, not the worker: the model is used again afterwards, and if the
        // panic left it broken, its later batches fail visibly too.
        let outcome = catch_unwind(AssertUnwindSafe(|| self.model.run(inputs)));
        let inference = started.elapsed();
        self.queue.service.record(size, inference);
        let outputs = match outcome {
            Ok(Ok(outputs)) if outputs.len() == size => Ok(outputs),
            Ok(Ok(outputs)) => Err(ModelError(format!(
                "the model returned {} outputs for a batch of {size}",
                outputs.len()
            ))),
            Ok(Err(error)) => Err(error),
            Err(panic) => Err(ModelError(format!(
                "the model panicked: {}",
                panic_message(&panic)
            ))),
        };
        self.queue.observer.batch_done(
            &self.queue.model,
            size,
            &queue_times,
            inference,
            outputs.is_ok(),
        );

        match outputs {
            Ok(outputs) => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    // A caller that has gone since hand-over no longer needs its answer.
                    let _ = reply.send(Ok(output));
                }
            }
            Err(error) => {
                tracing::warn!(model = %self.queue.model, worker = self.index, size, %error, "batch failed");
                for reply in replies {
                    let _ = reply.send(Err(BatchError::Model(error.clone())));
                }
            }
        }
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    if let Some(message) = panic.downcast_ref::<&str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "(no message)"
    }
}
