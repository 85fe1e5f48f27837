//! 106 face landmarks (InsightFace `2d106det`), the points the face fitter's named keypoints come from.
//!
//! Reference preprocessing (InsightFace `Landmark.get`): a square of 1.5 x the longer box side around the box
//! centre, warped to 192x192 (bilinear, black outside), raw RGB 0..255 planar (the graph normalises). The output is
//! 106 (x, y) pairs in -1..1; pixel = (p + 1) * 96 in the crop, mapped back through the inverse warp.

use std::path::Path;

use faceserve_batcher::{Model, ModelError};

use super::session::EstimatorSession;
use super::{FaceJob, centred_crop_transform, warped_crop};
use crate::runtime::{Runtime, RuntimeError};
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw};

pub const POINTS: usize = 106;
const SIDE: u32 = 192;
const CROP_SCALE: f32 = 1.5;
const RAW_RGB: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 0.0, 1.0);

/// 106 points in image pixels; see [`super::keypoints`] for what they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Landmarks106(pub Vec<[f32; 2]>);

pub struct LandmarkModel {
    session: EstimatorSession,
}

impl LandmarkModel {
    pub fn load(
        runtime: &Runtime,
        path: &Path,
        name: &str,
        max_batch: usize,
    ) -> Result<Self, RuntimeError> {
        let session = EstimatorSession::open(runtime, path, name, max_batch)?;
        if session.item_dims() != [3, SIDE as usize, SIDE as usize] {
            return Err(RuntimeError::Ort(format!(
                "{name}: input {:?} is not the expected 3x192x192",
                session.item_dims()
            )));
        }
        Ok(Self { session })
    }
}

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

impl Model for LandmarkModel {
    type Input = FaceJob;
    type Output = Landmarks106;

    fn max_batch_size(&self) -> usize {
        self.session.max_batch()
    }

    fn run(&mut self, jobs: Vec<FaceJob>) -> Result<Vec<Landmarks106>, ModelError> {
        let raw = self
            .session
            .run_faces(&jobs, prepare, |outputs| outputs[0].clone())?;
        raw.iter()
            .zip(&jobs)
            .map(|(values, job)| {
                if values.len() != 2 * POINTS {
                    return Err(ModelError(format!(
                        "2d106det gave {} values, expected {}",
                        values.len(),
                        2 * POINTS
                    )));
                }
                Ok(decode(job, values))
            })
            .collect()
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        for &size in batch_sizes {
            self.run(vec![FaceJob::blank(); size])?;
        }
        Ok(())
    }
}
