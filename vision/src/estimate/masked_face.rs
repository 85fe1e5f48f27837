//! Medical masks with the Ultra-Light RFB-640 masked-face detector (Linzaer/Ultra-Light-Fast-Generic-Face-Detector,
//! MIT): it finds faces in the whole photo and classes each as face or masked face; a requested face gets the class
//! of the detection that overlaps it best.
//!
//! Reference preprocessing (the repository's `detect_imgs_onnx.py`): the photo stretched to 640x480, RGB,
//! `(x - 127) / 128`, planar. The outputs are softmaxed scores (background, face, masked face) and boxes as corners in
//! 0..1 of the photo. Measured against the MobileNetV2 classifier in docs/ACCURACY.md (10 of 10 masked faces against
//! 7 of 10 on `masked_face/img2.jpeg`, no false alarm on 24 unmasked faces for either).

use std::sync::Arc;

use image::RgbImage;

use super::FaceRegion;
use super::boxes::iou;
use super::model::{Estimator, LoadSpec, unexpected_input};
use super::session::EstimatorSession;
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw, resize_bilinear};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const NORM: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 127.0, 128.0);
/// Detections whose face + masked-face score is below this are not faces.
const MIN_FACE_SCORE: f32 = 0.5;
/// A detection describes a requested face when their boxes overlap at least this much.
const MIN_IOU: f32 = 0.3;

/// One face the masked-face detector saw, in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskedFaceBox {
    pub bbox: [f32; 4],
    /// Probability that this is a face (masked or not).
    pub face: f32,
    /// Probability of a mask given a face.
    pub masked: f32,
}

pub struct MaskedFaceEstimator {
    scores: usize,
    boxes: usize,
}

fn decode(scores: &[f32], boxes: &[f32], width: u32, height: u32) -> Vec<MaskedFaceBox> {
    let (w, h) = (width as f32, height as f32);
    scores
        .chunks_exact(3)
        .zip(boxes.chunks_exact(4))
        .filter(|(s, _)| s[1] + s[2] >= MIN_FACE_SCORE)
        .map(|(s, b)| MaskedFaceBox {
            bbox: [b[0] * w, b[1] * h, b[2] * w, b[3] * h],
            face: s[1] + s[2],
            masked: s[2] / (s[1] + s[2]),
        })
        .collect()
}

/// The mask probability of `face`: from the most confident detection overlapping it, or `None` when the
/// masked-face detector saw no face there.
pub fn mask_of(detections: &[MaskedFaceBox], face: &FaceRegion) -> Option<f32> {
    detections
        .iter()
        .filter(|d| iou(&d.bbox, &face.bbox) >= MIN_IOU)
        .max_by(|a, b| a.face.total_cmp(&b.face))
        .map(|d| d.masked)
}

impl Estimator for MaskedFaceEstimator {
    type Input = Arc<RgbImage>;
    type Output = Vec<MaskedFaceBox>;

    fn for_graph(session: &EstimatorSession, _: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [3, HEIGHT as usize, WIDTH as usize] {
            return Err(unexpected_input(session, "3x480x640"));
        }
        Ok(Self {
            scores: session.output_index("scores")?,
            boxes: session.output_index("boxes")?,
        })
    }

    fn prepare(&self, image: &Arc<RgbImage>, tensor: &mut [f32]) {
        let stretched = resize_bilinear(image, WIDTH, HEIGHT);
        fill_chw(&stretched, &NORM, WIDTH as usize, HEIGHT as usize, tensor);
    }

    fn decode(
        &self,
        image: &Arc<RgbImage>,
        outputs: &[Vec<f32>],
    ) -> Result<Vec<MaskedFaceBox>, String> {
        Ok(decode(
            &outputs[self.scores],
            &outputs[self.boxes],
            image.width(),
            image.height(),
        ))
    }

    fn warm_up_input() -> Arc<RgbImage> {
        Arc::new(RgbImage::new(64, 48))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_face_takes_the_class_of_the_detection_over_it() {
        let dets = decode(
            &[0.9, 0.05, 0.05, 0.1, 0.1, 0.8, 0.2, 0.7, 0.1],
            &[0.0, 0.0, 0.1, 0.1, 0.5, 0.5, 0.7, 0.7, 0.0, 0.0, 0.2, 0.2],
            100,
            100,
        );
        assert_eq!(dets.len(), 2, "the background box is dropped");
        let face = |bbox| FaceRegion {
            bbox,
            landmarks: None,
        };
        let masked = mask_of(&dets, &face([50.0, 50.0, 70.0, 72.0])).unwrap();
        assert!((masked - 0.8 / 0.9).abs() < 1e-6);
        assert!(mask_of(&dets, &face([90.0, 90.0, 99.0, 99.0])).is_none());
    }
}
