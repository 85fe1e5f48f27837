//! Face detection: letterboxed input, one ONNX session per batcher worker, decoding of each detector family's raw
//! outputs into boxes with five landmarks, and non-maximum suppression.

mod retinaface;
mod scrfd;

use std::path::Path;

use faceserve_batcher::{Model, ModelError};
use image::RgbImage;
use ort::session::Session;
use ort::value::Tensor;

use crate::runtime::{Runtime, RuntimeError};
use crate::session_io::model_error;
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw, resize_bilinear};

/// A face in image pixels: corners `[x1, y1, x2, y2]`, five landmarks (left eye, right eye, nose, left and right
/// mouth corners, "left" meaning the image's left) and the detector's confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Detection {
    pub fn width(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }
    pub fn height(&self) -> f32 {
        self.bbox[3] - self.bbox[1]
    }
    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    fn scaled(mut self, factor: f32) -> Self {
        self.bbox = self.bbox.map(|v| v * factor);
        self.landmarks = self.landmarks.map(|p| p.map(|v| v * factor));
        self
    }

    /// Clips the box to a `width` x `height` image (landmarks are left as predicted).
    pub fn clipped(mut self, width: u32, height: u32) -> Self {
        let (w, h) = (width as f32, height as f32);
        self.bbox = [
            self.bbox[0].clamp(0.0, w),
            self.bbox[1].clamp(0.0, h),
            self.bbox[2].clamp(0.0, w),
            self.bbox[3].clamp(0.0, h),
        ];
        self
    }
}

/// The detector families faceserve can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// SCRFD (InsightFace): RGB (x - 127.5) / 128, anchor-free distances per stride 8/16/32, two anchors per cell.
    Scrfd,
    /// RetinaFace-MobileNet0.25: BGR minus (104, 117, 123), prior boxes with variances 0.1 / 0.2.
    Retinaface,
}

impl DetectorKind {
    /// The decoder for manifest model `model`, from its `family`.
    pub fn of_model(model: &str) -> Result<Self, String> {
        let entry = faceserve_models::Manifest::embedded()
            .get(model)
            .filter(|e| e.role == "detector")
            .ok_or_else(|| format!("{model:?} is not a face detector of the model manifest"))?;
        match entry.family.as_deref() {
            Some("scrfd") => Ok(Self::Scrfd),
            Some("retinaface") => Ok(Self::Retinaface),
            other => Err(format!(
                "detector {model:?} of family {other:?} has no decoder in faceserve"
            )),
        }
    }

    fn pixel_norm(self) -> PixelNorm {
        match self {
            Self::Scrfd => PixelNorm::new(ChannelOrder::Rgb, 127.5, 128.0),
            Self::Retinaface => PixelNorm {
                order: ChannelOrder::Bgr,
                mean: [104.0, 117.0, 123.0],
                std: [1.0; 3],
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DetectorParams {
    pub score_threshold: f32,
    pub nms_iou: f32,
    /// Largest upscaling of a small photo into the detector input. Blowing a close-up face up to fill the input
    /// makes it too large for the detector's anchors, so small photos are enlarged at most this much.
    pub max_upscale: f32,
    /// Shorter box side, in detector-input pixels, below which a detection is dropped. SCRFD's smallest anchors are
    /// 16 px; far below that its boxes are mostly background people and texture (measured on the CompreFace
    /// samples: 9 px false positives against real faces of 19 px and more).
    pub min_size: f32,
}

impl Default for DetectorParams {
    fn default() -> Self {
        Self {
            score_threshold: 0.5,
            nms_iou: 0.4,
            max_upscale: 2.0,
            min_size: 12.0,
        }
    }
}

/// One letterboxed image ready for the detector: a CHW tensor and the factor that maps image pixels into it.
pub struct DetectorInput {
    tensor: Vec<f32>,
    scale: f32,
}

/// A detector session; one per batcher worker (`Session::run` needs `&mut`).
pub struct Detector {
    session: Session,
    kind: DetectorKind,
    params: DetectorParams,
    input_name: String,
    width: usize,
    height: usize,
    max_batch: usize,
}

impl Detector {
    /// Opens `model`. `input_size` is used when the graph leaves the spatial size free; `max_batch` when it leaves the
    /// batch free (a graph that fixes batch = 1 runs one image at a time; the fetch step serves the SCRFD-2.5G export
    /// with a symbolic batch).
    pub fn load(
        runtime: &Runtime,
        model: &Path,
        kind: DetectorKind,
        params: DetectorParams,
        input_size: usize,
        max_batch: usize,
    ) -> Result<Self, RuntimeError> {
        let session = runtime.load_session(model)?;
        let input = session
            .inputs()
            .first()
            .ok_or_else(|| RuntimeError::Session {
                path: model.to_path_buf(),
                message: "the graph has no input".into(),
            })?;
        let shape: Vec<i64> = input
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let fixed = |i: usize| shape.get(i).copied().filter(|&d| d > 0).map(|d| d as usize);
        Ok(Self {
            input_name: input.name().to_string(),
            kind,
            params,
            width: fixed(3).unwrap_or(input_size),
            height: fixed(2).unwrap_or(input_size),
            max_batch: fixed(0).unwrap_or(max_batch.max(1)),
            session,
        })
    }

    pub fn input_size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn run_one_batch(
        &mut self,
        inputs: Vec<DetectorInput>,
    ) -> Result<Vec<Vec<Detection>>, ModelError> {
        let (w, h, n) = (self.width, self.height, inputs.len());
        let scales: Vec<f32> = inputs.iter().map(|i| i.scale).collect();
        let data: Vec<f32> = if n == 1 {
            inputs.into_iter().next().expect("one input").tensor
        } else {
            inputs
                .iter()
                .flat_map(|i| i.tensor.iter().copied())
                .collect()
        };
        let tensor = Tensor::from_array(([n, 3, h, w], data)).map_err(model_error)?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(model_error)?;
        let raw = match self.kind {
            DetectorKind::Scrfd => scrfd::decode(&outputs, n, w, h, self.params.score_threshold)?,
            DetectorKind::Retinaface => {
                retinaface::decode(&outputs, n, w, h, self.params.score_threshold)?
            }
        };
        Ok(raw
            .into_iter()
            .zip(scales)
            .map(|(dets, scale)| {
                non_max_suppression(dets, self.params.nms_iou)
                    .into_iter()
                    .filter(|d| d.width().min(d.height()) >= self.params.min_size)
                    .map(|d| d.scaled(1.0 / scale))
                    .collect()
            })
            .collect())
    }
}

/// Letterboxes `image` (scaled by `scale`, top-left aligned, black padding) into a detector input of `width` x
/// `height`.
pub fn prepare_input(
    image: &RgbImage,
    kind: DetectorKind,
    width: usize,
    height: usize,
    scale: f32,
) -> DetectorInput {
    let new_w = ((image.width() as f32 * scale).round() as u32).clamp(1, width as u32);
    let new_h = ((image.height() as f32 * scale).round() as u32).clamp(1, height as u32);
    let resized = if (new_w, new_h) == image.dimensions() {
        None
    } else {
        Some(resize_bilinear(image, new_w, new_h))
    };
    let mut tensor = vec![0.0f32; 3 * width * height];
    fill_chw(
        resized.as_ref().unwrap_or(image),
        &kind.pixel_norm(),
        width,
        height,
        &mut tensor,
    );
    DetectorInput { tensor, scale }
}

/// The letterbox factor for `image`: as large as fits the input, but at most `max_upscale`.
pub fn letterbox_scale(image: &RgbImage, width: usize, height: usize, max_upscale: f32) -> f32 {
    let fit = (width as f32 / image.width() as f32).min(height as f32 / image.height() as f32);
    fit.min(max_upscale)
}

impl Model for Detector {
    type Input = DetectorInput;
    type Output = Vec<Detection>;

    fn max_batch_size(&self) -> usize {
        self.max_batch
    }

    fn run(&mut self, inputs: Vec<DetectorInput>) -> Result<Vec<Vec<Detection>>, ModelError> {
        let mut results = Vec::with_capacity(inputs.len());
        let mut pending = inputs;
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(self.max_batch));
            results.extend(self.run_one_batch(pending)?);
            pending = rest;
        }
        Ok(results)
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        let blank = RgbImage::new(self.width as u32, self.height as u32);
        for &size in batch_sizes {
            let inputs = (0..size.min(self.max_batch))
                .map(|_| prepare_input(&blank, self.kind, self.width, self.height, 1.0))
                .collect();
            self.run(inputs)?;
        }
        Ok(())
    }
}

fn iou(a: &Detection, b: &Detection) -> f32 {
    let ix = (a.bbox[2].min(b.bbox[2]) - a.bbox[0].max(b.bbox[0])).max(0.0);
    let iy = (a.bbox[3].min(b.bbox[3]) - a.bbox[1].max(b.bbox[1])).max(0.0);
    let inter = ix * iy;
    let union = a.area() + b.area() - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Greedy NMS: keeps the best-scoring box of every cluster whose overlap exceeds `threshold`. Best first.
pub fn non_max_suppression(mut dets: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in dets {
        if kept.iter().all(|k| iou(k, &d) <= threshold) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            bbox: [x, 0.0, x + 10.0, 10.0],
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = non_max_suppression(vec![det(0.0, 0.6), det(1.0, 0.9), det(50.0, 0.7)], 0.4);
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7]);
    }

    #[test]
    fn detector_families_come_from_the_manifest() {
        assert_eq!(
            DetectorKind::of_model("scrfd_2.5g_bnkps_640"),
            Ok(DetectorKind::Scrfd)
        );
        assert_eq!(
            DetectorKind::of_model("retinaface_mnet025"),
            Ok(DetectorKind::Retinaface)
        );
        assert!(DetectorKind::of_model("w600k_mbf").is_err());
        assert!(
            DetectorKind::of_model("yunet_s_dynamic")
                .unwrap_err()
                .contains("no decoder")
        );
    }

    #[test]
    fn small_photos_are_upscaled_at_most_max_upscale() {
        let small = RgbImage::new(150, 100);
        assert_eq!(letterbox_scale(&small, 640, 640, 2.0), 2.0);
        let large = RgbImage::new(1280, 640);
        assert_eq!(letterbox_scale(&large, 640, 640, 2.0), 0.5);
    }
}
