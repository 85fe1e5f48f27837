//! faceserve-engine: the operations of the API, independent of the wire. Each takes a request message and the
//! calling application and returns a response message or an [`ApiError`]: add, identify and verify, gallery
//! management, frame analysis and the Image API's estimates, with the face analysis (liveness, deepfake, quality)
//! they share. gRPC and HTTP handlers only translate to and from these; the benchmarks call them in process.

mod analysis;
mod analyze;
pub mod convert;
mod error;
mod estimate;
pub mod estimators;
mod faces;
mod galleries;
pub mod index_settings;
mod matching;
mod replication;
pub mod settings;
pub mod start;
pub mod store_settings;
pub mod template;

use std::sync::Arc;

use faceserve_index::GalleryEngine;
use faceserve_vision::pipeline::FacePipeline;

pub use error::{ApiError, MAX_INFO_BYTES};
pub use estimators::EstimatorModels;
pub use faces::MissingGallery;
pub use matching::Matching;
pub use start::EngineSettings;

/// Everything the operations need, shared by all handlers.
pub struct Engine {
    pub pipeline: Arc<FacePipeline>,
    pub galleries: Arc<GalleryEngine>,
    pub matching: Matching,
    /// The Image API's estimator models (also behind Add's liveness, deepfake and quality checks).
    pub estimators: Arc<EstimatorModels>,
    /// The longest a request waits for this server to apply a change it asks for (read-your-writes).
    pub max_seq_wait: std::time::Duration,
}

/// Runs a synchronous call (the template store, an index search) on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker task failed: {e}")))
}
