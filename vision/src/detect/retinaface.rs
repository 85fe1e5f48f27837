//! RetinaFace output decoding: offsets from SSD-style prior boxes (two sizes per cell at strides 8/16/32), encoded
//! with variances 0.1 (centres, landmarks) and 0.2 (log sizes); class 1 of the softmax is "face".

use faceserve_batcher::ModelError;
use ort::session::SessionOutputs;

use super::Detection;
use crate::session_io::output_f32;

const LEVELS: [(usize, [f32; 2]); 3] =
    [(8, [16.0, 32.0]), (16, [64.0, 128.0]), (32, [256.0, 512.0])];
const CENTRE_VARIANCE: f32 = 0.1;
const SIZE_VARIANCE: f32 = 0.2;

/// Prior boxes `(cx, cy, w, h)` in input pixels, in the network's output order.
fn priors(width: usize, height: usize) -> Vec<[f32; 4]> {
    let mut out = Vec::new();
    for (step, sizes) in LEVELS {
        let (fw, fh) = (width.div_ceil(step), height.div_ceil(step));
        for y in 0..fh {
            for x in 0..fw {
                for size in sizes {
                    let (cx, cy) = (
                        (x as f32 + 0.5) * step as f32,
                        (y as f32 + 0.5) * step as f32,
                    );
                    out.push([cx, cy, size, size]);
                }
            }
        }
    }
    out
}

pub(super) fn decode(
    outputs: &SessionOutputs<'_>,
    batch: usize,
    width: usize,
    height: usize,
    threshold: f32,
) -> Result<Vec<Vec<Detection>>, ModelError> {
    let priors = priors(width, height);
    let n = priors.len();
    let loc = output_f32(outputs, "RetinaFace", "loc", batch * n * 4)?;
    let conf = output_f32(outputs, "RetinaFace", "conf", batch * n * 2)?;
    let marks = output_f32(outputs, "RetinaFace", "landmarks", batch * n * 10)?;
    let mut per_image = vec![Vec::new(); batch];
    for (b, dets) in per_image.iter_mut().enumerate() {
        for (p, prior) in priors.iter().enumerate() {
            let i = b * n + p;
            let score = conf[i * 2 + 1];
            if score < threshold {
                continue;
            }
            let l = &loc[i * 4..i * 4 + 4];
            let cx = prior[0] + l[0] * CENTRE_VARIANCE * prior[2];
            let cy = prior[1] + l[1] * CENTRE_VARIANCE * prior[3];
            let w = prior[2] * (l[2] * SIZE_VARIANCE).exp();
            let h = prior[3] * (l[3] * SIZE_VARIANCE).exp();
            let m = &marks[i * 10..i * 10 + 10];
            let mut landmarks = [[0.0f32; 2]; 5];
            for (k, point) in landmarks.iter_mut().enumerate() {
                *point = [
                    prior[0] + m[2 * k] * CENTRE_VARIANCE * prior[2],
                    prior[1] + m[2 * k + 1] * CENTRE_VARIANCE * prior[3],
                ];
            }
            dets.push(Detection {
                bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                landmarks,
                score,
            });
        }
    }
    Ok(per_image)
}
