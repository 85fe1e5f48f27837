//! The face pipeline: decode, detect, choose a face, align and embed, with every model behind its own batcher
//! queue so concurrent requests share batches. CPU-heavy steps (decoding, resizing, warping) run on tokio's blocking
//! pool so they never stall the async runtime.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use faceserve_batcher::{BatchError, Batcher, BatcherConfig, ModelError, Observer};
use image::RgbImage;

use crate::align::arcface_crop;
use crate::decode::{DecodeError, DecodeLimits, ImageInput, PixelOrder, decode_image};
use crate::detect::{
    Detection, Detector, DetectorInput, DetectorKind, DetectorParams, letterbox_scale,
    prepare_input,
};
use crate::recognize::{Embedding, Recognizer};
use crate::runtime::{Runtime, RuntimeError};

/// A request's photo, owned so it can move to the blocking pool.
#[derive(Debug, Clone)]
pub enum OwnedImage {
    Missing,
    Encoded(Vec<u8>),
    Raw {
        width: u32,
        height: u32,
        order: PixelOrder,
        pixels: Vec<u8>,
    },
}

impl OwnedImage {
    fn as_input(&self) -> ImageInput<'_> {
        match self {
            Self::Missing => ImageInput::Missing,
            Self::Encoded(bytes) => ImageInput::Encoded(bytes),
            Self::Raw {
                width,
                height,
                order,
                pixels,
            } => ImageInput::Raw {
                width: *width,
                height: *height,
                order: *order,
                pixels,
            },
        }
    }
}

/// Which face to use when a photo holds several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FacePolicy {
    /// Exactly one face, else error 6.
    #[default]
    Single,
    /// The largest face by box area.
    Largest,
}

#[derive(Debug, Clone)]
pub struct DetectorConfig {
    pub model: PathBuf,
    pub kind: DetectorKind,
    pub params: DetectorParams,
    /// Detector input side when the graph does not fix it.
    pub input_size: usize,
    pub batcher: BatcherConfig,
}

#[derive(Debug, Clone)]
pub struct RecognizerConfig {
    pub model: PathBuf,
    /// The name templates are tagged with, so embeddings of different recognizers are never compared.
    pub name: String,
    pub batcher: BatcherConfig,
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub detector: DetectorConfig,
    pub recognizer: RecognizerConfig,
    pub limits: DecodeLimits,
    /// Faces whose box is smaller than this on its shorter side are refused with error 9: an aligned 112x112 crop
    /// blown up from fewer pixels gives embeddings that match strangers.
    pub min_face_size: f32,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("can not detect face")]
    NoFace,
    #[error("more than one face detected on photo ({count} faces)")]
    MoreThanOneFace { count: usize },
    #[error(
        "can not extract features from sample, probably it is too small (face is {size:.0} px, at least {min:.0} px needed)"
    )]
    FaceTooSmall { size: f32, min: f32 },
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// One face of a photo with its embedding.
#[derive(Debug, Clone)]
pub struct EmbeddedFace {
    pub image: Arc<RgbImage>,
    pub face: Detection,
    pub embedding: Embedding,
}

pub struct FacePipeline {
    detector: Batcher<DetectorInput, Vec<Detection>>,
    recognizer: Batcher<RgbImage, Embedding>,
    detector_kind: DetectorKind,
    detector_input: (usize, usize),
    max_upscale: f32,
    recognizer_name: String,
    dimension: usize,
    limits: DecodeLimits,
    min_face_size: f32,
}

impl FacePipeline {
    /// Loads the models (one session per batcher worker), warms them up and starts their queues.
    pub fn start(
        runtime: &Runtime,
        config: &PipelineConfig,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, RuntimeError> {
        // `Batcher::spawn` builds one model per worker through these closures; the first to load reports the
        // graph's facts back here, so no session is opened twice just to read them.
        let det = config.detector.clone();
        let detector_input = Arc::new(OnceLock::new());
        let reported = detector_input.clone();
        let rt = runtime.clone();
        let detector = Batcher::spawn(
            "detector",
            det.batcher.clone(),
            move |_| {
                let model = Detector::load(
                    &rt,
                    &det.model,
                    det.kind,
                    det.params,
                    det.input_size,
                    det.batcher.max_batch_size,
                )
                .map_err(|e| ModelError(e.to_string()))?;
                let _ = reported.set(model.input_size());
                Ok(model)
            },
            observer.clone(),
        )
        .map_err(|e| RuntimeError::Ort(e.to_string()))?;

        let rec = config.recognizer.clone();
        let dimension = Arc::new(OnceLock::new());
        let reported = dimension.clone();
        let rt = runtime.clone();
        let recognizer = Batcher::spawn(
            "recognizer",
            rec.batcher.clone(),
            move |_| {
                let model = Recognizer::load(&rt, &rec.model, rec.batcher.max_batch_size)
                    .map_err(|e| ModelError(e.to_string()))?;
                let _ = reported.set(model.dimension());
                Ok(model)
            },
            observer,
        )
        .map_err(|e| RuntimeError::Ort(e.to_string()))?;
        let started = |what: &str| {
            RuntimeError::Ort(format!(
                "the {what} batcher started without loading a model"
            ))
        };
        let detector_input = *detector_input.get().ok_or_else(|| started("detector"))?;
        let dimension = *dimension.get().ok_or_else(|| started("recognizer"))?;

        Ok(Self {
            detector,
            recognizer,
            detector_kind: config.detector.kind,
            detector_input,
            max_upscale: config.detector.params.max_upscale,
            recognizer_name: config.recognizer.name.clone(),
            dimension,
            limits: config.limits,
            min_face_size: config.min_face_size,
        })
    }

    pub fn recognizer_name(&self) -> &str {
        &self.recognizer_name
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Decodes a request photo on the blocking pool, within the pipeline's limits, for the detector: when the
    /// detector's queue would refuse it (over its time budget, or past the request's deadline), the photo is not
    /// decoded at all, so a refusal under overload costs almost nothing.
    pub async fn decode(&self, image: OwnedImage) -> Result<Arc<RgbImage>, PipelineError> {
        self.detector.admits()?;
        self.decode_within(image, self.limits).await
    }

    /// Decodes a request photo on the blocking pool within `limits` (an API with limits of its own).
    pub async fn decode_within(
        &self,
        image: OwnedImage,
        limits: DecodeLimits,
    ) -> Result<Arc<RgbImage>, PipelineError> {
        let decoded = blocking(move || decode_image(image.as_input(), &limits)).await??;
        Ok(Arc::new(decoded))
    }

    pub fn limits(&self) -> DecodeLimits {
        self.limits
    }

    /// Every face in `image`, best score first, in image pixels. When nothing is found the photo is tried once more
    /// at half the scale, because a close-up face that fills the detector input is missed by its anchors.
    pub async fn detect(&self, image: Arc<RgbImage>) -> Result<Vec<Detection>, PipelineError> {
        let (w, h) = self.detector_input;
        let scale = letterbox_scale(&image, w, h, self.max_upscale);
        let faces = self.detect_at(image.clone(), scale).await?;
        let half_side = image.width().max(image.height()) as f32 * scale / 2.0;
        if !faces.is_empty() || half_side < 160.0 {
            return Ok(faces);
        }
        self.detect_at(image, scale / 2.0).await
    }

    async fn detect_at(
        &self,
        image: Arc<RgbImage>,
        scale: f32,
    ) -> Result<Vec<Detection>, PipelineError> {
        let (w, h) = self.detector_input;
        let kind = self.detector_kind;
        let (iw, ih) = image.dimensions();
        let input = blocking(move || prepare_input(&image, kind, w, h, scale)).await?;
        let faces = self.detector.infer(input).await?;
        Ok(faces.into_iter().map(|f| f.clipped(iw, ih)).collect())
    }

    /// The embedding of `face`, or error 9 when the face is too small to give a trustworthy one.
    pub async fn embed(
        &self,
        image: Arc<RgbImage>,
        face: &Detection,
    ) -> Result<Embedding, PipelineError> {
        let size = face.width().min(face.height());
        if size < self.min_face_size {
            return Err(PipelineError::FaceTooSmall {
                size,
                min: self.min_face_size,
            });
        }
        let landmarks = face.landmarks;
        let crop = blocking(move || arcface_crop(&image, &landmarks)).await?;
        Ok(self.recognizer.infer(crop).await?)
    }

    /// Decode, detect, pick one face by `policy`, embed: what enrolment, identification and verification share.
    pub async fn embed_one_face(
        &self,
        image: OwnedImage,
        policy: FacePolicy,
    ) -> Result<EmbeddedFace, PipelineError> {
        let image = self.decode(image).await?;
        self.embed_one_face_of(image, policy).await
    }

    /// Detect, pick one face by `policy`, embed, on a photo already decoded.
    pub async fn embed_one_face_of(
        &self,
        image: Arc<RgbImage>,
        policy: FacePolicy,
    ) -> Result<EmbeddedFace, PipelineError> {
        let faces = self.detect(image.clone()).await?;
        let face = select_face(&faces, policy)?;
        let embedding = self.embed(image.clone(), &face).await?;
        Ok(EmbeddedFace {
            image,
            face,
            embedding,
        })
    }
}

/// Applies the face policy: error 5 without a face, error 6 for several under `Single`.
pub fn select_face(faces: &[Detection], policy: FacePolicy) -> Result<Detection, PipelineError> {
    match (faces.len(), policy) {
        (0, _) => Err(PipelineError::NoFace),
        (1, _) => Ok(faces[0]),
        (count, FacePolicy::Single) => Err(PipelineError::MoreThanOneFace { count }),
        (_, FacePolicy::Largest) => Ok(*faces
            .iter()
            .max_by(|a, b| a.area().total_cmp(&b.area()))
            .expect("at least two faces")),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PipelineError::Internal(format!("image worker failed: {e}")))
}
