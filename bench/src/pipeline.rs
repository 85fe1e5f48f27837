//! The in-process face pipeline for measurement commands, built from model names like the server's.

use std::path::PathBuf;
use std::time::Duration;

use faceserve_batcher::{BatcherConfig, NoopObserver};
use faceserve_models::{FetchOptions, ensure_model, ensure_onnxruntime};
use faceserve_vision::decode::DecodeLimits;
use faceserve_vision::detect::{DetectorKind, DetectorParams};
use faceserve_vision::pipeline::{DetectorConfig, FacePipeline, PipelineConfig, RecognizerConfig};
use faceserve_vision::runtime::{ExecutionProvider, Runtime, RuntimeConfig};

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

/// The ONNX Runtime environment and the verified model files the arguments name.
pub struct Models {
    pub runtime: Runtime,
    pub detector: PathBuf,
    pub detector_kind: DetectorKind,
    pub recognizer: PathBuf,
}

pub fn fetch(args: &ModelArgs) -> anyhow::Result<Models> {
    let fetch = FetchOptions {
        models_dir: args.models_dir.clone(),
        mirror: FetchOptions::default_mirror(),
        allow_network: true,
    };
    let runtime = Runtime::init(RuntimeConfig {
        library: ensure_onnxruntime(&fetch)?,
        provider: ExecutionProvider::Cpu,
        intra_threads: 0,
        spin: false,
    })?;
    Ok(Models {
        runtime,
        detector: ensure_model(&fetch, &args.detector)?,
        detector_kind: DetectorKind::of_model(&args.detector).map_err(anyhow::Error::msg)?,
        recognizer: ensure_model(&fetch, &args.recognizer)?,
    })
}

pub fn start(args: &ModelArgs) -> anyhow::Result<FacePipeline> {
    let models = fetch(args)?;
    let queue = |max_batch_size| BatcherConfig {
        max_batch_size,
        max_queue_delay: Duration::ZERO,
        queue_capacity: 4096,
        workers: 1,
        warm_up: true,
    };
    let config = PipelineConfig {
        detector: DetectorConfig {
            model: models.detector,
            kind: models.detector_kind,
            params: DetectorParams::default(),
            input_size: 640,
            batcher: queue(args.detector_max_batch),
        },
        recognizer: RecognizerConfig {
            model: models.recognizer,
            name: args.recognizer.clone(),
            batcher: queue(args.recognizer_max_batch),
        },
        limits: DecodeLimits {
            max_bytes: usize::MAX,
            max_pixels: u64::MAX,
        },
        min_face_size: 0.0,
    };
    Ok(FacePipeline::start(
        &models.runtime,
        &config,
        std::sync::Arc::new(NoopObserver),
    )?)
}
