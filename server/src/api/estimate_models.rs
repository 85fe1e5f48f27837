//! The estimator models of the Image API: which model serves each estimator, whether it is available, and its
//! batcher (named after the model, so `/metrics` shows which models ran).
//!
//! A model is available when its file is in the models folder or the mirror, or can be fetched from a package
//! registry. Unavailable estimators answer "not available: ..." with the way to supply the model; the server starts
//! either way. Batchers start on first use unless `estimators.preload` is set, so a server that only recognises
//! faces never loads (or downloads) them.

use std::sync::Arc;

use faceserve_batcher::{BatcherConfig, Model, Observer};
use faceserve_models::{FetchError, FetchOptions, ensure_model};
use faceserve_vision::estimate::age_gender::AgeGenderModel;
use faceserve_vision::estimate::body::{BodyModel, BodyParams};
use faceserve_vision::estimate::emotion::EmotionModel;
use faceserve_vision::estimate::eyes::{BlendshapeModel, MeshModel};
use faceserve_vision::estimate::landmarks::LandmarkModel;
use faceserve_vision::estimate::liveness::LivenessModel;
use faceserve_vision::estimate::mask::MaskModel;
use faceserve_vision::estimate::masked_face::MaskedFaceModel;
use faceserve_vision::estimate::pose::PoseModel;
use faceserve_vision::estimate::{EstimatorFamily, family_of};
use faceserve_vision::runtime::{Runtime, RuntimeError};

use super::ApiError;
use super::estimate_settings::{EstimatorModelSettings, EstimatorSettings};
use super::estimate_slots::{LazyModel, MaskEngine, ModelFile, Slot};

// Age and gender: dlib's CC0 models, fetched from PyPI, so both work without a models mirror. On all 1,500 UTKFace
// faces they are within 0.2 years (age MAE) and ahead by 0.6 points (gender) of human_faceres, the best other
// candidate (docs/ACCURACY.md, "Estimators").
pub const DEFAULT_AGE: &str = "dlib_age_v1";
pub const DEFAULT_GENDER: &str = "dlib_gender_v1";
pub const DEFAULT_EMOTION: &str = "human_emotion";
pub const DEFAULT_LIVENESS: &str = "AntiSpoofing_bin_1.5_128";
// Mask: the MobileNetV2 classifier on the detector's faces found 103 of 174 faces masked on the masked-face photos
// against 74 for the masked-face detector, and neither flagged any of 76 unmasked faces (docs/ACCURACY.md).
pub const DEFAULT_MASK: &str = "face_mask_mobilenetv2";
pub const DEFAULT_KEYPOINTS: &str = "2d106det";
pub const DEFAULT_POSE: &str = "3ddfa_v2_mb1_120x120";
pub const DEFAULT_EYES: &str = "mp_face_landmarks_detector";
pub const BLENDSHAPES: &str = "mp_face_blendshapes";
pub const DEFAULT_BODY: &str = "yolox_nano";

pub struct EstimatorModels {
    pub age: Slot<AgeGenderModel>,
    pub gender: Slot<AgeGenderModel>,
    pub emotion: Slot<EmotionModel>,
    pub liveness: Slot<LivenessModel>,
    pub liveness_threshold: f32,
    pub mask: MaskEngine,
    pub landmarks: Slot<LandmarkModel>,
    pub pose: Slot<PoseModel>,
    pub mesh: Slot<MeshModel>,
    pub blendshapes: Slot<BlendshapeModel>,
    pub body: Slot<BodyModel>,
    /// Why deepfake detection is not available (always, until a deepfake decoder exists).
    pub deepfake_reason: String,
}

impl EstimatorModels {
    /// Finds each configured model (without downloading), logs what is available, and with `preload` starts every
    /// available model now. A model name that is not a model of that estimator is a configuration error.
    pub fn prepare(
        settings: &EstimatorSettings,
        fetch: &FetchOptions,
        runtime: &Runtime,
        observer: Arc<dyn Observer>,
    ) -> anyhow::Result<Self> {
        use EstimatorFamily as F;
        let ctx = Context {
            fetch: fetch.clone(),
            runtime: runtime.clone(),
            observer,
        };
        let body_params = BodyParams {
            score_threshold: settings.body_score_threshold,
            ..BodyParams::default()
        };
        let age_name = settings.age.model_or(DEFAULT_AGE);
        let age = ctx.slot(
            "age",
            age_name,
            &settings.age,
            F::estimates_age,
            AgeGenderModel::load,
        )?;
        let gender_name = settings.gender.model_or(DEFAULT_GENDER);
        let gender = match &age {
            // A model that estimates both runs once for both.
            Slot::Ready(m) if Some(m.name()) == gender_name => Slot::Ready(m.clone()),
            _ => ctx.slot(
                "gender",
                gender_name,
                &settings.gender,
                F::estimates_gender,
                AgeGenderModel::load,
            )?,
        };
        let mesh_name = settings.eyes.model_or(DEFAULT_EYES);
        let models = Self {
            age,
            gender,
            emotion: ctx.slot(
                "emotion",
                settings.emotion.model_or(DEFAULT_EMOTION),
                &settings.emotion,
                |f| f == F::HumanEmotion,
                |rt, path, name, _, batch| EmotionModel::load(rt, path, name, batch),
            )?,
            liveness: ctx.slot(
                "liveness",
                settings.liveness.model_or(DEFAULT_LIVENESS),
                &settings.liveness,
                F::estimates_liveness,
                LivenessModel::load,
            )?,
            liveness_threshold: settings.liveness_threshold,
            mask: ctx.mask(settings.mask.model_or(DEFAULT_MASK), &settings.mask)?,
            landmarks: ctx.slot(
                "keypoints",
                settings.keypoints.model_or(DEFAULT_KEYPOINTS),
                &settings.keypoints,
                |f| f == F::Landmarks106,
                |rt, path, name, _, batch| LandmarkModel::load(rt, path, name, batch),
            )?,
            pose: ctx.slot(
                "pose",
                settings.pose.model_or(DEFAULT_POSE),
                &settings.pose,
                |f| f == F::Pose3ddfa,
                |rt, path, name, _, batch| PoseModel::load(rt, path, name, batch),
            )?,
            mesh: ctx.slot(
                "eyes",
                mesh_name,
                &settings.eyes,
                |f| f == F::FaceMesh,
                |rt, path, name, _, batch| MeshModel::load(rt, path, name, batch),
            )?,
            // The blendshape model belongs to the mesh model: on with it, off with it.
            blendshapes: ctx.slot(
                "eyes",
                mesh_name.map(|_| BLENDSHAPES),
                &settings.eyes,
                |f| f == F::Blendshapes,
                |rt, path, name, _, batch| BlendshapeModel::load(rt, path, name, batch),
            )?,
            body: ctx.slot(
                "body",
                settings.body.model_or(DEFAULT_BODY),
                &settings.body,
                |f| f == F::YoloxBody,
                move |rt, path, name, _, batch| BodyModel::load(rt, path, name, body_params, batch),
            )?,
            deepfake_reason: match settings.deepfake.model_or("") {
                None | Some("") => "not available: no deepfake model is configured".to_string(),
                Some(name) => format!(
                    "not available: no deepfake model is configured ({name:?} is not a deepfake model faceserve \
                     can run: a deepfake estimator needs its decoder in vision/src/estimate)"
                ),
            },
        };
        models.log();
        if settings.preload {
            models.preload()?;
        }
        Ok(models)
    }

    fn log(&self) {
        let lines = [
            ("age", self.age.describe()),
            ("gender", self.gender.describe()),
            ("emotion", self.emotion.describe()),
            ("liveness", self.liveness.describe()),
            ("mask", self.mask.describe()),
            ("keypoints", self.landmarks.describe()),
            ("pose", self.pose.describe()),
            ("eyes", self.mesh.describe()),
            ("body", self.body.describe()),
            ("deepfake", self.deepfake_reason.clone()),
        ];
        for (estimator, state) in lines {
            tracing::info!(estimator, "{state}");
        }
    }

    /// Starts every available model's batcher now (blocking).
    fn preload(&self) -> anyhow::Result<()> {
        fn warm<M: Model>(slot: &Slot<M>) -> anyhow::Result<()> {
            if let Slot::Ready(model) = slot {
                model.start_now().map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok(())
        }
        warm(&self.age)?;
        warm(&self.gender)?;
        warm(&self.emotion)?;
        warm(&self.liveness)?;
        match &self.mask {
            MaskEngine::Classifier(s) => warm(s)?,
            MaskEngine::Detector(s) => warm(s)?,
        }
        warm(&self.landmarks)?;
        warm(&self.pose)?;
        warm(&self.mesh)?;
        warm(&self.blendshapes)?;
        warm(&self.body)
    }

    /// The mask engine's NOT_AVAILABLE error, if any.
    pub fn check_mask(&self) -> Result<(), ApiError> {
        self.mask.check()
    }
}

/// What every slot needs to find and start its model.
struct Context {
    fetch: FetchOptions,
    runtime: Runtime,
    observer: Arc<dyn Observer>,
}

impl Context {
    /// The slot of `estimator` served by model `name` (`None`: switched off).
    fn slot<M: Model>(
        &self,
        estimator: &str,
        name: Option<&str>,
        queue: &EstimatorModelSettings,
        fits: impl Fn(EstimatorFamily) -> bool,
        load: impl Fn(
            &Runtime,
            &std::path::Path,
            &str,
            EstimatorFamily,
            usize,
        ) -> Result<M, RuntimeError>
        + Send
        + Sync
        + 'static,
    ) -> anyhow::Result<Slot<M>> {
        let Some(name) = name else {
            return Ok(Slot::Unavailable(format!(
                "not available: {estimator} is switched off (estimators.{estimator}.model = \"\")"
            )));
        };
        let family = family_of(name)
            .filter(|&f| fits(f))
            .ok_or_else(|| anyhow::anyhow!("estimators.{estimator}.model: {name:?} is not a {estimator} model faceserve can run"))?;
        let file = match self.locate(name) {
            Ok(file) => file,
            Err(e) => {
                return Ok(Slot::Unavailable(format!(
                    "not available: {estimator} has no model configured ({name} missing: {e})"
                )));
            }
        };
        let (runtime, owned) = (self.runtime.clone(), name.to_string());
        let max_batch = queue.max_batch;
        Ok(Slot::Ready(Arc::new(LazyModel {
            name: name.to_string(),
            file,
            batcher_config: BatcherConfig {
                max_batch_size: queue.max_batch,
                max_queue_delay: std::time::Duration::from_millis(queue.max_queue_delay_ms),
                queue_capacity: queue.queue_capacity,
                workers: queue.workers,
                warm_up: true,
            },
            build: Arc::new(move |path| load(&runtime, path, &owned, family, max_batch)),
            observer: self.observer.clone(),
            batcher: tokio::sync::OnceCell::new(),
        })))
    }

    fn mask(
        &self,
        name: Option<&str>,
        queue: &EstimatorModelSettings,
    ) -> anyhow::Result<MaskEngine> {
        Ok(match name.and_then(family_of) {
            Some(EstimatorFamily::MaskMobileNetV2) => MaskEngine::Classifier(self.slot(
                "mask",
                name,
                queue,
                |f| f == EstimatorFamily::MaskMobileNetV2,
                |rt, path, name, _, batch| MaskModel::load(rt, path, name, batch),
            )?),
            _ => MaskEngine::Detector(self.slot(
                "mask",
                name,
                queue,
                |f| f == EstimatorFamily::MaskedFaceDetector,
                |rt, path, name, _, batch| MaskedFaceModel::load(rt, path, name, batch),
            )?),
        })
    }

    /// The model's file if it is on disk (copied from the mirror if need be); a registry download is left to first
    /// use so start-up never waits on the network.
    fn locate(&self, name: &str) -> Result<ModelFile, FetchError> {
        let local = FetchOptions {
            allow_network: false,
            ..self.fetch.clone()
        };
        match ensure_model(&local, name) {
            Ok(path) => Ok(ModelFile::Ready(path)),
            Err(FetchError::NetworkOff { .. }) if self.fetch.allow_network => {
                Ok(ModelFile::Fetch(self.fetch.clone()))
            }
            Err(e) => Err(e),
        }
    }
}
