//! Head pose from 3DDFA_V2 (MobileNet, 120x120): the 3DMM parameters' camera matrix gives yaw, pitch and roll.
//!
//! Reference preprocessing (3DDFA_V2 `parse_roi_box_from_bbox`, `crop_img`): a square ROI of side
//! `int(1.58 * (w + h) / 2)` centred on the box, moved down by 0.14 of that mean side, cut at whole pixels (black
//! outside), resized bilinearly to 120x120, BGR `(x - 127.5) / 128` planar. Parameters are `out * std + mean` (the
//! bundled `3ddfa_v2_param_mean_std_62d.json`); the first 12 form a 3x4 camera matrix whose normalised rows give the
//! rotation, read as Euler angles the way 3DDFA_V2's `matrix2angle` does. Angles are in degrees; mirroring a face
//! flips the sign of yaw and roll.

use super::FaceJob;
use super::model::{Estimator, LoadSpec, unexpected_input, wrong_output_len};
use super::session::EstimatorSession;
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw, resize_region};

const SIDE: u32 = 120;
const PARAMS: usize = 62;
const NORM: PixelNorm = PixelNorm::new(ChannelOrder::Bgr, 127.5, 128.0);

/// Degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeadPose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

impl HeadPose {
    /// The angle farthest from zero, with its sign (the spec's `max_rotation_deviation`).
    pub fn max_deviation(&self) -> f32 {
        [self.yaw, self.pitch, self.roll]
            .into_iter()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .expect("three angles")
    }
}

/// 3DDFA_V2 with its bundled parameter normalisation.
pub struct PoseEstimator {
    mean: Vec<f32>,
    std: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct MeanStd {
    mean: Vec<f32>,
    std: Vec<f32>,
}

/// 3DDFA_V2's ROI for a face box: `(left, top, side)` in whole pixels.
fn roi(job: &FaceJob) -> (f64, f64, f64) {
    let [l, t, r, b] = job.face.bbox.map(f64::from);
    let old = (r - l + b - t) / 2.0;
    let (cx, cy) = (r - (r - l) / 2.0, b - (b - t) / 2.0 + old * 0.14);
    let size = (old * 1.58).trunc();
    let (left, top) = ((cx - size / 2.0).round(), (cy - size / 2.0).round());
    (left, top, size.max(1.0))
}

fn prepare(job: &FaceJob, out: &mut [f32]) {
    let (left, top, side) = roi(job);
    let crop = resize_region(&job.image, (left, top, side, side), SIDE, SIDE);
    fill_chw(&crop, &NORM, SIDE as usize, SIDE as usize, out);
}

/// Yaw, pitch and roll (degrees) of the camera matrix in 3DMM parameters `p` (already de-normalised).
pub fn pose_of_params(p: &[f32]) -> HeadPose {
    let row = |i: usize| [p[4 * i] as f64, p[4 * i + 1] as f64, p[4 * i + 2] as f64];
    let unit = |v: [f64; 3]| {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
        v.map(|x| x / n)
    };
    let (r1, r2) = (unit(row(0)), unit(row(1)));
    let r3 = [
        r1[1] * r2[2] - r1[2] * r2[1],
        r1[2] * r2[0] - r1[0] * r2[2],
        r1[0] * r2[1] - r1[1] * r2[0],
    ];
    // Rows r1, r2, r3 form R; R[2][0] = r3[0] and so on.
    let (yaw, pitch, roll) = if r3[0] > 0.998 {
        (std::f64::consts::FRAC_PI_2, (-r1[1]).atan2(-r1[2]), 0.0)
    } else if r3[0] < -0.998 {
        (-std::f64::consts::FRAC_PI_2, r1[1].atan2(r1[2]), 0.0)
    } else {
        let x = r3[0].asin();
        let c = x.cos();
        (
            x,
            (r3[1] / c).atan2(r3[2] / c),
            (r2[0] / c).atan2(r1[0] / c),
        )
    };
    HeadPose {
        yaw: yaw.to_degrees() as f32,
        pitch: pitch.to_degrees() as f32,
        roll: roll.to_degrees() as f32,
    }
}

impl Estimator for PoseEstimator {
    type Input = FaceJob;
    type Output = HeadPose;

    fn for_graph(session: &EstimatorSession, _: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [3, SIDE as usize, SIDE as usize] {
            return Err(unexpected_input(session, "3x120x120"));
        }
        let bytes = faceserve_models::bundled_bytes("3ddfa_v2_param_mean_std_62d")
            .expect("the 3DDFA normalisation is bundled");
        let MeanStd { mean, std } =
            serde_json::from_slice(bytes).map_err(|e| format!("3DDFA mean/std: {e}"))?;
        if mean.len() != PARAMS || std.len() != PARAMS {
            return Err("3DDFA mean/std must hold 62 values each".into());
        }
        Ok(Self { mean, std })
    }

    fn prepare(&self, job: &FaceJob, tensor: &mut [f32]) {
        prepare(job, tensor)
    }

    fn decode(&self, _: &FaceJob, outputs: &[Vec<f32>]) -> Result<HeadPose, String> {
        let out = &outputs[0];
        if out.len() != PARAMS {
            return Err(wrong_output_len("3DDFA", out.len(), PARAMS));
        }
        let p: Vec<f32> = (0..PARAMS)
            .map(|i| out[i] * self.std[i] + self.mean[i])
            .collect();
        Ok(pose_of_params(&p))
    }

    fn warm_up_input() -> FaceJob {
        FaceJob::blank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera matrix (scale 2) of a head turned by `yaw` about the vertical axis.
    fn turned(yaw: f64) -> Vec<f32> {
        let (s, c) = yaw.sin_cos();
        // R = Ry(yaw): rows (c, 0, s), (0, 1, 0), (-s, 0, c); 3DDFA reads yaw as asin(R[2][0]).
        let rows = [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]];
        let mut p = vec![0.0f32; 62];
        for (i, r) in rows.iter().enumerate() {
            for j in 0..3 {
                p[4 * i + j] = (2.0 * r[j]) as f32;
            }
        }
        p
    }

    #[test]
    fn camera_matrix_gives_the_yaw_and_no_pitch_or_roll() {
        let pose = pose_of_params(&turned(0.3));
        assert!((pose.yaw - 0.3f32.to_degrees()).abs() < 1e-3, "{pose:?}");
        assert!(
            pose.pitch.abs() < 1e-3 && pose.roll.abs() < 1e-3,
            "{pose:?}"
        );
        assert_eq!(
            HeadPose {
                yaw: 3.0,
                pitch: -8.0,
                roll: 1.0
            }
            .max_deviation(),
            -8.0
        );
    }
}
