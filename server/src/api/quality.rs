//! Face quality: the Image API's quality assessment (`Estimate` with ESTIMATOR_QUALITY) and the first spec's
//! quality block of `Add` / `Identify` (`include_quality`). Both turn the image measurements of
//! `faceserve_vision::estimate::image_quality` and the other estimators' answers into scores with a verdict each,
//! against the thresholds below (documented field by field in estimate.proto and face.proto). A check whose model is
//! not available is left out and, in the assessment, named in `not_computed` with the reason.

use std::sync::Arc;

use faceserve_proto::v1 as pb;
use faceserve_vision::detect::Detection;
use faceserve_vision::estimate::emotion::Expression;
use faceserve_vision::estimate::image_quality::{ImageMeasures, measure};
use faceserve_vision::estimate::{FaceJob, FaceRegion};
use image::RgbImage;

use super::estimate::FaceSignals;
use super::{Api, ApiError, blocking};

/// Laplacian variance at which the sharpness score is 0.5 (grey levels squared, on the aligned 112x112 face).
pub const SHARPNESS_HALF: f32 = 100.0;
pub const MIN_SHARPNESS: f32 = 0.5;
/// Darker half of the face over the brighter half.
pub const MIN_ILLUMINATION: f32 = 0.7;
/// Fraction of saturated face pixels.
pub const MAX_FLARE: f32 = 0.02;
pub const MIN_EYE_OPENNESS: f32 = 0.5;
/// Degrees.
pub const MAX_ROTATION: f32 = 20.0;
pub const MIN_NOT_MASKED: f32 = 0.5;
pub const MIN_NEUTRAL: f32 = 0.5;
/// Pixels between the eye centres.
pub const MIN_EYES_DISTANCE: f32 = 40.0;
/// Margin to the photo's edges, as a fraction of the longer box side.
pub const MARGIN: f32 = 0.1;
/// Noise sigma (grey levels) at which the noise score reaches 0.
pub const NOISE_SCALE: f32 = 10.0;
pub const MIN_NOISE_SCORE: f32 = 0.5;
/// Stops between the face's 1st and 99th grey percentiles.
pub const MIN_DYNAMIC_RANGE: f32 = 2.0;
/// Grey standard deviation around the head at which background uniformity reaches 0.
pub const BACKGROUND_SCALE: f32 = 64.0;
pub const MIN_BACKGROUND_UNIFORMITY: f32 = 0.7;
/// Mean grey of the face over 255, acceptable range.
pub const EXPOSURE_RANGE: (f32, f32) = (0.25, 0.85);
/// Grey standard deviation of the face over 64, at least.
pub const MIN_CONTRAST: f32 = 0.25;
/// JPEG blockiness, at most.
pub const MAX_BLOCKINESS: f32 = 0.3;
/// Recognizer embedding norms mapped to 0..1 for the face-image-quality score, and its pass mark.
pub const EMBEDDING_NORM_RANGE: (f32, f32) = (9.0, 27.0);
pub const MIN_FACE_IMAGE_QUALITY: f32 = 0.4;

fn sharpness(m: &ImageMeasures) -> f32 {
    m.laplacian_variance / (m.laplacian_variance + SHARPNESS_HALF)
}

fn noise_score(m: &ImageMeasures) -> f32 {
    (1.0 - m.noise_sigma / NOISE_SCALE).clamp(0.0, 1.0)
}

fn eyes_distance(face: &FaceRegion) -> Option<f32> {
    face.landmarks
        .map(|p| ((p[1][0] - p[0][0]).powi(2) + (p[1][1] - p[0][1]).powi(2)).sqrt())
}

/// Pixels of the box outside the photo, and pixels missing to a margin of [`MARGIN`] x the box to the nearest edge.
fn margins(face: &FaceRegion, width: u32, height: u32) -> (f32, f32) {
    let [x1, y1, x2, y2] = face.bbox;
    let gaps = [x1, y1, width as f32 - x2, height as f32 - y2];
    let smallest = gaps.into_iter().fold(f32::INFINITY, f32::min);
    let outer = (-smallest).max(0.0);
    let wanted = MARGIN * face.width().max(face.height());
    let inner = (wanted - smallest.max(0.0)).max(0.0);
    (outer, inner)
}

impl Api {
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
        let (width, height) = image.dimensions();
        let m = self.measures(image, face).await?;
        let mut q = pb::QualityAssessment::default();
        let reason = |what: &str, e: &str| format!("{what}: {e}");
        let sharp = sharpness(&m);
        (q.sharpness_score, q.is_sharp) = (Some(sharp), Some(sharp >= MIN_SHARPNESS));
        (q.illumination_score, q.is_evenly_illuminated) = (
            Some(m.halves_ratio),
            Some(m.halves_ratio >= MIN_ILLUMINATION),
        );
        q.no_flare = Some(m.saturated_fraction < MAX_FLARE);
        match signals.eyes {
            Some(eyes) => {
                (q.left_eye_openness_score, q.is_left_eye_opened) =
                    (Some(eyes.left), Some(eyes.left >= MIN_EYE_OPENNESS));
                (q.right_eye_openness_score, q.is_right_eye_opened) =
                    (Some(eyes.right), Some(eyes.right >= MIN_EYE_OPENNESS));
            }
            None => q
                .not_computed
                .push(reason("eyes", &self.unavailable_eyes())),
        }
        match signals.pose {
            Some(p) => {
                let dev = p.max_deviation();
                (q.max_rotation_deviation, q.is_rotation_acceptable) =
                    (Some(dev), Some(dev.abs() <= MAX_ROTATION));
            }
            None => q
                .not_computed
                .push(reason("rotation", &unavailable(self.estimators.pose.get()))),
        }
        match signals.mask {
            Some(mask) => {
                (q.not_masked_score, q.not_masked) =
                    (Some(1.0 - mask), Some(1.0 - mask >= MIN_NOT_MASKED))
            }
            None => q
                .not_computed
                .push(reason("mask", &self.unavailable_mask())),
        }
        match signals.emotions {
            Some(e) => {
                let neutral = e.get(Expression::Neutral);
                (q.neutral_emotion_score, q.is_neutral_emotion) =
                    (Some(neutral), Some(neutral >= MIN_NEUTRAL));
            }
            None => q.not_computed.push(reason(
                "emotion",
                &unavailable(self.estimators.emotion.get()),
            )),
        }
        match eyes_distance(&face) {
            Some(d) => {
                (q.eyes_distance, q.is_eyes_distance_acceptable) =
                    (Some(d), Some(d >= MIN_EYES_DISTANCE))
            }
            None => q.not_computed.push(reason(
                "eyes_distance",
                "no eye landmarks (give them or enable keypoints)",
            )),
        }
        let (outer, inner) = margins(&face, width, height);
        (
            q.margin_outer_deviation,
            q.margin_inner_deviation,
            q.is_margins_acceptable,
        ) = (Some(outer), Some(inner), Some(outer == 0.0 && inner == 0.0));
        let noise = noise_score(&m);
        (q.noise_score, q.is_not_noisy) = (Some(noise), Some(noise >= MIN_NOISE_SCORE));
        q.not_computed.push(reason(
            "watermark",
            "not available: no watermark model is configured",
        ));
        (q.dynamic_range_score, q.is_dynamic_range_acceptable) = (
            Some(m.dynamic_range_stops),
            Some(m.dynamic_range_stops >= MIN_DYNAMIC_RANGE),
        );
        match m.background_std {
            Some(std) => {
                let u = (1.0 - std / BACKGROUND_SCALE).clamp(0.0, 1.0);
                (q.background_uniformity_score, q.is_background_uniform) =
                    (Some(u), Some(u >= MIN_BACKGROUND_UNIFORMITY));
            }
            None => q
                .not_computed
                .push(reason("background", "the face fills the photo")),
        }
        let verdicts = [
            q.is_sharp,
            q.is_evenly_illuminated,
            q.no_flare,
            q.is_left_eye_opened,
            q.is_right_eye_opened,
            q.is_rotation_acceptable,
            q.not_masked,
            q.is_neutral_emotion,
            q.is_eyes_distance_acceptable,
            q.is_margins_acceptable,
            q.is_not_noisy,
            q.is_dynamic_range_acceptable,
            q.is_background_uniform,
        ];
        let computed: Vec<bool> = verdicts.into_iter().flatten().collect();
        q.total_score =
            computed.iter().filter(|&&v| v).count() as f32 / computed.len().max(1) as f32;
        Ok(q)
    }

    fn unavailable_eyes(&self) -> String {
        unavailable(
            self.estimators
                .mesh
                .get()
                .and(self.estimators.blendshapes.get()),
        )
    }

    fn unavailable_mask(&self) -> String {
        match self.estimators.check_mask() {
            Err(e) => e.info,
            Ok(()) => "the masked-face detector saw no face at this box".into(),
        }
    }

    /// The first spec's quality block for a face found by Add or Identify: every part whose model is available.
    pub(super) async fn face_quality(
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
            async {
                if e.age.is_ready() {
                    e.age.get()?.infer(job.clone()).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            async {
                if e.gender.is_ready() {
                    e.gender.get()?.infer(job.clone()).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            async {
                if e.pose.is_ready() {
                    e.pose.get()?.infer(job.clone()).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            async {
                if e.emotion.is_ready() {
                    e.emotion.get()?.infer(job.clone()).await.map(Some)
                } else {
                    Ok(None)
                }
            },
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
        let (pose, eyes, m) = (pose?, eyes?, m?);
        let value = |value: f32, fine: bool| Some(pb::QualityValue { value, fine });
        let sharp = sharpness(&m);
        let exposure = m.mean_level / 255.0;
        let contrast = (m.level_std / 64.0).min(1.0);
        let recognisability = ((embedding_norm - EMBEDDING_NORM_RANGE.0)
            / (EMBEDDING_NORM_RANGE.1 - EMBEDDING_NORM_RANGE.0))
            .clamp(0.0, 1.0);
        Ok(pb::FaceQuality {
            age: age?.and_then(|a| a.age),
            gender: match gender?.and_then(|g| g.male) {
                Some(p) if p >= 0.5 => "male".into(),
                Some(_) => "female".into(),
                None => String::new(),
            },
            pitch: pose.map(|p| p.pitch),
            yaw: pose.map(|p| p.yaw),
            roll: pose.map(|p| p.roll),
            uniformity: value(m.halves_ratio, m.halves_ratio >= MIN_ILLUMINATION),
            exposure: value(
                exposure,
                (EXPOSURE_RANGE.0..=EXPOSURE_RANGE.1).contains(&exposure),
            ),
            contrast: value(contrast, contrast >= MIN_CONTRAST),
            flare: value(m.saturated_fraction, m.saturated_fraction < MAX_FLARE),
            blur: value(1.0 - sharp, sharp >= MIN_SHARPNESS),
            macroblocks: value(m.blockiness, m.blockiness <= MAX_BLOCKINESS),
            distortion: None,
            occlusion: mask?.and_then(|p| value(p, p < 0.5)),
            emotion: emotions?.and_then(|e| {
                let other = 1.0 - e.get(Expression::Neutral);
                value(other, other < 1.0 - MIN_NEUTRAL)
            }),
            left_eye_closed: eyes.and_then(|o| value(1.0 - o.left, o.left >= MIN_EYE_OPENNESS)),
            right_eye_closed: eyes.and_then(|o| value(1.0 - o.right, o.right >= MIN_EYE_OPENNESS)),
            face_image_quality: value(recognisability, recognisability >= MIN_FACE_IMAGE_QUALITY),
        })
    }
}

/// The reason an estimator has no model, for `not_computed`.
fn unavailable<T>(slot: Result<T, ApiError>) -> String {
    match slot {
        Err(e) => e.info,
        Ok(_) => "not computed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_count_pixels_outside_and_missing() {
        let face = |bbox| FaceRegion {
            bbox,
            landmarks: None,
        };
        // 100 px box, 10 px margin wanted: 50 px to every edge is fine.
        assert_eq!(
            margins(&face([50.0, 50.0, 150.0, 150.0]), 200, 200),
            (0.0, 0.0)
        );
        // 4 px from the left edge: 6 px missing.
        assert_eq!(
            margins(&face([4.0, 50.0, 104.0, 150.0]), 200, 200),
            (0.0, 6.0)
        );
        // 20 px past the right edge.
        assert_eq!(
            margins(&face([120.0, 50.0, 220.0, 150.0]), 200, 200),
            (20.0, 10.0)
        );
    }
}
