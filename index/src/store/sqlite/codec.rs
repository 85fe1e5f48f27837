//! How embeddings, landmarks and metadata are laid out in their columns.

use std::collections::BTreeMap;

use crate::GalleryError;

/// f32 values, little-endian, back to back.
pub(crate) fn floats_to_blob(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(crate) fn blob_to_floats(blob: &[u8], what: &str) -> Result<Vec<f32>, GalleryError> {
    if !blob.len().is_multiple_of(4) {
        return Err(GalleryError::Storage(format!(
            "stored {what} has {} bytes, not a whole number of f32",
            blob.len()
        )));
    }
    Ok(blob
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

pub(crate) fn landmarks_to_blob(landmarks: &[[f32; 2]; 5]) -> Vec<u8> {
    floats_to_blob(landmarks.as_flattened())
}

pub(crate) fn blob_to_landmarks(blob: &[u8]) -> Result<[[f32; 2]; 5], GalleryError> {
    let floats = blob_to_floats(blob, "landmarks")?;
    if floats.len() != 10 {
        return Err(GalleryError::Storage(format!(
            "stored landmarks have {} values, expected 10",
            floats.len()
        )));
    }
    let mut landmarks = [[0f32; 2]; 5];
    for (point, xy) in landmarks.iter_mut().zip(floats.chunks_exact(2)) {
        *point = [xy[0], xy[1]];
    }
    Ok(landmarks)
}

/// A JSON object of strings.
pub(crate) fn metadata_to_json(metadata: &BTreeMap<String, String>) -> String {
    serde_json::to_string(metadata).expect("a map of strings always serialises")
}

pub(crate) fn json_to_metadata(json: &str) -> Result<BTreeMap<String, String>, GalleryError> {
    serde_json::from_str(json)
        .map_err(|e| GalleryError::Storage(format!("stored metadata is not valid: {e}")))
}
