//! Face recognition: an aligned 112x112 crop in, an L2-normalised embedding out (compared by cosine), plus the
//! norm before normalisation, which falls with blur and low resolution and so serves as a recognisability score.

use std::path::Path;

use faceserve_batcher::{Model, ModelError};
use image::RgbImage;
use ort::session::Session;
use ort::value::Tensor;

use crate::runtime::{Runtime, RuntimeError};
use crate::session_io::{model_error, output_f32};
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw};

/// ArcFace models (InsightFace) take RGB scaled to -1..1. Feeding BGR fails silently: accuracy barely moves but
/// genuine cosines drop (0.609 -> 0.583 measured), so the order is fixed here, once.
const ARCFACE_NORM: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 127.5, 127.5);
pub const CROP_SIZE: u32 = 112;

#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Unit-length embedding.
    pub vector: Vec<f32>,
    /// Norm of the raw embedding before normalisation.
    pub raw_norm: f32,
}

pub struct Recognizer {
    session: Session,
    input_name: String,
    output_name: String,
    dimension: usize,
    max_batch: usize,
}

impl Recognizer {
    pub fn load(runtime: &Runtime, model: &Path, max_batch: usize) -> Result<Self, RuntimeError> {
        let session = runtime.load_session(model)?;
        let bad_graph = |message: &str| RuntimeError::Session {
            path: model.to_path_buf(),
            message: message.to_string(),
        };
        let input = session
            .inputs()
            .first()
            .ok_or_else(|| bad_graph("the graph has no input"))?;
        let output = session
            .outputs()
            .first()
            .ok_or_else(|| bad_graph("the graph has no output"))?;
        let out_shape: Vec<i64> = output
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let dimension = out_shape
            .last()
            .copied()
            .filter(|&d| d > 0)
            .ok_or_else(|| bad_graph("the embedding dimension is not fixed in the graph"))?
            as usize;
        Ok(Self {
            input_name: input.name().to_string(),
            output_name: output.name().to_string(),
            dimension,
            // The w600k_mbf export declares batch 1 on its output but computes any batch; the input decides.
            max_batch: max_batch.max(1),
            session,
        })
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }
}

/// L2-normalises `raw` into an [`Embedding`]. A zero vector stays zero (its cosine with anything is 0).
pub fn normalize(raw: &[f32]) -> Embedding {
    let raw_norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
    let scale = if raw_norm > 0.0 { 1.0 / raw_norm } else { 0.0 };
    Embedding {
        vector: raw.iter().map(|v| v * scale).collect(),
        raw_norm,
    }
}

impl Model for Recognizer {
    type Input = RgbImage;
    type Output = Embedding;

    fn max_batch_size(&self) -> usize {
        self.max_batch
    }

    fn run(&mut self, crops: Vec<RgbImage>) -> Result<Vec<Embedding>, ModelError> {
        let n = crops.len();
        let side = CROP_SIZE as usize;
        let plane = 3 * side * side;
        let mut data = vec![0.0f32; n * plane];
        for (crop, slot) in crops.iter().zip(data.chunks_exact_mut(plane)) {
            if crop.dimensions() != (CROP_SIZE, CROP_SIZE) {
                return Err(ModelError(format!(
                    "recognizer crop must be 112x112, got {:?}",
                    crop.dimensions()
                )));
            }
            fill_chw(crop, &ARCFACE_NORM, side, side, slot);
        }
        let tensor = Tensor::from_array(([n, 3, side, side], data)).map_err(model_error)?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(model_error)?;
        let raw = output_f32(
            &outputs,
            "recognizer",
            &self.output_name,
            n * self.dimension,
        )?;
        Ok(raw.chunks_exact(self.dimension).map(normalize).collect())
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        for &size in batch_sizes {
            self.run(vec![RgbImage::new(CROP_SIZE, CROP_SIZE); size])?;
        }
        Ok(())
    }
}
