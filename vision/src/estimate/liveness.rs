//! Liveness / presentation-attack scores. Experimental: none of these models has been measured on real attacks here.
//!
//! - MiniFASNet (`AntiSpoofing_bin_1.5_128`, `AntiSpoofing_print-replay_1.5_128`, hairymax/Face-AntiSpoofing): the
//!   reference `increased_crop` takes a square of 1.5 x the longer box side around the box centre (black outside
//!   the photo), RGB, resized to 128x128, `/ 255`, planar. The logits are softmaxed; class 0 is live. Trained on
//!   CelebA-Spoof: evaluation use only.
//! - `human_antispoof` and `human_liveness` (vladmandic/human): the face crop resized to the input (128 and 32), RGB
//!   0..1, interleaved; the first output value is the "real" score (human's `antispoof.ts`, `liveness.ts`).

use super::family::EstimatorFamily;
use super::model::{Estimator, LoadSpec, unexpected_input};
use super::session::EstimatorSession;
use super::{FaceJob, square_crop};
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw, fill_hwc};

const UNIT: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 0.0, 255.0);

pub struct LivenessEstimator {
    family: EstimatorFamily,
    side: u32,
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

impl Estimator for LivenessEstimator {
    type Input = FaceJob;
    /// Probability (0..1) that the face is a live person rather than a photo or screen.
    type Output = f32;

    fn for_graph(session: &EstimatorSession, spec: &LoadSpec) -> Result<Self, String> {
        let side = match (spec.family, session.item_dims()) {
            (EstimatorFamily::MiniFasNet { .. }, &[3, h, w]) if h == w => h,
            (EstimatorFamily::HumanAntispoof | EstimatorFamily::HumanLiveness, &[h, w, 3])
                if h == w =>
            {
                h
            }
            (family, _) => {
                return Err(unexpected_input(
                    session,
                    &format!("square input of liveness family {family:?}"),
                ));
            }
        };
        Ok(Self {
            family: spec.family,
            side: side as u32,
        })
    }

    fn prepare(&self, job: &FaceJob, tensor: &mut [f32]) {
        prepare(self.family, self.side, job, tensor)
    }

    fn decode(&self, _: &FaceJob, outputs: &[Vec<f32>]) -> Result<f32, String> {
        Ok(decode(self.family, &outputs[0]))
    }

    fn warm_up_input() -> FaceJob {
        FaceJob::blank()
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
