//! 106 face landmarks (InsightFace `2d106det`), the points the face fitter's named keypoints come from.
//!
//! Reference preprocessing (InsightFace `Landmark.get`): a square of 1.5 x the longer box side around the box
//! centre, warped to 192x192 (bilinear, black outside), raw RGB 0..255 planar (the graph normalises). The output is
//! 106 (x, y) pairs in -1..1; pixel = (p + 1) * 96 in the crop, mapped back through the inverse warp.

use super::model::{Estimator, LoadSpec, unexpected_input, wrong_output_len};
use super::session::EstimatorSession;
use super::{FaceJob, centred_crop_transform, warped_crop};
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw};

pub const POINTS: usize = 106;
const SIDE: u32 = 192;
const CROP_SCALE: f32 = 1.5;
const RAW_RGB: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 0.0, 1.0);

/// 106 points in image pixels; see [`super::keypoints`] for what they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Landmarks106(pub Vec<[f32; 2]>);

pub struct LandmarkEstimator;

fn crop_transform(job: &FaceJob) -> crate::align::Affine {
    let side = job.face.width().max(job.face.height()) * CROP_SCALE;
    centred_crop_transform(job.face.center(), side, 0.0, SIDE)
}

fn prepare(job: &FaceJob, out: &mut [f32]) {
    let crop = warped_crop(&job.image, &crop_transform(job), SIDE);
    fill_chw(&crop, &RAW_RGB, SIDE as usize, SIDE as usize, out);
}

fn decode(job: &FaceJob, output: &[f32]) -> Landmarks106 {
    let back = crop_transform(job)
        .inverse()
        .expect("a crop transform with a positive scale is invertible");
    let half = SIDE as f64 / 2.0;
    Landmarks106(
        output
            .chunks_exact(2)
            .map(|p| {
                let q = back.apply([(p[0] as f64 + 1.0) * half, (p[1] as f64 + 1.0) * half]);
                [q[0] as f32, q[1] as f32]
            })
            .collect(),
    )
}

impl Estimator for LandmarkEstimator {
    type Input = FaceJob;
    type Output = Landmarks106;

    fn for_graph(session: &EstimatorSession, _: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [3, SIDE as usize, SIDE as usize] {
            return Err(unexpected_input(session, "3x192x192"));
        }
        Ok(Self)
    }

    fn prepare(&self, job: &FaceJob, tensor: &mut [f32]) {
        prepare(job, tensor)
    }

    fn decode(&self, job: &FaceJob, outputs: &[Vec<f32>]) -> Result<Landmarks106, String> {
        let values = &outputs[0];
        if values.len() != 2 * POINTS {
            return Err(wrong_output_len("2d106det", values.len(), 2 * POINTS));
        }
        Ok(decode(job, values))
    }

    fn warm_up_input() -> FaceJob {
        FaceJob::blank()
    }
}
