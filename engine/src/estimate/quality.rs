//! Face quality as the API's messages: the Image API's quality assessment (`Estimate` with ESTIMATOR_QUALITY) and
//! the first spec's quality block of `Add` / `Identify` (`include_quality`). The scores and their thresholds are
//! [`faceserve_vision::quality`]'s; this file runs the estimators they reuse, and names each check it could not
//! compute with the reason (an estimator without a model).

use std::sync::Arc;

use faceserve_proto::v1 as pb;
use faceserve_vision::detect::Detection;
use faceserve_vision::estimate::image_quality::{ImageMeasures, measure};
use faceserve_vision::estimate::{FaceJob, FaceRegion};
use faceserve_vision::quality::{self, FaceSignals, Graded};
use image::RgbImage;

use crate::estimators::Slot;
use crate::{ApiError, Engine, blocking};

/// Why the first spec's `distortion` is absent. A lens or perspective distortion score needs either the camera's
/// intrinsics or a model trained on distorted faces; neither exists here, and a number from a made-up formula would
/// be read as a measurement.
const NO_DISTORTION: &str = "not computed: faceserve has no lens or perspective distortion measure (no model or camera data for it)";

/// A graded score as the first spec's value + verdict.
fn value(g: Graded) -> pb::QualityValue {
    pb::QualityValue {
        value: g.value,
        fine: g.fine,
    }
}

/// A graded score as the Image API's (score, verdict) pair.
fn pair(g: Option<Graded>) -> (Option<f32>, Option<bool>) {
    (g.map(|g| g.value), g.map(|g| g.fine))
}

impl Engine {
    async fn measures(
        &self,
        image: Arc<RgbImage>,
        face: FaceRegion,
    ) -> Result<ImageMeasures, ApiError> {
        blocking(move || measure(&image, &face)).await
    }

    /// The Image API's quality assessment of one face.
    pub(super) async fn quality_assessment(
        &self,
        image: Arc<RgbImage>,
        face: FaceRegion,
        signals: FaceSignals,
    ) -> Result<pb::QualityAssessment, ApiError> {
        let size = image.dimensions();
        let m = self.measures(image, face).await?;
        let a = quality::assess(&m, &face, size, &signals);
        let mut q = pb::QualityAssessment {
            total_score: a.total,
            no_flare: Some(a.no_flare),
            margin_outer_deviation: Some(a.margins.0),
            margin_inner_deviation: Some(a.margins.1),
            is_margins_acceptable: Some(a.margins_fine),
            ..Default::default()
        };
        (q.sharpness_score, q.is_sharp) = pair(Some(a.sharpness));
        (q.illumination_score, q.is_evenly_illuminated) = pair(Some(a.illumination));
        (q.left_eye_openness_score, q.is_left_eye_opened) = pair(a.left_eye_openness);
        (q.right_eye_openness_score, q.is_right_eye_opened) = pair(a.right_eye_openness);
        (q.max_rotation_deviation, q.is_rotation_acceptable) = pair(a.rotation);
        (q.not_masked_score, q.not_masked) = pair(a.not_masked);
        (q.neutral_emotion_score, q.is_neutral_emotion) = pair(a.neutral_emotion);
        (q.eyes_distance, q.is_eyes_distance_acceptable) = pair(a.eyes_distance);
        (q.noise_score, q.is_not_noisy) = pair(Some(a.noise));
        (q.dynamic_range_score, q.is_dynamic_range_acceptable) = pair(Some(a.dynamic_range));
        (q.background_uniformity_score, q.is_background_uniform) = pair(a.background_uniformity);
        let e = &self.estimators;
        let missing = [
            (signals.eyes.is_none(), "eyes", self.unavailable_eyes()),
            (signals.pose.is_none(), "rotation", unavailable(&e.pose)),
            (signals.mask.is_none(), "mask", self.unavailable_mask()),
            (
                signals.emotions.is_none(),
                "emotion",
                unavailable(&e.emotion),
            ),
            (
                a.eyes_distance.is_none(),
                "eyes_distance",
                "no eye landmarks (give them or enable keypoints)".into(),
            ),
            (
                true,
                "watermark",
                "not available: no watermark model is configured".into(),
            ),
            (
                a.background_uniformity.is_none(),
                "background",
                "the face fills the photo".into(),
            ),
        ];
        q.not_computed = missing
            .into_iter()
            .filter(|(absent, _, _)| *absent)
            .map(|(_, what, why)| format!("{what}: {why}"))
            .collect();
        Ok(q)
    }

    fn unavailable_eyes(&self) -> String {
        let e = &self.estimators;
        match e.mesh.get().and(e.blendshapes.get()) {
            Err(err) => err.info,
            Ok(_) => "not computed".into(),
        }
    }

    fn unavailable_mask(&self) -> String {
        match self.estimators.check_mask() {
            Err(e) => e.info,
            Ok(()) => "the masked-face detector saw no face at this box".into(),
        }
    }

    /// The first spec's quality block for a face found by Add or Identify: every part whose model is available.
    pub(crate) async fn face_quality(
        &self,
        image: Arc<RgbImage>,
        face: &Detection,
        embedding_norm: f32,
    ) -> Result<pb::FaceQuality, ApiError> {
        let e = &self.estimators;
        let region = FaceRegion::from(face);
        let job = FaceJob {
            image: image.clone(),
            face: region,
        };
        let (age, gender, pose, emotions, eyes, mask, m) = tokio::join!(
            if_ready(&e.age, &job),
            if_ready(&e.gender, &job),
            if_ready(&e.pose, &job),
            if_ready(&e.emotion, &job),
            async {
                if e.mesh.is_ready() && e.blendshapes.is_ready() {
                    self.eyes(&job).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            self.mask_of_face(&job),
            self.measures(image, region),
        );
        let signals = FaceSignals {
            pose: pose?,
            mask: mask?,
            emotions: emotions?,
            eyes: eyes?,
        };
        let q = quality::spec_quality(&m?, &signals, embedding_norm);
        let (age, gender) = (age?, gender?);
        let missing = [
            (true, "distortion", NO_DISTORTION.to_string()),
            (age.is_none(), "age", unavailable(&e.age)),
            (gender.is_none(), "gender", unavailable(&e.gender)),
            (signals.pose.is_none(), "pose", unavailable(&e.pose)),
            (q.emotion.is_none(), "emotion", unavailable(&e.emotion)),
            (q.left_eye_closed.is_none(), "eyes", self.unavailable_eyes()),
            (q.occlusion.is_none(), "occlusion", self.unavailable_mask()),
        ];
        Ok(pb::FaceQuality {
            not_computed: missing
                .into_iter()
                .filter(|(absent, _, _)| *absent)
                .map(|(_, what, why)| format!("{what}: {why}"))
                .collect(),
            age: age.and_then(|a| a.age),
            gender: match gender.and_then(|g| g.male) {
                Some(p) if p >= 0.5 => "male".into(),
                Some(_) => "female".into(),
                None => String::new(),
            },
            pitch: signals.pose.map(|p| p.pitch),
            yaw: signals.pose.map(|p| p.yaw),
            roll: signals.pose.map(|p| p.roll),
            uniformity: Some(value(q.uniformity)),
            exposure: Some(value(q.exposure)),
            contrast: Some(value(q.contrast)),
            flare: Some(value(q.flare)),
            blur: Some(value(q.blur)),
            macroblocks: Some(value(q.macroblocks)),
            distortion: None,
            occlusion: q.occlusion.map(value),
            emotion: q.emotion.map(value),
            left_eye_closed: q.left_eye_closed.map(value),
            right_eye_closed: q.right_eye_closed.map(value),
            face_image_quality: Some(value(q.face_image_quality)),
        })
    }
}

/// The estimator's answer for the face when it has a model; `None` otherwise.
async fn if_ready<O: Send + 'static>(
    slot: &Slot<FaceJob, O>,
    job: &FaceJob,
) -> Result<Option<O>, ApiError> {
    match slot {
        Slot::Ready(model) => model.infer(job.clone()).await.map(Some),
        Slot::Unavailable(_) => Ok(None),
    }
}

/// The reason an estimator has no model, for `not_computed`.
fn unavailable<I: Send + 'static, O: Send + 'static>(slot: &Slot<I, O>) -> String {
    match slot.get() {
        Err(e) => e.info,
        Ok(_) => "not computed".into(),
    }
}
