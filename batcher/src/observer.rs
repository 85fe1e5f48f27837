//! Metrics hooks, so the batcher reports what happens without depending on a metrics library.

use std::time::Duration;

/// Called from caller, scheduler and worker threads; implementations must be cheap and must not block.
pub trait Observer: Send + Sync + 'static {
    /// Requests waiting (queued or in the batch being formed), after a change.
    fn queue_depth(&self, _model: &str, _depth: usize) {}
    /// A request was refused because the queue was full.
    fn rejected(&self, _model: &str) {}
    /// A request was refused because its expected queue time was over the model's budget.
    fn over_budget(&self, _model: &str) {}
    /// Requests not run because their deadline passed in the queue, or would have before their turn (refused at
    /// admission).
    fn expired(&self, _model: &str, _count: usize) {}
    /// Requests dropped before inference because their caller had gone.
    fn dropped(&self, _model: &str, _count: usize) {}
    /// A batch finished: how long each item waited from enqueue to hand-over, how long `run` took, and whether
    /// it produced outputs.
    fn batch_done(
        &self,
        _model: &str,
        _batch_size: usize,
        _queue_times: &[Duration],
        _inference: Duration,
        _ok: bool,
    ) {
    }
}

/// Reports nothing.
pub struct NoopObserver;

impl Observer for NoopObserver {}
