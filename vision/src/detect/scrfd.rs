//! SCRFD output decoding: for each stride, a score, four distances (left, top, right, bottom) and five landmark
//! offsets per anchor, all in units of the stride, with two anchors centred on every cell of the feature map.

use faceserve_batcher::ModelError;
use ort::session::SessionOutputs;

use super::Detection;
use crate::session_io::output_f32;

const STRIDES: [usize; 3] = [8, 16, 32];
const ANCHORS_PER_CELL: usize = 2;

/// Decodes the raw outputs of a batch of `batch` images of `width` x `height` into candidate detections (before
/// NMS) in letterboxed-input pixels.
pub(super) fn decode(
    outputs: &SessionOutputs<'_>,
    batch: usize,
    width: usize,
    height: usize,
    threshold: f32,
) -> Result<Vec<Vec<Detection>>, ModelError> {
    let mut per_image = vec![Vec::new(); batch];
    for stride in STRIDES {
        let (fw, fh) = (width.div_ceil(stride), height.div_ceil(stride));
        let anchors = fw * fh * ANCHORS_PER_CELL;
        let scores = output_f32(
            outputs,
            "SCRFD",
            &format!("score_{stride}"),
            batch * anchors,
        )?;
        let boxes = output_f32(
            outputs,
            "SCRFD",
            &format!("bbox_{stride}"),
            batch * anchors * 4,
        )?;
        let points = output_f32(
            outputs,
            "SCRFD",
            &format!("kps_{stride}"),
            batch * anchors * 10,
        )?;
        let s = stride as f32;
        for (b, dets) in per_image.iter_mut().enumerate() {
            for a in 0..anchors {
                let i = b * anchors + a;
                let score = scores[i];
                if score < threshold {
                    continue;
                }
                let cell = a / ANCHORS_PER_CELL;
                let (cx, cy) = ((cell % fw) as f32 * s, (cell / fw) as f32 * s);
                let d = &boxes[i * 4..i * 4 + 4];
                let k = &points[i * 10..i * 10 + 10];
                let mut landmarks = [[0.0f32; 2]; 5];
                for (p, point) in landmarks.iter_mut().enumerate() {
                    *point = [cx + k[2 * p] * s, cy + k[2 * p + 1] * s];
                }
                dets.push(Detection {
                    bbox: [cx - d[0] * s, cy - d[1] * s, cx + d[2] * s, cy + d[3] * s],
                    landmarks,
                    score,
                });
            }
        }
    }
    Ok(per_image)
}
