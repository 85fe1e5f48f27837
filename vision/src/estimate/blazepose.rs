//! Person detection with MediaPipe's BlazePose detector (`mp_pose_detection`, the first stage of MediaPipe Pose),
//! decoded as MediaPipe's `pose_detection_cpu` graph does, with the body box taken from its keypoints.
//!
//! Reference preprocessing (`ImageToTensorCalculator`): the photo scaled to fit 224x224 keeping its aspect, centred,
//! zero borders, RGB scaled to -1..1, interleaved; batch fixed at 1. Decoding (`SsdAnchorsCalculator` with fixed
//! anchor size, `TensorsToDetectionsCalculator` with `reverse_output_order`, i.e. x before y): 2254 anchors at
//! strides 8/16/32 with 2/2/6 per cell, centres at (x + 0.5) / n; each row of `Identity` is a box (centre = anchor
//! plus out / 224, size = out / 224) and four keypoints (anchor + out / 224); `Identity_1` holds logits, clipped to
//! ±100 and put through a sigmoid. Weighted NMS at IoU 0.3 on the boxes (`NonMaxSuppressionCalculator`, WEIGHTED)
//! averages the boxes and keypoints of each cluster by score.
//!
//! The box is the person's face (of nearly constant size: it only locates the person). The body comes from the
//! keypoints, as `pose_detection_to_roi` does: keypoint 0 is the mid-hip centre and keypoint 1 a point whose
//! distance `r` from it gives the full-body scale and whose direction the body's axis (hip towards head). MediaPipe
//! crops a square of side 2.5 r rotated along that axis for its landmark model. The person box here is the
//! axis-aligned box of a rectangle centred on the hip along the same axis, [`HALF_HEIGHT`] r up and down and
//! [`HALF_WIDTH`] r to each side, clipped to the photo (docs/ACCURACY.md, "Body detection", says how they were set).

use std::sync::Arc;

use image::{Rgb, RgbImage};

use super::body::Person;
use super::boxes::iou;
use super::model::{Estimator, LoadSpec, unexpected_input, wrong_output_len};
use super::session::EstimatorSession;
use crate::tensor::{ChannelOrder, PixelNorm, fill_hwc, resize_bilinear};

const SIDE: u32 = 224;
/// (stride, anchors per cell) of the three feature maps (MediaPipe's five layers with strides 8, 16, 32, 32, 32, two
/// anchors each, merged by stride).
const LAYERS: [(usize, usize); 3] = [(8, 2), (16, 2), (32, 6)];
const ANCHORS: usize = 2254;
const VALUES_PER_ANCHOR: usize = 12;
const KEYPOINTS: usize = 4;
const SCORE_CLIP: f32 = 100.0;
/// `min_suppression_threshold` of MediaPipe's pose detection graph.
const NMS_IOU: f32 = 0.3;
/// Half the body's length along its axis, in units of the hip-to-scale-point distance `r` (the top of the YOLOX-Nano
/// person box sits 1.13 r above the hip on the five BBT group photos, median of the 15 people both found).
const HALF_HEIGHT: f32 = 1.13;
/// Half the body's width across its axis, in units of `r` (YOLOX-Nano person boxes are 0.74 r wide on the same
/// photos, median; narrower than MediaPipe's square because a person is).
const HALF_WIDTH: f32 = 0.37;
const MINUS_ONE_TO_ONE: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 127.5, 127.5);

/// One decoded anchor, in model input units (0..1 of the 224 square).
#[derive(Debug, Clone, Copy, PartialEq)]
struct PoseDetection {
    /// The face box `[x1, y1, x2, y2]`.
    face: [f32; 4],
    /// Mid-hip centre, full-body scale point, mid-shoulder centre, upper-body scale point.
    keypoints: [[f32; 2]; KEYPOINTS],
    score: f32,
}

/// The anchor centres in MediaPipe's order: layer by layer, row by row, cell by cell, anchor by anchor.
fn anchors() -> Vec<[f32; 2]> {
    let mut anchors = Vec::with_capacity(ANCHORS);
    for (stride, per_cell) in LAYERS {
        let cells = (SIDE as usize).div_ceil(stride);
        for y in 0..cells {
            for x in 0..cells {
                let centre = [
                    (x as f32 + 0.5) / cells as f32,
                    (y as f32 + 0.5) / cells as f32,
                ];
                anchors.extend(std::iter::repeat_n(centre, per_cell));
            }
        }
    }
    anchors
}

/// Where the photo lands on the 224 square: its scale and the left and top padding, in input pixels.
fn letterbox(image: &RgbImage) -> (f32, u32, u32, u32, u32) {
    let scale = (SIDE as f32 / image.width() as f32).min(SIDE as f32 / image.height() as f32);
    let w = ((image.width() as f32 * scale).round() as u32).clamp(1, SIDE);
    let h = ((image.height() as f32 * scale).round() as u32).clamp(1, SIDE);
    (scale, w, h, (SIDE - w) / 2, (SIDE - h) / 2)
}

fn prepare(image: &RgbImage, out: &mut [f32]) {
    let (_, w, h, left, top) = letterbox(image);
    let mut canvas = RgbImage::from_pixel(SIDE, SIDE, Rgb([0; 3]));
    image::imageops::replace(
        &mut canvas,
        &resize_bilinear(image, w, h),
        left as i64,
        top as i64,
    );
    fill_hwc(&canvas, &MINUS_ONE_TO_ONE, out);
}

fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit.clamp(-SCORE_CLIP, SCORE_CLIP)).exp())
}

/// The anchors scoring at least `threshold`, decoded, best first.
fn decode(anchors: &[[f32; 2]], raw: &[f32], logits: &[f32], threshold: f32) -> Vec<PoseDetection> {
    let side = SIDE as f32;
    let mut found: Vec<PoseDetection> = anchors
        .iter()
        .zip(raw.chunks_exact(VALUES_PER_ANCHOR))
        .zip(logits)
        .filter_map(|((a, v), &logit)| {
            let score = sigmoid(logit);
            if score < threshold {
                return None;
            }
            let (cx, cy) = (a[0] + v[0] / side, a[1] + v[1] / side);
            let (w, h) = (v[2] / side, v[3] / side);
            let keypoints =
                std::array::from_fn(|k| [a[0] + v[4 + 2 * k] / side, a[1] + v[5 + 2 * k] / side]);
            Some(PoseDetection {
                face: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                keypoints,
                score,
            })
        })
        .collect();
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found
}

/// MediaPipe's weighted NMS over detections sorted best first: each cluster (IoU over `threshold` with its best)
/// becomes one detection with the best score and the score-weighted mean of the cluster's boxes and keypoints.
fn weighted_nms(mut remaining: Vec<PoseDetection>, threshold: f32) -> Vec<PoseDetection> {
    let mut kept = Vec::new();
    while let Some(best) = remaining.first().copied() {
        let (cluster, rest): (Vec<_>, Vec<_>) = remaining
            .into_iter()
            .partition(|d| iou(&d.face, &best.face) > threshold);
        remaining = rest;
        let total: f32 = cluster.iter().map(|d| d.score).sum();
        let mean = |value: &dyn Fn(&PoseDetection) -> f32| {
            cluster.iter().map(|d| value(d) * d.score).sum::<f32>() / total
        };
        kept.push(PoseDetection {
            face: std::array::from_fn(|i| mean(&|d| d.face[i])),
            keypoints: std::array::from_fn(|k| {
                std::array::from_fn(|i| mean(&|d| d.keypoints[k][i]))
            }),
            score: best.score,
        });
    }
    kept
}

/// The person box in photo pixels: the rectangle about the hip along the body's axis, axis-aligned and clipped.
fn person_box(d: &PoseDetection, image: &RgbImage) -> [f32; 4] {
    let (scale, _, _, left, top) = letterbox(image);
    let to_photo = |p: [f32; 2]| {
        [
            (p[0] * SIDE as f32 - left as f32) / scale,
            (p[1] * SIDE as f32 - top as f32) / scale,
        ]
    };
    let (hip, far) = (to_photo(d.keypoints[0]), to_photo(d.keypoints[1]));
    let axis = [far[0] - hip[0], far[1] - hip[1]];
    let r = axis[0].hypot(axis[1]).max(1e-3);
    let (ux, uy) = ((axis[0] / r).abs(), (axis[1] / r).abs());
    let half_x = r * (HALF_HEIGHT * ux + HALF_WIDTH * uy);
    let half_y = r * (HALF_HEIGHT * uy + HALF_WIDTH * ux);
    let (w, h) = (image.width() as f32, image.height() as f32);
    [
        (hip[0] - half_x).clamp(0.0, w),
        (hip[1] - half_y).clamp(0.0, h),
        (hip[0] + half_x).clamp(0.0, w),
        (hip[1] + half_y).clamp(0.0, h),
    ]
}

pub struct BlazePoseEstimator {
    anchors: Vec<[f32; 2]>,
    boxes: usize,
    logits: usize,
    /// Smallest score of a reported person (MediaPipe's own default is 0.5).
    min_confidence: f32,
}

impl Estimator for BlazePoseEstimator {
    type Input = Arc<RgbImage>;
    type Output = Vec<Person>;

    fn for_graph(session: &EstimatorSession, spec: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [SIDE as usize, SIDE as usize, 3] {
            return Err(unexpected_input(session, "224x224x3"));
        }
        Ok(Self {
            anchors: anchors(),
            boxes: session.output_index("Identity")?,
            logits: session.output_index("Identity_1")?,
            min_confidence: spec.min_confidence,
        })
    }

    fn prepare(&self, image: &Arc<RgbImage>, tensor: &mut [f32]) {
        prepare(image, tensor)
    }

    fn decode(&self, image: &Arc<RgbImage>, outputs: &[Vec<f32>]) -> Result<Vec<Person>, String> {
        let (raw, logits) = (&outputs[self.boxes], &outputs[self.logits]);
        if raw.len() != ANCHORS * VALUES_PER_ANCHOR || logits.len() != ANCHORS {
            return Err(wrong_output_len(
                "Identity, Identity_1",
                raw.len() + logits.len(),
                ANCHORS * (VALUES_PER_ANCHOR + 1),
            ));
        }
        let found = decode(&self.anchors, raw, logits, self.min_confidence);
        Ok(weighted_nms(found, NMS_IOU)
            .iter()
            .map(|d| Person {
                bbox: person_box(d, image),
                confidence: d.score,
            })
            .collect())
    }

    fn warm_up_input() -> Arc<RgbImage> {
        Arc::new(RgbImage::new(64, 48))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_mediapipes_layout() {
        let a = anchors();
        assert_eq!(a.len(), ANCHORS);
        assert_eq!(a[0], [0.5 / 28.0, 0.5 / 28.0]);
        assert_eq!(a[1], a[0]);
        // The first stride-16 anchor follows the 28 x 28 x 2 of stride 8; the last is the bottom-right stride-32 cell.
        assert_eq!(a[28 * 28 * 2], [0.5 / 14.0, 0.5 / 14.0]);
        assert_eq!(a[ANCHORS - 1], [6.5 / 7.0, 6.5 / 7.0]);
    }

    #[test]
    fn an_anchor_decodes_relative_to_its_centre_and_clusters_average_by_score() {
        let anchors = vec![[0.5, 0.5], [0.5, 0.5], [0.1, 0.1]];
        let mut raw = vec![0.0f32; 3 * VALUES_PER_ANCHOR];
        // Anchor 0: box 22.4 px wide, 11.2 px right of the centre; hip 44.8 px below, scale point 44.8 px above it.
        raw[..VALUES_PER_ANCHOR].copy_from_slice(&[
            11.2, 0.0, 22.4, 22.4, 0.0, 44.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ]);
        raw[VALUES_PER_ANCHOR..2 * VALUES_PER_ANCHOR].copy_from_slice(&[
            11.2, 0.0, 22.4, 22.4, 0.0, 22.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ]);
        // Logits: sigmoid 0.75, 0.25 (overlapping anchor 0 exactly), and one under the threshold.
        let logits = [3f32.ln(), -(3f32.ln()), -5.0];
        let found = decode(&anchors, &raw, &logits, 0.2);
        assert_eq!(found.len(), 2);
        let first = found[0];
        assert!((first.score - 0.75).abs() < 1e-6);
        for (got, want) in first.face.iter().zip([0.5, 0.45, 0.6, 0.55]) {
            assert!((got - want).abs() < 1e-6, "{:?}", first.face);
        }
        let merged = weighted_nms(found, NMS_IOU);
        assert_eq!(merged.len(), 1);
        // The hip is 0.75 x 0.2 + 0.25 x 0.1 below the centre: 0.675.
        assert!(
            (merged[0].keypoints[0][1] - 0.675).abs() < 1e-6,
            "{merged:?}"
        );
        assert!((merged[0].score - 0.75).abs() < 1e-6);
    }

    #[test]
    fn the_person_box_spans_the_body_axis_and_is_clipped_to_the_photo() {
        // A 448 x 224 photo: scale 0.5, 56 px of padding above and below on the 224 square.
        let image = RgbImage::new(448, 224);
        assert_eq!(letterbox(&image), (0.5, 224, 112, 0, 56));
        let upright = PoseDetection {
            face: [0.0; 4],
            // Hip at photo (224, 112), scale point 100 photo px above it.
            keypoints: [[0.5, 0.5], [0.5, 0.5 - 50.0 / 224.0], [0.0; 2], [0.0; 2]],
            score: 0.9,
        };
        let b = person_box(&upright, &image);
        assert!(
            (b[0] - 187.0).abs() < 1e-3 && (b[2] - 261.0).abs() < 1e-3,
            "{b:?}"
        );
        // 113 px up and down from y 112 leaves the photo on both sides.
        assert_eq!((b[1], b[3]), (0.0, 224.0));
        // Lying along x: the long side becomes horizontal.
        let lying = PoseDetection {
            keypoints: [[0.5, 0.5], [0.5 + 50.0 / 224.0, 0.5], [0.0; 2], [0.0; 2]],
            ..upright
        };
        let b = person_box(&lying, &image);
        assert!(
            (b[0] - 111.0).abs() < 1e-3 && (b[2] - 337.0).abs() < 1e-3,
            "{b:?}"
        );
        assert!(
            (b[1] - 75.0).abs() < 1e-3 && (b[3] - 149.0).abs() < 1e-3,
            "{b:?}"
        );
    }
}
