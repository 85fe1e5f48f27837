//! What a batched model must provide, and the errors callers see.

/// A model that runs whole batches. Each worker thread owns one instance, so it needs `Send` but not `Sync`.
pub trait Model: Send + 'static {
    type Input: Send + 'static;
    type Output: Send + 'static;

    /// Largest batch `run` accepts (the effective max is min(this, config.max_batch_size)).
    fn max_batch_size(&self) -> usize;

    /// Runs one batch; returns exactly one output per input, in input order.
    fn run(&mut self, inputs: Vec<Self::Input>) -> Result<Vec<Self::Output>, ModelError>;

    /// Called once per worker at start-up for each batch size in `batch_sizes` (default: nothing).
    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        let _ = batch_sizes;
        Ok(())
    }
}

/// A model failed to build, warm up or run a batch. The message is the model's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(pub String);

/// Why a request got no output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The queue already holds `capacity` waiting requests; retry later (RESOURCE_EXHAUSTED).
    #[error("the queue of model {model} is full ({capacity} requests waiting)")]
    QueueFull { model: String, capacity: usize },
    /// The wait expected behind the requests already queued is over the model's queue-time budget; retry once
    /// the excess has drained ([`BatchError::retry_after`]) (RESOURCE_EXHAUSTED).
    #[error(
        "the queue of model {model} is over its time budget (expected wait {} ms, budget {} ms)",
        expected_wait.as_millis(),
        budget.as_millis()
    )]
    OverBudget {
        model: String,
        expected_wait: std::time::Duration,
        budget: std::time::Duration,
    },
    /// The request's deadline passed before it was run, so it was not run.
    #[error("the deadline passed before the request was run")]
    DeadlineExceeded,
    /// The batcher shut down (or its workers stopped) before the request could be answered.
    #[error("the batcher has stopped")]
    Stopped,
    /// The model failed on the batch holding this request (an error, a panic or a wrong number of outputs).
    #[error("model failed: {0}")]
    Model(#[from] ModelError),
}

impl BatchError {
    /// For a refusal by load: how long until the queue is expected to admit requests again.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::OverBudget {
                expected_wait,
                budget,
                ..
            } => Some(expected_wait.saturating_sub(*budget)),
            _ => None,
        }
    }
}

/// A model chosen at run time (say, from a registry of model families) batches like any other.
impl<I: Send + 'static, O: Send + 'static> Model for Box<dyn Model<Input = I, Output = O>> {
    type Input = I;
    type Output = O;

    fn max_batch_size(&self) -> usize {
        (**self).max_batch_size()
    }

    fn run(&mut self, inputs: Vec<I>) -> Result<Vec<O>, ModelError> {
        (**self).run(inputs)
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        (**self).warm_up(batch_sizes)
    }
}
