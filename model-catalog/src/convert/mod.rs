//! Converters of the originals of registry models to ONNX, run by the fetch step (`convert` in `models.toml`):
//! TF.js graph models, TFLite flatbuffers and Keras HDF5 files. Each reads its format and builds an [`NhwcGraph`];
//! the same input bytes give the same ONNX bytes on every run and machine.

mod keras;
mod nhwc;
mod onnx_builder;
mod tensor;
mod tfjs;
mod tflite;

use serde::Deserialize;

/// The format of a model's original, as `models.toml` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// A TF.js graph model: `model.json`, then its weight files.
    TfjsGraph,
    /// A TFLite flatbuffer.
    Tflite,
    /// A Keras model saved as HDF5 (`model_config` and `model_weights`).
    KerasH5,
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("malformed original: {0}")]
    Malformed(String),
    #[error("not supported by the converter: {0}")]
    Unsupported(String),
}

impl ConvertError {
    /// The same error, saying where in the model it arose.
    pub(crate) fn context(self, place: &str) -> Self {
        match self {
            Self::Malformed(m) => Self::Malformed(format!("{place}: {m}")),
            Self::Unsupported(m) => Self::Unsupported(format!("{place}: {m}")),
        }
    }
}

/// One file of a model's original: its name (weight files are found by it) and content.
pub struct OriginalFile<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// The ONNX model converted from `files` (for TF.js, `model.json` first).
pub fn convert(format: SourceFormat, files: &[OriginalFile<'_>]) -> Result<Vec<u8>, ConvertError> {
    let first = files
        .first()
        .ok_or_else(|| ConvertError::Malformed("no file given".into()))?;
    match format {
        SourceFormat::TfjsGraph => tfjs::convert(first.bytes, &files[1..]),
        SourceFormat::Tflite => tflite::convert(first.bytes),
        SourceFormat::KerasH5 => keras::convert(first.bytes),
    }
}
