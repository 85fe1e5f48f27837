//! Keras HDF5 models to ONNX.

use super::ConvertError;

pub(super) fn convert(_model: &[u8]) -> Result<Vec<u8>, ConvertError> {
    Err(ConvertError::Unsupported("Keras is not converted yet".into()))
}
