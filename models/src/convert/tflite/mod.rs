//! TFLite flatbuffers to ONNX.

use super::ConvertError;

pub(super) fn convert(_model: &[u8]) -> Result<Vec<u8>, ConvertError> {
    Err(ConvertError::Unsupported("TFLite is not converted yet".into()))
}
