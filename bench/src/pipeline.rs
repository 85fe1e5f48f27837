//! The in-process face pipeline for measurement commands, built from model names by the engine's own start-up
//! functions, so a benchmark measures what the server runs.

use std::path::PathBuf;
use std::sync::Arc;

use faceserve_batcher::NoopObserver;
use faceserve_engine::EngineSettings;
use faceserve_engine::start::{ModelFiles, fetch_models, start_pipeline, start_runtime};
use faceserve_vision::detect::DetectorKind;
use faceserve_vision::pipeline::FacePipeline;
use faceserve_vision::runtime::Runtime;

#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Models folder (fetched into when missing).
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    #[arg(long, default_value = "scrfd_2.5g_bnkps_640")]
    pub detector: String,
    #[arg(long, default_value = "w600k_mbf")]
    pub recognizer: String,
    /// Recognizer batch size.
    #[arg(long, default_value_t = 16)]
    pub recognizer_max_batch: usize,
    /// Detector batch size (graphs that fix batch 1 run one image at a time).
    #[arg(long, default_value_t = 8)]
    pub detector_max_batch: usize,
}

impl ModelArgs {
    /// The engine settings these arguments stand for: no input limits, queues deep enough for any benchmark.
    pub fn settings(&self) -> EngineSettings {
        let mut s = EngineSettings {
            models_dir: self.models_dir.clone(),
            ..EngineSettings::default()
        };
        s.detector.model = self.detector.clone();
        s.detector.queue.max_batch = self.detector_max_batch;
        s.detector.queue.queue_capacity = 4096;
        s.recognizer.model = self.recognizer.clone();
        s.recognizer.queue.max_batch = self.recognizer_max_batch;
        s.recognizer.queue.queue_capacity = 4096;
        s.limits.max_image_bytes = usize::MAX;
        s.limits.max_image_pixels = u64::MAX;
        s.matching.min_face_size = 0.0;
        s
    }
}

/// The ONNX Runtime environment and the verified model files the arguments name.
pub struct Models {
    pub runtime: Runtime,
    pub files: ModelFiles,
    pub detector_kind: DetectorKind,
}

pub fn fetch(args: &ModelArgs) -> anyhow::Result<Models> {
    let settings = args.settings();
    let files = fetch_models(&settings)?;
    Ok(Models {
        runtime: start_runtime(&settings.runtime, files.onnxruntime.clone())?,
        detector_kind: DetectorKind::of_model(&args.detector).map_err(anyhow::Error::msg)?,
        files,
    })
}

pub fn start(args: &ModelArgs) -> anyhow::Result<FacePipeline> {
    let models = fetch(args)?;
    start_pipeline(
        &args.settings(),
        &models.runtime,
        &models.files,
        Arc::new(NoopObserver),
    )
}
