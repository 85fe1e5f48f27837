//! The engine's settings: where models come from, the ONNX Runtime, each model's queue, matching, input limits,
//! the index and the Image API's estimators. The server layers them from its defaults, a TOML file, variables and
//! flags; every field here is a key of that file under the same name.

use std::path::PathBuf;
use std::time::Duration;

use faceserve_batcher::BatcherConfig;
use faceserve_vision::decode::DecodeLimits;
use faceserve_vision::detect::DetectorParams;
use faceserve_vision::estimate::Capability;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The default queue-time budget of every model (docs/PERFORMANCE.md, "Overload", measured it at 64 clients).
pub const DEFAULT_MAX_QUEUE_MS: u64 = 1_000;

/// How a model's requests become batches, and how many sessions run them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct QueueSettings {
    /// Largest batch handed to a session.
    pub max_batch: usize,
    /// How long a batch that is not full may wait for more requests (0 = run what is there).
    pub max_queue_delay_ms: u64,
    /// Requests that may wait; beyond it callers get RESOURCE_EXHAUSTED at once.
    pub queue_capacity: usize,
    /// Queue-time budget: a request whose expected wait (queue depth times the measured service time) is over
    /// it gets RESOURCE_EXHAUSTED (code 120, HTTP 429 with Retry-After) at once; 0 = no budget.
    pub max_queue_ms: u64,
    /// Sessions (worker threads) of the model.
    pub workers: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            max_batch: 8,
            max_queue_delay_ms: 0,
            queue_capacity: 256,
            max_queue_ms: DEFAULT_MAX_QUEUE_MS,
            workers: 1,
        }
    }
}

impl QueueSettings {
    pub fn batcher_config(&self) -> BatcherConfig {
        BatcherConfig {
            max_batch_size: self.max_batch,
            max_queue_delay: Duration::from_millis(self.max_queue_delay_ms),
            queue_capacity: self.queue_capacity,
            max_queue_time: (self.max_queue_ms > 0)
                .then(|| Duration::from_millis(self.max_queue_ms)),
            workers: self.workers,
            warm_up: true,
        }
    }

    /// Why the queue of `name` cannot be used, if it cannot.
    pub fn check(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(self.max_batch >= 1, "{name}.max_batch must be at least 1");
        anyhow::ensure!(self.workers >= 1, "{name}.workers must be at least 1");
        anyhow::ensure!(
            self.queue_capacity >= 1,
            "{name}.queue_capacity must be at least 1"
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DetectorSettings {
    /// Detector model name from the manifest.
    pub model: String,
    #[serde(flatten)]
    pub queue: QueueSettings,
    /// Detection confidence threshold.
    pub score_threshold: f32,
    pub nms_iou: f32,
    /// Detector input side when the model does not fix it.
    pub input_size: usize,
    /// Largest enlargement of a small photo into the detector input.
    pub max_upscale: f32,
    /// Smallest face kept, shorter box side in detector-input pixels.
    pub min_size: f32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        let params = DetectorParams::default();
        Self {
            model: "scrfd_2.5g_bnkps_640".into(),
            queue: QueueSettings::default(),
            score_threshold: params.score_threshold,
            nms_iou: params.nms_iou,
            input_size: 640,
            max_upscale: params.max_upscale,
            min_size: params.min_size,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RecognizerSettings {
    /// Recognizer model name from the manifest.
    pub model: String,
    #[serde(flatten)]
    pub queue: QueueSettings,
}

impl Default for RecognizerSettings {
    fn default() -> Self {
        Self {
            model: "w600k_mbf".into(),
            queue: QueueSettings {
                max_batch: 16,
                ..QueueSettings::default()
            },
        }
    }
}

/// The default cosine threshold of the default recognizer (w600k_mbf); docs/ACCURACY.md gives the false-accept
/// rate it implies on the calibration set.
pub const DEFAULT_THRESHOLD: f32 = 0.30;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MatchingSettings {
    /// Cosine threshold of Identify and Verify when a request names none.
    pub threshold: f32,
    /// Shorter side, in pixels, below which a face is refused with error 9.
    pub min_face_size: f32,
}

impl Default for MatchingSettings {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            min_face_size: 32.0,
        }
    }
}

/// Input limits, checked on the encoded size and the image header before any pixel is decoded, and the time a
/// request may take. The first spec's cloud API and gRPC take phone photos; the Image API keeps the second spec's
/// limits where the spec states them (4.7 MB for every service, 10 megapixels for its liveness modules).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LimitSettings {
    /// Largest encoded photo in bytes over gRPC and the cloud API (`/api/v1.0/*`).
    pub max_image_bytes: usize,
    /// Largest photo in pixels over gRPC and the cloud API, read from the header (a decompression bomb is refused
    /// before any pixel is decoded).
    pub max_image_pixels: u64,
    /// JPEGs with more pixels are decoded at a reduced DCT scale (1/2, 1/4, 1/8) to at most this many pixels.
    pub max_decoded_pixels: u64,
    /// Largest encoded photo of the Image API (`/v1|v2/<service>`; the second spec: 4.7 MB).
    pub image_api_max_image_bytes: usize,
    /// Largest photo in pixels of the Image API's liveness services (the second spec: 10 megapixels).
    pub image_api_liveness_max_pixels: u64,
    /// Longest time an HTTP request, or a gRPC call without a shorter `grpc-timeout`, may take before it is
    /// answered DEADLINE_EXCEEDED (requests still queued for a model are then never run); 0 = no limit.
    pub request_timeout_ms: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_image_bytes: 20_000_000,
            max_image_pixels: 50_000_000,
            max_decoded_pixels: 16_000_000,
            image_api_max_image_bytes: 4_700_000,
            image_api_liveness_max_pixels: 10_000_000,
            request_timeout_ms: 30_000,
        }
    }
}

impl LimitSettings {
    /// The decode limits of gRPC and the cloud API.
    pub fn photo(&self) -> DecodeLimits {
        DecodeLimits {
            max_bytes: self.max_image_bytes,
            max_pixels: self.max_image_pixels,
            max_decoded_pixels: self.max_decoded_pixels,
        }
    }

    /// The decode limits of the Image API: its byte limit, and its liveness services' pixel limit when
    /// `liveness` is asked for.
    pub fn image_api(&self, liveness: bool) -> DecodeLimits {
        let photo = self.photo();
        DecodeLimits {
            max_bytes: self.image_api_max_image_bytes.min(photo.max_bytes),
            max_pixels: match liveness {
                true => self.image_api_liveness_max_pixels.min(photo.max_pixels),
                false => photo.max_pixels,
            },
            ..photo
        }
    }

    /// The server's own bound on a request's time.
    pub fn request_timeout(&self) -> Option<Duration> {
        (self.request_timeout_ms > 0).then(|| Duration::from_millis(self.request_timeout_ms))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Cpu,
    Cuda,
    Tensorrt,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RuntimeSettings {
    /// Path of libonnxruntime.so; found in the models folder when unset.
    pub ort_library: Option<PathBuf>,
    /// cpu, cuda or tensorrt (a provider that cannot start is an error, never a CPU fallback).
    pub execution_provider: ProviderKind,
    /// GPU device for cuda / tensorrt.
    pub device_id: i32,
    /// ONNX Runtime threads, shared by all models (0 = one per core).
    pub intra_threads: usize,
    /// Let idle pool threads spin-wait (lower latency on a dedicated machine, wasted cores otherwise).
    pub spin: bool,
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

/// One estimator's model and its batcher queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct EstimatorModelSettings {
    /// Manifest model name. Unset: the estimator's default model; "" switches the estimator off.
    pub model: Option<String>,
    #[serde(flatten)]
    pub queue: QueueSettings,
}

impl EstimatorModelSettings {
    /// The model to use, `None` when the estimator is switched off.
    pub fn model_or<'a>(&'a self, default: &'a str) -> Option<&'a str> {
        match self.model.as_deref() {
            None => Some(default),
            Some("") => None,
            Some(name) => Some(name),
        }
    }
}

/// The Image API's estimators: which model serves each one, and its queue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct EstimatorSettings {
    /// Load every estimator model at start-up. Off: a model is loaded (and fetched, when it comes from a package
    /// registry) by the first request that needs it, so a server that only recognises faces never pays for them.
    pub preload: bool,
    /// Liveness verdict: REAL when the model's live probability is at least this.
    pub liveness_threshold: f32,
    /// Smallest confidence of a reported person.
    pub body_score_threshold: f32,
    pub age: EstimatorModelSettings,
    pub gender: EstimatorModelSettings,
    pub emotion: EstimatorModelSettings,
    pub liveness: EstimatorModelSettings,
    pub mask: EstimatorModelSettings,
    /// The 106-landmark model behind the named keypoints (and the five points of faces given by a box only).
    pub keypoints: EstimatorModelSettings,
    pub pose: EstimatorModelSettings,
    /// The face mesh model behind eye openness (its blendshape model comes with it).
    pub eyes: EstimatorModelSettings,
    pub body: EstimatorModelSettings,
    /// No deepfake model exists in the manifest; the slot is here so a decoder and model can be added.
    pub deepfake: EstimatorModelSettings,
}

impl Default for EstimatorSettings {
    fn default() -> Self {
        Self {
            preload: false,
            liveness_threshold: 0.5,
            body_score_threshold: 0.3,
            age: EstimatorModelSettings::default(),
            gender: EstimatorModelSettings::default(),
            emotion: EstimatorModelSettings::default(),
            liveness: EstimatorModelSettings::default(),
            mask: EstimatorModelSettings::default(),
            keypoints: EstimatorModelSettings::default(),
            pose: EstimatorModelSettings::default(),
            eyes: EstimatorModelSettings::default(),
            body: EstimatorModelSettings::default(),
            deepfake: EstimatorModelSettings::default(),
        }
    }
}

impl EstimatorSettings {
    /// The settings of one estimator.
    pub fn of(&self, capability: Capability) -> &EstimatorModelSettings {
        match capability {
            Capability::Age => &self.age,
            Capability::Gender => &self.gender,
            Capability::Emotion => &self.emotion,
            Capability::Liveness => &self.liveness,
            Capability::Mask => &self.mask,
            Capability::Keypoints => &self.keypoints,
            Capability::Pose => &self.pose,
            Capability::Eyes => &self.eyes,
            Capability::Body => &self.body,
        }
    }

    pub fn check(&self) -> anyhow::Result<()> {
        for capability in Capability::ALL {
            self.of(capability)
                .queue
                .check(&format!("estimators.{}", capability.name()))?;
        }
        self.deepfake.queue.check("estimators.deepfake")?;
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.liveness_threshold),
            "estimators.liveness_threshold must be a probability in 0..1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.body_score_threshold),
            "estimators.body_score_threshold must be in 0..1"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_means_default_and_empty_means_off() {
        let mut s = EstimatorSettings::default();
        assert_eq!(s.age.model_or("dlib_age_v1"), Some("dlib_age_v1"));
        s.age.model = Some(String::new());
        s.gender.model = Some("human_faceres".into());
        assert_eq!(s.age.model_or("dlib_age_v1"), None);
        assert_eq!(s.gender.model_or("dlib_gender_v1"), Some("human_faceres"));
        s.liveness_threshold = 2.0;
        assert!(s.check().is_err());
    }

    #[test]
    fn a_table_without_model_keeps_the_default_model() {
        let s: EstimatorSettings = toml::from_str("[age]\nmax_batch = 4\n").unwrap();
        assert_eq!(s.age.queue.max_batch, 4);
        assert_eq!(s.age.model_or("dlib_age_v1"), Some("dlib_age_v1"));
    }
}
