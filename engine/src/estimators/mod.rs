//! The estimator models of the Image API: which model serves each estimator (the settings, else the registry's
//! default), whether it is available, and its batcher (named after the model, so `/metrics` shows which ran).
//!
//! A model is available when its file is in the models folder or the mirror, or can be fetched from a package
//! registry. Unavailable estimators answer "not available: ..." with the way to supply the model; the server starts
//! either way. Batchers start on first use unless `estimators.preload` is set, so a server that only recognises
//! faces never loads (or downloads) them.

mod slot;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use faceserve_batcher::{LazyBatcher, ModelError, Observer};
use faceserve_models::{FetchError, FetchOptions, ensure_model};
use faceserve_vision::estimate::age_gender::AgeGender;
use faceserve_vision::estimate::body::Person;
use faceserve_vision::estimate::emotion::Emotions;
use faceserve_vision::estimate::eyes::FaceMesh;
use faceserve_vision::estimate::landmarks::Landmarks106;
use faceserve_vision::estimate::masked_face::MaskedFaceBox;
use faceserve_vision::estimate::model::LoadSpec;
use faceserve_vision::estimate::pose::HeadPose;
use faceserve_vision::estimate::registry::{self, LoadFn, Row};
use faceserve_vision::estimate::{Capability, FaceJob, Loader};
use faceserve_vision::runtime::Runtime;
use image::RgbImage;

use crate::ApiError;
use crate::settings::{EstimatorSettings, QueueSettings};
pub use slot::{LazyEstimator, ModelFile, Slot};

/// How masks are judged: a classifier on each face crop, or a masked-face detector on the photo.
pub enum MaskEngine {
    Classifier(Slot<FaceJob, f32>),
    Detector(Slot<Arc<RgbImage>, Vec<MaskedFaceBox>>),
}

impl MaskEngine {
    pub fn is_ready(&self) -> bool {
        match self {
            Self::Classifier(s) => s.is_ready(),
            Self::Detector(s) => s.is_ready(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Classifier(s) => s.describe(),
            Self::Detector(s) => s.describe(),
        }
    }

    /// The NOT_AVAILABLE error of the engine, if any.
    pub fn check(&self) -> Result<(), ApiError> {
        match self {
            Self::Classifier(s) => s.get().map(drop),
            Self::Detector(s) => s.get().map(drop),
        }
    }
}

pub struct EstimatorModels {
    pub age: Slot<FaceJob, AgeGender>,
    pub gender: Slot<FaceJob, AgeGender>,
    pub emotion: Slot<FaceJob, Emotions>,
    pub liveness: Slot<FaceJob, f32>,
    pub liveness_threshold: f32,
    pub mask: MaskEngine,
    pub landmarks: Slot<FaceJob, Landmarks106>,
    pub pose: Slot<FaceJob, HeadPose>,
    pub mesh: Slot<FaceJob, FaceMesh>,
    pub blendshapes: Slot<Vec<f32>, Vec<f32>>,
    pub body: Slot<Arc<RgbImage>, Vec<Person>>,
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
        use Capability as C;
        let ctx = Context {
            settings,
            fetch: fetch.clone(),
            runtime: runtime.clone(),
            observer,
        };
        let age = ctx.slot(C::Age, |l| match l {
            Loader::AgeGender(f) => Some(*f),
            _ => None,
        })?;
        let gender = match &age {
            // A model that estimates both runs once for both.
            Slot::Ready(m) if Some(m.name()) == ctx.model(C::Gender) => Slot::Ready(m.clone()),
            _ => ctx.slot(C::Gender, |l| match l {
                Loader::AgeGender(f) => Some(*f),
                _ => None,
            })?,
        };
        let mesh = ctx.slot(C::Eyes, |l| match l {
            Loader::Mesh(f) => Some(*f),
            _ => None,
        })?;
        // The blendshape model belongs to the mesh model: on with it, off with it.
        let companion = ctx
            .model(C::Eyes)
            .and_then(registry::find)
            .and_then(|row| row.companion);
        let blendshapes = ctx.slot_of(C::Eyes, companion, |l| match l {
            Loader::Blendshapes(f) => Some(*f),
            _ => None,
        })?;
        let models = Self {
            age,
            gender,
            emotion: ctx.slot(C::Emotion, |l| match l {
                Loader::Emotion(f) => Some(*f),
                _ => None,
            })?,
            liveness: ctx.slot(C::Liveness, |l| match l {
                Loader::Liveness(f) => Some(*f),
                _ => None,
            })?,
            liveness_threshold: settings.liveness_threshold,
            mask: ctx.mask()?,
            landmarks: ctx.slot(C::Keypoints, |l| match l {
                Loader::Landmarks(f) => Some(*f),
                _ => None,
            })?,
            pose: ctx.slot(C::Pose, |l| match l {
                Loader::Pose(f) => Some(*f),
                _ => None,
            })?,
            mesh,
            blendshapes,
            body: ctx.slot(C::Body, |l| match l {
                Loader::Body(f) => Some(*f),
                _ => None,
            })?,
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
        let started = [
            self.age.start_now(),
            self.gender.start_now(),
            self.emotion.start_now(),
            self.liveness.start_now(),
            match &self.mask {
                MaskEngine::Classifier(s) => s.start_now(),
                MaskEngine::Detector(s) => s.start_now(),
            },
            self.landmarks.start_now(),
            self.pose.start_now(),
            self.mesh.start_now(),
            self.blendshapes.start_now(),
            self.body.start_now(),
        ];
        for result in started {
            result.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(())
    }

    /// The mask engine's NOT_AVAILABLE error, if any.
    pub fn check_mask(&self) -> Result<(), ApiError> {
        self.mask.check()
    }
}

/// The estimator model files the settings use: each switched-on estimator's model (configured, else the
/// registry's default) and the companion that runs with it, each once, in [`Capability::ALL`] order. A name that is
/// not a model of its estimator is a configuration error, as at start-up.
pub fn configured_models(settings: &EstimatorSettings) -> anyhow::Result<Vec<&'static str>> {
    let mut names = Vec::new();
    for capability in Capability::ALL {
        let Some(name) = settings.of(capability).model_or(capability.default_model()) else {
            continue;
        };
        let row = registry::find(name)
            .filter(|row| row.serves.contains(&capability))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "estimators.{}.model: {name:?} is not a {} model faceserve can run (choose from {})",
                    capability.name(),
                    capability.name(),
                    registry::models_for(capability).join(", ")
                )
            })?;
        for name in std::iter::once(row.name).chain(row.companion) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Ok(names)
}

/// What every slot needs to find and start its model.
struct Context<'a> {
    settings: &'a EstimatorSettings,
    fetch: FetchOptions,
    runtime: Runtime,
    observer: Arc<dyn Observer>,
}

impl Context<'_> {
    /// The model the settings name for `capability`; `None` when it is switched off.
    fn model(&self, capability: Capability) -> Option<&str> {
        self.settings
            .of(capability)
            .model_or(capability.default_model())
    }

    fn slot<I: Send + 'static, O: Send + 'static>(
        &self,
        capability: Capability,
        pick: impl Fn(&Loader) -> Option<LoadFn<I, O>>,
    ) -> anyhow::Result<Slot<I, O>> {
        self.slot_of(capability, self.model(capability), pick)
    }

    /// The slot of `capability`'s estimator served by model `name` (`None`: switched off).
    fn slot_of<I: Send + 'static, O: Send + 'static>(
        &self,
        capability: Capability,
        name: Option<&str>,
        pick: impl Fn(&Loader) -> Option<LoadFn<I, O>>,
    ) -> anyhow::Result<Slot<I, O>> {
        let estimator = capability.name();
        let Some(name) = name else {
            return Ok(Slot::Unavailable(format!(
                "not available: {estimator} is switched off (estimators.{estimator}.model = \"\")"
            )));
        };
        let (row, load) = registry::find(name)
            .and_then(|row| pick(&row.loader).map(|load| (row, load)))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "estimators.{estimator}.model: {name:?} is not a {estimator} model faceserve can run (choose from {})",
                    registry::models_for(capability).join(", ")
                )
            })?;
        let file = match self.locate(name) {
            Ok(file) => file,
            Err(e) => {
                return Ok(Slot::Unavailable(format!(
                    "not available: {estimator} has no model configured ({name} missing: {e})"
                )));
            }
        };
        let queue = &self.settings.of(capability).queue;
        Ok(Slot::Ready(Arc::new(self.lazy(row, load, file, queue))))
    }

    fn lazy<I: Send + 'static, O: Send + 'static>(
        &self,
        row: &Row,
        load: LoadFn<I, O>,
        file: ModelFile,
        queue: &QueueSettings,
    ) -> LazyEstimator<I, O> {
        let spec = LoadSpec {
            name: row.name.to_string(),
            family: row.family,
            max_batch: queue.max_batch,
            min_confidence: self.settings.body_score_threshold,
        };
        let path: Arc<OnceLock<PathBuf>> = Arc::default();
        let (runtime, resolved) = (self.runtime.clone(), path.clone());
        let factory = Arc::new(move |_worker: usize| {
            let path = resolved
                .get()
                .expect("the file is resolved before the start");
            load(&runtime, path, &spec).map_err(|e| ModelError(e.to_string()))
        });
        let batcher = LazyBatcher::new(
            row.name,
            queue.batcher_config(),
            factory,
            self.observer.clone(),
        );
        LazyEstimator::new(file, path, batcher)
    }

    fn mask(&self) -> anyhow::Result<MaskEngine> {
        let name = self.model(Capability::Mask);
        let detector = name
            .and_then(registry::find)
            .is_some_and(|row| matches!(row.loader, Loader::MaskedFaces(_)));
        Ok(if detector {
            MaskEngine::Detector(self.slot(Capability::Mask, |l| match l {
                Loader::MaskedFaces(f) => Some(*f),
                _ => None,
            })?)
        } else {
            MaskEngine::Classifier(self.slot(Capability::Mask, |l| match l {
                Loader::MaskClassifier(f) => Some(*f),
                _ => None,
            })?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_models_are_every_default_with_its_companion_unless_switched_off() {
        let mut settings = EstimatorSettings::default();
        let defaults = configured_models(&settings).unwrap();
        for capability in Capability::ALL {
            assert!(
                defaults.contains(&capability.default_model()),
                "{capability:?}"
            );
        }
        assert!(defaults.contains(&"mp_face_blendshapes"), "{defaults:?}");
        settings.eyes.model = Some(String::new());
        settings.gender.model = Some("human_faceres".into());
        settings.age.model = Some("human_faceres".into());
        let chosen = configured_models(&settings).unwrap();
        assert!(
            !chosen.contains(&"mp_face_landmarks_detector")
                && !chosen.contains(&"mp_face_blendshapes")
        );
        assert_eq!(chosen.iter().filter(|&&n| n == "human_faceres").count(), 1);
        settings.body.model = Some("dlib_age_v1".into());
        assert!(configured_models(&settings).is_err());
    }
}
