//! Face quality scoring, with every threshold in one place: the Image API's quality assessment and the first spec's
//! quality block both turn the image measurements of [`crate::estimate::image_quality`] and the other estimators'
//! answers into scores with a verdict each. Field by field meaning: estimate.proto and face.proto. A check whose
//! input is missing (its model is not available) is `None`; the caller says why.

use crate::estimate::FaceRegion;
use crate::estimate::emotion::{Emotions, Expression};
use crate::estimate::eyes::EyeOpenness;
use crate::estimate::image_quality::ImageMeasures;
use crate::estimate::pose::HeadPose;

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
/// A face with at least this mask probability is masked, everywhere (the mask estimator, both quality blocks).
pub const MASKED_AT: f32 = 0.5;
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

/// A score and whether it passes its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Graded {
    pub value: f32,
    pub fine: bool,
}

fn graded(value: f32, fine: bool) -> Graded {
    Graded { value, fine }
}

/// Whether a face with mask probability `p` counts as masked.
pub fn is_masked(p: f32) -> bool {
    p >= MASKED_AT
}

/// What the other estimators said about the face, where they ran.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaceSignals {
    pub pose: Option<HeadPose>,
    /// Probability of a mask.
    pub mask: Option<f32>,
    pub emotions: Option<Emotions>,
    pub eyes: Option<EyeOpenness>,
}

/// The Image API's quality assessment of one face; `None` where a signal is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub sharpness: Graded,
    pub illumination: Graded,
    pub no_flare: bool,
    pub left_eye_openness: Option<Graded>,
    pub right_eye_openness: Option<Graded>,
    /// The angle farthest from zero, with its sign.
    pub rotation: Option<Graded>,
    pub not_masked: Option<Graded>,
    pub neutral_emotion: Option<Graded>,
    /// `None` without eye landmarks.
    pub eyes_distance: Option<Graded>,
    /// Pixels of the box outside the photo, and pixels missing to the wanted margin.
    pub margins: (f32, f32),
    pub margins_fine: bool,
    pub noise: Graded,
    pub dynamic_range: Graded,
    /// `None` when the face fills the photo.
    pub background_uniformity: Option<Graded>,
    /// Share of the computed verdicts that pass.
    pub total: f32,
}

fn sharpness(m: &ImageMeasures) -> f32 {
    m.laplacian_variance / (m.laplacian_variance + SHARPNESS_HALF)
}

fn eyes_distance(face: &FaceRegion) -> Option<f32> {
    face.landmarks
        .map(|p| ((p[1][0] - p[0][0]).powi(2) + (p[1][1] - p[0][1]).powi(2)).sqrt())
}

/// Pixels of the box outside the photo, and pixels missing to a margin of [`MARGIN`] x the box to the nearest edge.
pub fn margins(face: &FaceRegion, width: u32, height: u32) -> (f32, f32) {
    let [x1, y1, x2, y2] = face.bbox;
    let gaps = [x1, y1, width as f32 - x2, height as f32 - y2];
    let smallest = gaps.into_iter().fold(f32::INFINITY, f32::min);
    let outer = (-smallest).max(0.0);
    let wanted = MARGIN * face.width().max(face.height());
    let inner = (wanted - smallest.max(0.0)).max(0.0);
    (outer, inner)
}

/// The assessment of `face` on a `width` x `height` photo.
pub fn assess(
    m: &ImageMeasures,
    face: &FaceRegion,
    (width, height): (u32, u32),
    signals: &FaceSignals,
) -> Assessment {
    let sharp = sharpness(m);
    let noise = (1.0 - m.noise_sigma / NOISE_SCALE).clamp(0.0, 1.0);
    let margins = margins(face, width, height);
    let mut a = Assessment {
        sharpness: graded(sharp, sharp >= MIN_SHARPNESS),
        illumination: graded(m.halves_ratio, m.halves_ratio >= MIN_ILLUMINATION),
        no_flare: m.saturated_fraction < MAX_FLARE,
        left_eye_openness: signals
            .eyes
            .map(|e| graded(e.left, e.left >= MIN_EYE_OPENNESS)),
        right_eye_openness: signals
            .eyes
            .map(|e| graded(e.right, e.right >= MIN_EYE_OPENNESS)),
        rotation: signals.pose.map(|p| {
            let deviation = p.max_deviation();
            graded(deviation, deviation.abs() <= MAX_ROTATION)
        }),
        not_masked: signals.mask.map(|p| graded(1.0 - p, !is_masked(p))),
        neutral_emotion: signals.emotions.map(|e| {
            let neutral = e.get(Expression::Neutral);
            graded(neutral, neutral >= MIN_NEUTRAL)
        }),
        eyes_distance: eyes_distance(face).map(|d| graded(d, d >= MIN_EYES_DISTANCE)),
        margins,
        margins_fine: margins == (0.0, 0.0),
        noise: graded(noise, noise >= MIN_NOISE_SCORE),
        dynamic_range: graded(
            m.dynamic_range_stops,
            m.dynamic_range_stops >= MIN_DYNAMIC_RANGE,
        ),
        background_uniformity: m.background_std.map(|std| {
            let u = (1.0 - std / BACKGROUND_SCALE).clamp(0.0, 1.0);
            graded(u, u >= MIN_BACKGROUND_UNIFORMITY)
        }),
        total: 0.0,
    };
    let optional = [
        &a.left_eye_openness,
        &a.right_eye_openness,
        &a.rotation,
        &a.not_masked,
        &a.neutral_emotion,
        &a.eyes_distance,
        &a.background_uniformity,
    ];
    let verdicts: Vec<bool> = [
        a.sharpness.fine,
        a.illumination.fine,
        a.no_flare,
        a.margins_fine,
        a.noise.fine,
        a.dynamic_range.fine,
    ]
    .into_iter()
    .chain(optional.into_iter().flatten().map(|g| g.fine))
    .collect();
    a.total = verdicts.iter().filter(|&&v| v).count() as f32 / verdicts.len().max(1) as f32;
    a
}

/// The first spec's quality block of a face found by Add or Identify (the image parts; age, gender and pose are
/// the estimators' own answers).
#[derive(Debug, Clone, PartialEq)]
pub struct SpecQuality {
    pub uniformity: Graded,
    pub exposure: Graded,
    pub contrast: Graded,
    pub flare: Graded,
    pub blur: Graded,
    pub macroblocks: Graded,
    /// From the mask probability.
    pub occlusion: Option<Graded>,
    /// One minus the neutral probability.
    pub emotion: Option<Graded>,
    pub left_eye_closed: Option<Graded>,
    pub right_eye_closed: Option<Graded>,
    /// The recognizer's embedding norm mapped to 0..1.
    pub face_image_quality: Graded,
}

pub fn spec_quality(m: &ImageMeasures, signals: &FaceSignals, embedding_norm: f32) -> SpecQuality {
    let sharp = sharpness(m);
    let exposure = m.mean_level / 255.0;
    let contrast = (m.level_std / 64.0).min(1.0);
    let recognisability = ((embedding_norm - EMBEDDING_NORM_RANGE.0)
        / (EMBEDDING_NORM_RANGE.1 - EMBEDDING_NORM_RANGE.0))
        .clamp(0.0, 1.0);
    SpecQuality {
        uniformity: graded(m.halves_ratio, m.halves_ratio >= MIN_ILLUMINATION),
        exposure: graded(
            exposure,
            (EXPOSURE_RANGE.0..=EXPOSURE_RANGE.1).contains(&exposure),
        ),
        contrast: graded(contrast, contrast >= MIN_CONTRAST),
        flare: graded(m.saturated_fraction, m.saturated_fraction < MAX_FLARE),
        blur: graded(1.0 - sharp, sharp >= MIN_SHARPNESS),
        macroblocks: graded(m.blockiness, m.blockiness <= MAX_BLOCKINESS),
        occlusion: signals.mask.map(|p| graded(p, !is_masked(p))),
        emotion: signals.emotions.map(|e| {
            let other = 1.0 - e.get(Expression::Neutral);
            graded(other, other < 1.0 - MIN_NEUTRAL)
        }),
        left_eye_closed: signals
            .eyes
            .map(|o| graded(1.0 - o.left, o.left >= MIN_EYE_OPENNESS)),
        right_eye_closed: signals
            .eyes
            .map(|o| graded(1.0 - o.right, o.right >= MIN_EYE_OPENNESS)),
        face_image_quality: graded(recognisability, recognisability >= MIN_FACE_IMAGE_QUALITY),
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

    #[test]
    fn a_face_at_the_mask_threshold_is_masked_in_every_block() {
        let m = ImageMeasures::default();
        let signals = FaceSignals {
            mask: Some(MASKED_AT),
            ..Default::default()
        };
        let face = FaceRegion {
            bbox: [10.0, 10.0, 50.0, 50.0],
            landmarks: None,
        };
        assert!(is_masked(MASKED_AT));
        assert!(
            !assess(&m, &face, (100, 100), &signals)
                .not_masked
                .unwrap()
                .fine
        );
        assert!(!spec_quality(&m, &signals, 20.0).occlusion.unwrap().fine);
    }
}
