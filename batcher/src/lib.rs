//! Generic dynamic batching: many concurrent callers, few model instances.
//!
//! Callers enqueue one input at a time into a bounded queue (one per model) and await a one-shot reply. A
//! scheduler thread keeps filling the *next* batch from the queue while the workers run the current ones, and
//! hands it to the first worker that asks for work; so a batch grows while every worker is busy, and an idle
//! worker never waits when something is queued (unless `max_queue_delay` asks it to wait, at most that long
//! after the batch's oldest item was picked, for a fuller batch, as in Triton). Each worker is an OS thread that
//! owns its own model instance, because running a session needs `&mut`. Requests whose caller has gone or whose
//! deadline has passed are dropped right before their batch is handed over, and a caller whose deadline passes
//! while it waits is answered then. Admission bounds the queue by time: a request whose expected wait (queue depth
//! times the measured service time) is over the model's budget gets [`BatchError::OverBudget`] at once, one that
//! could not start before its deadline [`BatchError::DeadlineExceeded`], and a full queue [`BatchError::QueueFull`],
//! instead of growing latency and memory without bound. Deadlines come from the call or from the task
//! ([`with_deadline`]). A [`LazyBatcher`] starts its model on first use. Knows nothing about faces.

mod admission;
mod deadline;
mod handle;
mod lazy;
mod model;
mod observer;
mod request;
mod scheduler;
mod worker;

pub use deadline::{current_deadline, earliest, with_deadline};
pub use handle::{Batcher, BatcherConfig, PendingReply, warm_up_batch_sizes};
pub use lazy::{LazyBatcher, LazyError, ModelFactory, StartError};
pub use model::{BatchError, Model, ModelError};
pub use observer::{NoopObserver, Observer};
