//! Person detection with YOLOX-Nano (COCO, class 0 = person).
//!
//! Reference preprocessing (YOLOX `preproc`): the photo scaled to fit 416x416 keeping its aspect (bilinear), placed
//! top-left on a canvas of grey 114, BGR 0..255 planar without normalisation. The export leaves the boxes raw: for
//! each cell of the stride 8/16/32 grids, centre = (out + cell) * stride and size = exp(out) * stride; objectness and
//! class scores already went through a sigmoid. A person's confidence is objectness x person score; NMS follows.

use std::sync::Arc;

use image::{Rgb, RgbImage};

use super::model::{Estimator, LoadSpec, unexpected_input};
use super::session::EstimatorSession;
use crate::detect::{Detection, non_max_suppression};
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw, resize_bilinear};

const SIDE: u32 = 416;
const STRIDES: [usize; 3] = [8, 16, 32];
const PAD: u8 = 114;
const VALUES_PER_CELL: usize = 85;
const RAW_BGR: PixelNorm = PixelNorm::new(ChannelOrder::Bgr, 0.0, 1.0);

/// A person in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Person {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    pub confidence: f32,
}

/// Boxes overlapping a kept one by more than this are dropped.
const NMS_IOU: f32 = 0.45;

pub struct BodyEstimator {
    /// Smallest confidence of a reported person.
    min_confidence: f32,
}

/// The letterbox scale from photo to model input.
fn letterbox_scale(image: &RgbImage) -> f32 {
    (SIDE as f32 / image.width() as f32).min(SIDE as f32 / image.height() as f32)
}

fn prepare(image: &RgbImage, out: &mut [f32]) {
    let scale = letterbox_scale(image);
    let (w, h) = (
        ((image.width() as f32 * scale) as u32).clamp(1, SIDE),
        ((image.height() as f32 * scale) as u32).clamp(1, SIDE),
    );
    let resized = resize_bilinear(image, w, h);
    let mut canvas = RgbImage::from_pixel(SIDE, SIDE, Rgb([PAD; 3]));
    image::imageops::replace(&mut canvas, &resized, 0, 0);
    fill_chw(&canvas, &RAW_BGR, SIDE as usize, SIDE as usize, out);
}

/// Persons in a raw `[cells, 85]` output, in input pixels, before NMS.
fn decode(raw: &[f32], threshold: f32) -> Vec<Person> {
    let mut persons = Vec::new();
    let mut cells = raw.chunks_exact(VALUES_PER_CELL);
    for stride in STRIDES {
        let grid = SIDE as usize / stride;
        for gy in 0..grid {
            for gx in 0..grid {
                let Some(c) = cells.next() else {
                    return persons;
                };
                let confidence = c[4] * c[5];
                if confidence < threshold {
                    continue;
                }
                let s = stride as f32;
                let (cx, cy) = ((c[0] + gx as f32) * s, (c[1] + gy as f32) * s);
                let (w, h) = (c[2].exp() * s, c[3].exp() * s);
                persons.push(Person {
                    bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                    confidence,
                });
            }
        }
    }
    persons
}

/// Greedy NMS over persons, through the face detector's NMS.
fn suppress(persons: Vec<Person>, iou: f32) -> Vec<Person> {
    let as_detections = persons
        .into_iter()
        .map(|p| Detection {
            bbox: p.bbox,
            landmarks: [[0.0; 2]; 5],
            score: p.confidence,
        })
        .collect();
    non_max_suppression(as_detections, iou)
        .into_iter()
        .map(|d| Person {
            bbox: d.bbox,
            confidence: d.score,
        })
        .collect()
}

impl Estimator for BodyEstimator {
    type Input = Arc<RgbImage>;
    type Output = Vec<Person>;

    fn for_graph(session: &EstimatorSession, spec: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [3, SIDE as usize, SIDE as usize] {
            return Err(unexpected_input(session, "3x416x416"));
        }
        Ok(Self {
            min_confidence: spec.min_confidence,
        })
    }

    fn prepare(&self, image: &Arc<RgbImage>, tensor: &mut [f32]) {
        prepare(image, tensor)
    }

    fn decode(&self, image: &Arc<RgbImage>, outputs: &[Vec<f32>]) -> Result<Vec<Person>, String> {
        let scale = letterbox_scale(image);
        let (w, h) = (image.width() as f32, image.height() as f32);
        Ok(suppress(decode(&outputs[0], self.min_confidence), NMS_IOU)
            .into_iter()
            .map(|p| Person {
                bbox: [
                    (p.bbox[0] / scale).clamp(0.0, w),
                    (p.bbox[1] / scale).clamp(0.0, h),
                    (p.bbox[2] / scale).clamp(0.0, w),
                    (p.bbox[3] / scale).clamp(0.0, h),
                ],
                confidence: p.confidence,
            })
            .collect())
    }

    fn warm_up_input() -> Arc<RgbImage> {
        Arc::new(RgbImage::new(64, 48))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_decode_on_their_grid() {
        let cells = 52 * 52 + 26 * 26 + 13 * 13;
        let mut raw = vec![0.0f32; cells * VALUES_PER_CELL];
        // Stride 16 grid, cell (x 3, y 2): centre offset 0.5, size exp(0) * 16, confidence 0.9 * 0.5.
        let i = (52 * 52 + 2 * 26 + 3) * VALUES_PER_CELL;
        raw[i..i + 6].copy_from_slice(&[0.5, 0.5, 0.0, 0.0, 0.9, 0.5]);
        let persons = decode(&raw, 0.3);
        assert_eq!(persons.len(), 1);
        assert_eq!(persons[0].bbox, [48.0, 32.0, 64.0, 48.0]);
        assert!((persons[0].confidence - 0.45).abs() < 1e-6);
    }
}
