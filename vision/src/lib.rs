//! faceserve-vision: everything between image bytes and model numbers — decoding with limits and EXIF orientation,
//! letterboxing, 5-point face alignment, each model's pre- and post-processing, the estimators and the quality scoring.
//! It knows nothing about gRPC.

pub mod align;
pub mod calibration;
pub mod decode;
pub mod detect;
pub mod estimate;
mod jpeg_reduced;
pub mod pipeline;
pub mod quality;
pub mod recognize;
pub mod runtime;
mod session_io;
pub mod tensor;
