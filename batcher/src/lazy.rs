//! A batcher started by its first request: for models most deployments never use, so a server that does not need
//! them never loads them (or downloads their files).

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::{BatchError, Batcher, BatcherConfig, Model, ModelError, Observer};

/// Builds worker `index`'s model; called on a blocking thread, so it may read files or download.
pub type ModelFactory<I, O> =
    Arc<dyn Fn(usize) -> Result<Box<dyn Model<Input = I, Output = O>>, ModelError> + Send + Sync>;

/// Why a lazy batcher could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The factory or the warm-up failed.
    #[error("model {model} failed to start: {error}")]
    Failed { model: String, error: ModelError },
    /// The start-up task itself was lost (a panic).
    #[error("model {model} start-up task failed: {reason}")]
    Lost { model: String, reason: String },
}

pub struct LazyBatcher<I, O> {
    name: String,
    config: BatcherConfig,
    factory: ModelFactory<I, O>,
    observer: Arc<dyn Observer>,
    batcher: OnceCell<Batcher<I, O>>,
}

impl<I: Send + 'static, O: Send + 'static> LazyBatcher<I, O> {
    pub fn new(
        name: &str,
        config: BatcherConfig,
        factory: ModelFactory<I, O>,
        observer: Arc<dyn Observer>,
    ) -> Self {
        Self {
            name: name.to_string(),
            config,
            factory,
            observer,
            batcher: OnceCell::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_started(&self) -> bool {
        self.batcher.initialized()
    }

    fn spawn(&self) -> Result<Batcher<I, O>, StartError> {
        let factory = self.factory.clone();
        Batcher::spawn(
            &self.name,
            self.config.clone(),
            move |index| factory(index),
            self.observer.clone(),
        )
        .map_err(|error| StartError::Failed {
            model: self.name.clone(),
            error,
        })
    }

    /// The batcher, started on a blocking thread by the first caller; later callers wait for that start.
    pub async fn batcher(self: &Arc<Self>) -> Result<&Batcher<I, O>, StartError> {
        self.batcher
            .get_or_try_init(|| async {
                let me = Arc::clone(self);
                tokio::task::spawn_blocking(move || me.spawn())
                    .await
                    .map_err(|e| StartError::Lost {
                        model: self.name.clone(),
                        reason: e.to_string(),
                    })?
            })
            .await
    }

    /// Starts the batcher now from a blocking context (a server preloading its models); a no-op once started.
    pub fn start_blocking(&self) -> Result<(), StartError> {
        if self.batcher.initialized() {
            return Ok(());
        }
        let batcher = self.spawn()?;
        // Two callers may get here at once; the first start wins and the other batcher is dropped.
        let _ = self.batcher.set(batcher);
        Ok(())
    }

    /// Runs one input through the model's queue, starting it first if need be.
    pub async fn infer(self: &Arc<Self>, input: I) -> Result<O, LazyError> {
        let batcher = self.batcher().await.map_err(LazyError::Start)?;
        batcher.infer(input).await.map_err(LazyError::Batch)
    }
}

/// A request to a lazy batcher failed: it could not start, or the request itself failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LazyError {
    #[error(transparent)]
    Start(StartError),
    #[error(transparent)]
    Batch(BatchError),
}
