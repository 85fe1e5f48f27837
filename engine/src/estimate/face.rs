//! One face of an `Estimate`: its landmarks first when the five points are missing, then every estimator the request
//! names (and those the quality assessment reuses) at once, each on its model's queue.

use std::sync::Arc;

use faceserve_proto::v1 as pb;
use faceserve_vision::detect::Detection;
use faceserve_vision::estimate::eyes::{EyeOpenness, eye_openness};
use faceserve_vision::estimate::keypoints::{five_points, named_keypoints};
use faceserve_vision::estimate::masked_face::{MaskedFaceBox, mask_of};
use faceserve_vision::estimate::{FaceJob, FaceRegion};
use faceserve_vision::quality::FaceSignals;
use image::RgbImage;

use super::answer as out;
use super::request::{Region, Wanted};
use crate::estimators::{MaskEngine, Slot};
use crate::{ApiError, Engine};

impl Engine {
    pub(super) async fn estimate_face(
        &self,
        image: Arc<RgbImage>,
        id: u32,
        region: &Region,
        wanted: &Wanted,
        include_106: bool,
        mask_boxes: Option<&[MaskedFaceBox]>,
    ) -> Result<pb::FaceObject, ApiError> {
        let e = &self.estimators;
        let (width, height) = image.dimensions();
        let mut face = region.face;
        // The 106 landmarks: for the keypoints, and for five points a face given by its box lacks.
        let needs_points = face.landmarks.is_none() && (wanted.template || wanted.quality);
        let landmarks = if wanted.keypoints || (needs_points && e.landmarks.is_ready()) {
            let job = FaceJob {
                image: image.clone(),
                face,
            };
            Some(e.landmarks.infer(job).await?)
        } else {
            None
        };
        if face.landmarks.is_none() {
            face.landmarks = landmarks.as_ref().map(|l| five_points(&l.0));
        }
        let job = FaceJob {
            image: image.clone(),
            face,
        };
        let mut errors = Vec::new();
        let for_quality = |ready: bool| wanted.quality && ready;
        let run_age = wanted.age;
        let shared =
            matches!((&e.age, &e.gender), (Slot::Ready(a), Slot::Ready(g)) if Arc::ptr_eq(a, g));
        let run_gender = wanted.gender && !(shared && run_age);
        let (age, gender, emotions, liveness, pose, mask, eyes, template) = tokio::join!(
            optional(run_age, || async { e.age.infer(job.clone()).await }),
            optional(run_gender, || async { e.gender.infer(job.clone()).await }),
            optional(
                wanted.emotion || for_quality(e.emotion.is_ready()),
                || async { e.emotion.infer(job.clone()).await }
            ),
            optional(wanted.liveness, || async {
                e.liveness.infer(job.clone()).await
            }),
            optional(wanted.pose || for_quality(e.pose.is_ready()), || async {
                e.pose.infer(job.clone()).await
            }),
            optional(self.uses_mask(wanted), || self.mask(&job, mask_boxes)),
            optional(
                for_quality(e.mesh.is_ready() && e.blendshapes.is_ready()),
                || self.eyes(&job)
            ),
            optional(wanted.template, || self.template(&job, region.score)),
        );
        let age = age?;
        let gender = gender?.or(if shared { age } else { None });
        let (emotions, pose, mask) = (emotions?, pose?, mask?.flatten());
        let mut found = crate::convert::face(&detection(&face, region.score), width, height);
        if face.landmarks.is_none() {
            found.landmarks.clear();
        }
        let mut object = pb::FaceObject {
            id,
            face: Some(found),
            ..Default::default()
        };
        if wanted.age {
            object.age = age.and_then(|a| a.age);
        }
        if wanted.gender {
            (object.gender, object.gender_confidence) = out::gender(gender.and_then(|g| g.male));
        }
        if let (true, Some(emotions)) = (wanted.emotion, &emotions) {
            (object.emotions, object.emotion, object.emotion_confidence) = out::emotions(emotions);
        }
        if let Some(confidence) = liveness? {
            object.liveness = Some(self.liveness_of(confidence));
        }
        if wanted.pose {
            object.pose = pose.map(out::pose);
        }
        if wanted.mask {
            match mask {
                Some(p) => object.has_medical_mask = Some(out::mask(p)),
                None => errors.push(out::error(
                    pb::Estimator::Mask,
                    ApiError::new(
                        pb::ErrorCode::NoFace,
                        "can not detect face (the masked-face detector saw no face at this box)",
                    ),
                )),
            }
        }
        if let Some(l) = landmarks.as_ref().filter(|_| wanted.keypoints) {
            object.keypoints = Some(out::keypoints(&named_keypoints(&l.0), width, height));
            if include_106 {
                object.landmarks_106 = l.0.iter().map(|p| pb::Point { x: p[0], y: p[1] }).collect();
            }
        }
        match template {
            Ok(Some(t)) => object.template = Some(t),
            Ok(None) => {}
            Err(err) if err.code == pb::ErrorCode::FaceTooSmall => {
                errors.push(out::error(pb::Estimator::Template, err))
            }
            Err(err) => return Err(err),
        }
        if wanted.quality {
            let signals = FaceSignals {
                pose,
                mask,
                emotions,
                eyes: eyes?,
            };
            object.quality = Some(self.quality_assessment(image, face, signals).await?);
        }
        object.errors = errors;
        Ok(object)
    }

    /// The mask probability of a face, from whichever engine is configured; `None` when the masked-face detector
    /// saw no face at this box.
    async fn mask(
        &self,
        job: &FaceJob,
        boxes: Option<&[MaskedFaceBox]>,
    ) -> Result<Option<f32>, ApiError> {
        match &self.estimators.mask {
            MaskEngine::Classifier(slot) => slot.infer(job.clone()).await.map(Some),
            MaskEngine::Detector(_) => Ok(boxes.and_then(|b| mask_of(b, &job.face))),
        }
    }

    pub(crate) async fn eyes(&self, job: &FaceJob) -> Result<EyeOpenness, ApiError> {
        let e = &self.estimators;
        let mesh = e.mesh.infer(job.clone()).await?;
        let shapes = e.blendshapes.infer(mesh.blendshape_input()).await?;
        Ok(eye_openness(&shapes))
    }

    /// The mask probability of one face on its own (running the masked-face detector on its photo when that is the
    /// engine); `None` without a mask model or when the detector saw no face there.
    pub(crate) async fn mask_of_face(&self, job: &FaceJob) -> Result<Option<f32>, ApiError> {
        match &self.estimators.mask {
            MaskEngine::Classifier(Slot::Ready(m)) => m.infer(job.clone()).await.map(Some),
            MaskEngine::Detector(Slot::Ready(m)) => {
                let boxes = m.infer(job.image.clone()).await?;
                Ok(mask_of(&boxes, &job.face))
            }
            _ => Ok(None),
        }
    }

    async fn template(&self, job: &FaceJob, score: f32) -> Result<pb::Template, ApiError> {
        let embedding = self
            .pipeline
            .embed(job.image.clone(), &detection(&job.face, score))
            .await?;
        Ok(pb::Template {
            model: self.pipeline.recognizer_name().to_string(),
            embedding: embedding.vector,
        })
    }

    pub(super) fn liveness_of(&self, confidence: f32) -> pb::Liveness {
        let threshold = self.estimators.liveness_threshold;
        let real = confidence >= threshold;
        pb::Liveness {
            confidence,
            value: if real {
                pb::LivenessValue::Real
            } else {
                pb::LivenessValue::Fake
            } as i32,
            threshold,
            experimental: true,
            model: match &self.estimators.liveness {
                Slot::Ready(m) => m.name().to_string(),
                Slot::Unavailable(_) => String::new(),
            },
        }
    }
}

/// Runs `f` when `run`, giving `None` otherwise.
async fn optional<T, F, Fut>(run: bool, f: F) -> Result<Option<T>, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    if run { f().await.map(Some) } else { Ok(None) }
}

/// A face region as a detection (five points are zero when unknown).
fn detection(face: &FaceRegion, score: f32) -> Detection {
    Detection {
        bbox: face.bbox,
        landmarks: face.landmarks.unwrap_or([[0.0; 2]; 5]),
        score,
    }
}
