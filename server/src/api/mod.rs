//! The operations of the API, independent of the wire: each takes a request message and the calling application and
//! returns a response message or an [`ApiError`]. gRPC and HTTP handlers only translate to and from these.

mod analyze;
mod checks;
pub mod convert;
mod error;
mod estimate;
mod estimate_convert;
pub mod estimate_models;
mod estimate_request;
pub mod estimate_settings;
mod estimate_slots;
mod faces;
mod galleries;
mod matching;
mod quality;

use std::sync::Arc;

use faceserve_index::GalleryEngine;
use faceserve_vision::pipeline::FacePipeline;

pub use error::ApiError;
pub use estimate_models::EstimatorModels;
pub use estimate_settings::{EstimatorOverrides, EstimatorSettings};
pub use matching::Matching;

/// Everything the operations need, shared by all handlers.
pub struct Api {
    pub pipeline: Arc<FacePipeline>,
    pub galleries: Arc<GalleryEngine>,
    pub matching: Matching,
    /// The Image API's estimator models (also behind Add's liveness, deepfake and quality checks).
    pub estimators: Arc<EstimatorModels>,
}

/// Runs a synchronous engine call (SQLite, index search) on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker task failed: {e}")))
}
