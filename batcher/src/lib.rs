//! Generic dynamic batching: many concurrent callers, few model instances.
//!
//! Callers enqueue one input at a time into a bounded queue (one per model) and await a one-shot reply. A
//! scheduler thread keeps filling the *next* batch from the queue while the workers run the current ones, and
//! hands it to the first worker that asks for work; so a batch grows while every worker is busy, and an idle
//! worker never waits when something is queued (unless `max_queue_delay` asks it to wait, at most that long
//! after the batch's oldest item was picked, for a fuller batch, as in Triton). Each worker is an OS thread that
//! owns its own model instance, because running a session needs `&mut`. Requests whose caller has gone or whose
//! deadline has passed are dropped right before their batch is handed over. A full queue answers at once with
//! [`BatchError::QueueFull`] instead of growing latency and memory without bound. A [`LazyBatcher`] starts its
//! model on first use. Knows nothing about faces.

mod handle;
mod lazy;
mod model;
mod observer;
mod request;
mod scheduler;
mod worker;

pub use handle::{Batcher, BatcherConfig, PendingReply, warm_up_batch_sizes};
pub use lazy::{LazyBatcher, LazyError, ModelFactory, StartError};
pub use model::{BatchError, Model, ModelError};
pub use observer::{NoopObserver, Observer};
