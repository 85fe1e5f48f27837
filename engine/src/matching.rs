//! Turning similarities into decisions: the threshold a request asks for (a cosine or a false-accept rate) and the
//! calibrated score and error rates reported with every similarity.

use std::sync::Arc;

use faceserve_proto::v1 as pb;
use faceserve_vision::calibration::Calibration;

use crate::ApiError;

pub struct Matching {
    /// Cosine threshold used when a request names none.
    pub default_threshold: f32,
    /// The recognizer's calibration table; without one, scores and rates are left out and far thresholds refused.
    pub calibration: Option<Arc<Calibration>>,
}

/// What a similarity means: absent fields when there is no calibration table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scored {
    pub score: Option<f32>,
    pub fa_r: Option<f64>,
    pub fr_r: Option<f64>,
}

impl Matching {
    /// The cosine threshold for a request.
    pub fn threshold(&self, requested: Option<&pb::Threshold>) -> Result<f32, ApiError> {
        use pb::threshold::Kind;
        match requested.and_then(|t| t.kind) {
            None => Ok(self.default_threshold),
            Some(Kind::Cosine(c)) if c.is_finite() && (-1.0..=1.0).contains(&c) => Ok(c),
            Some(Kind::Cosine(c)) => Err(ApiError::invalid(format!(
                "threshold cosine {c} is outside -1..1"
            ))),
            Some(Kind::Far(far)) if !(far > 0.0 && far < 1.0) => Err(ApiError::invalid(format!(
                "threshold far {far} must be between 0 and 1"
            ))),
            Some(Kind::Far(far)) => {
                let table = self.calibration.as_ref().ok_or_else(|| {
                    ApiError::not_available(
                        "not available: the recognizer has no calibration table, give a cosine",
                    )
                })?;
                table.threshold_for_far(far).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "threshold far {far:e} is below what the calibration set resolves ({:e})",
                        table.min_far()
                    ))
                })
            }
        }
    }

    pub fn score(&self, similarity: f32) -> Scored {
        match &self.calibration {
            None => Scored::default(),
            Some(table) => {
                let rates = table.rates(similarity);
                Scored {
                    score: Some(rates.score),
                    fa_r: Some(rates.far),
                    fr_r: Some(rates.frr),
                }
            }
        }
    }
}
