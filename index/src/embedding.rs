//! Checks on embeddings before they are stored or searched with.

use crate::GalleryError;

/// How far from 1 an embedding's norm may be and still be taken as "L2-normalised" (and renormalised). A
/// normalised f32 vector is within 1e-6; this also admits vectors that went through f16 or text on the way.
pub const NORM_TOLERANCE: f64 = 0.01;

/// Returns `embedding` renormalised to unit length, or why it cannot be used: wrong dimension, a non-finite
/// component, or a norm too far from 1 to be a normalised embedding.
pub fn validate_embedding(embedding: &[f32], dimension: usize) -> Result<Vec<f32>, GalleryError> {
    if embedding.len() != dimension {
        return Err(GalleryError::DimensionMismatch {
            expected: dimension,
            actual: embedding.len(),
        });
    }
    if let Some(position) = embedding.iter().position(|x| !x.is_finite()) {
        return Err(GalleryError::InvalidArgument(format!(
            "embedding component {position} is {}",
            embedding[position]
        )));
    }
    let norm = embedding
        .iter()
        .map(|&x| x as f64 * x as f64)
        .sum::<f64>()
        .sqrt();
    if (norm - 1.0).abs() > NORM_TOLERANCE {
        return Err(GalleryError::InvalidArgument(format!(
            "embedding norm is {norm:.6}; expected an L2-normalised embedding (norm 1 +- {NORM_TOLERANCE})"
        )));
    }
    Ok(embedding
        .iter()
        .map(|&x| (x as f64 / norm) as f32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renormalises_within_tolerance_and_rejects_the_rest() {
        let nearly = vec![0.6f32 * 1.004, 0.8 * 1.004];
        let fixed = validate_embedding(&nearly, 2).unwrap();
        let norm: f32 = fixed.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6);

        assert!(matches!(
            validate_embedding(&[0.6, 0.8], 3),
            Err(GalleryError::DimensionMismatch {
                expected: 3,
                actual: 2
            })
        ));
        assert!(matches!(
            validate_embedding(&[3.0, 4.0], 2),
            Err(GalleryError::InvalidArgument(_))
        ));
        assert!(matches!(
            validate_embedding(&[0.0, 0.0], 2),
            Err(GalleryError::InvalidArgument(_))
        ));
        assert!(matches!(
            validate_embedding(&[f32::NAN, 1.0], 2),
            Err(GalleryError::InvalidArgument(_))
        ));
        assert!(matches!(
            validate_embedding(&[f32::INFINITY, 0.0], 2),
            Err(GalleryError::InvalidArgument(_))
        ));
    }
}
