//! Small checked accessors for session outputs, shared by every model so a graph that does not match what its
//! decoder expects fails with a message naming the output instead of reading out of bounds.

use faceserve_batcher::ModelError;
use ort::session::SessionOutputs;

/// The flat f32 data of output `name`, checked to hold `expected` values.
pub fn output_f32<'a>(
    outputs: &'a SessionOutputs<'_>,
    model: &str,
    name: &str,
    expected: usize,
) -> Result<&'a [f32], ModelError> {
    let value = outputs
        .get(name)
        .ok_or_else(|| ModelError(format!("{model}: output {name} is missing")))?;
    let (_, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| ModelError(format!("{model}: output {name}: {e}")))?;
    if data.len() != expected {
        return Err(ModelError(format!(
            "{model}: output {name} has {} values, expected {expected}",
            data.len()
        )));
    }
    Ok(data)
}

/// Converts any displayable error (ort's, shape errors) into a batcher model error.
pub fn model_error(e: impl std::fmt::Display) -> ModelError {
    ModelError(e.to_string())
}
