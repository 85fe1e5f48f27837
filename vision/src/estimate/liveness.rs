//! Liveness / presentation-attack scores. Experimental: none of these models has been measured on real attacks here.
//!
//! - MiniFASNet (`AntiSpoofing_bin_1.5_128`, `AntiSpoofing_print-replay_1.5_128`, hairymax/Face-AntiSpoofing): the
//!   reference `increased_crop` takes a square of 1.5 x the longer box side around the box centre (black outside
//!   the photo), RGB, resized to 128x128, `/ 255`, planar. The logits are softmaxed; class 0 is live. Trained on
//!   CelebA-Spoof: evaluation use only.
//! - `human_antispoof` and `human_liveness` (vladmandic/human): the face crop resized to the input (128 and 32), RGB
//!   0..1, interleaved; the first output value is the "real" score (human's `antispoof.ts`, `liveness.ts`).

use std::path::Path;

use faceserve_batcher::{Model, ModelError};

use super::session::EstimatorSession;
use super::{EstimatorFamily, FaceJob, square_crop};
use crate::runtime::{Runtime, RuntimeError};
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw, fill_hwc};

const UNIT: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 0.0, 255.0);

pub struct LivenessModel {
    session: EstimatorSession,
    family: EstimatorFamily,
    side: u32,
}

impl LivenessModel {
    pub fn load(
        runtime: &Runtime,
        path: &Path,
        name: &str,
        family: EstimatorFamily,
        max_batch: usize,
    ) -> Result<Self, RuntimeError> {
        let session = EstimatorSession::open(runtime, path, name, max_batch)?;
        let dims = session.item_dims().to_vec();
        let side = match (family, dims.as_slice()) {
            (EstimatorFamily::MiniFasNet { .. }, &[3, h, w]) if h == w => h,
            (EstimatorFamily::HumanAntispoof | EstimatorFamily::HumanLiveness, &[h, w, 3])
                if h == w =>
            {
                h
            }
            _ => {
                return Err(RuntimeError::Ort(format!(
                    "{name}: input {dims:?} does not fit liveness family {family:?}"
                )));
            }
        };
        Ok(Self {
            session,
            family,
            side: side as u32,
        })
    }
}

/// The model input for one face.
fn prepare(family: EstimatorFamily, side: u32, job: &FaceJob, out: &mut [f32]) {
    match family {
        EstimatorFamily::MiniFasNet { .. } => {
            let crop = square_crop(&job.image, &job.face, 1.5, side);
            fill_chw(&crop, &UNIT, side as usize, side as usize, out);
        }
        _ => fill_hwc(&square_crop(&job.image, &job.face, 1.0, side), &UNIT, out),
    }
}

/// The probability that the face is live, from the model's outputs.
fn decode(family: EstimatorFamily, outputs: &[f32]) -> f32 {
    match family {
        EstimatorFamily::MiniFasNet { .. } => softmax(outputs)[0],
        _ => outputs[0],
    }
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

impl Model for LivenessModel {
    type Input = FaceJob;
    /// Probability (0..1) that the face is a live person rather than a photo or screen.
    type Output = f32;

    fn max_batch_size(&self) -> usize {
        self.session.max_batch()
    }

    fn run(&mut self, jobs: Vec<FaceJob>) -> Result<Vec<f32>, ModelError> {
        let (family, side) = (self.family, self.side);
        self.session.run_faces(
            &jobs,
            |job, out| prepare(family, side, job, out),
            |outputs| decode(family, &outputs[0]),
        )
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        for &size in batch_sizes {
            self.run(vec![FaceJob::blank(); size])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minifasnet_logits_become_a_live_probability() {
        let p = decode(EstimatorFamily::MiniFasNet { classes: 3 }, &[2.0, 0.0, 0.0]);
        assert!((p - 0.7870).abs() < 1e-3, "{p}");
        assert_eq!(decode(EstimatorFamily::HumanAntispoof, &[0.25]), 0.25);
    }
}
