//! What a cosine similarity means for one recognizer: the false-accept and false-reject rates a threshold at that
//! cosine gives on a calibration set, and a calibrated score (the probability that the two faces are the same person
//! at equal priors, from a logistic fit). Raw cosines are not comparable across models; these are.

use serde::{Deserialize, Serialize};

/// A calibration table as stored in `vision/calibration/<recognizer>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// The recognizer the table belongs to.
    pub model: String,
    /// Where the pairs came from and the command that regenerates the table.
    pub source: String,
    pub genuine_pairs: u64,
    pub impostor_pairs: u64,
    /// Logistic fit `score = 1 / (1 + exp(-(a * cosine + b)))`.
    pub logistic: [f64; 2],
    /// `(cosine, far, frr)` at increasing cosines; far falls and frr rises with the cosine.
    pub points: Vec<[f64; 3]>,
}

/// The rates and score for one similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub score: f32,
    pub far: f64,
    pub frr: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("calibration table: {0}")]
    Invalid(String),
}

impl Calibration {
    pub fn from_json(text: &str) -> Result<Self, CalibrationError> {
        let table: Calibration =
            serde_json::from_str(text).map_err(|e| CalibrationError::Invalid(e.to_string()))?;
        table.validate()?;
        Ok(table)
    }

    /// The table shipped with faceserve for `model`, if there is one.
    pub fn bundled(model: &str) -> Option<Self> {
        let text = match model {
            "w600k_mbf" => include_str!("../calibration/w600k_mbf.json"),
            _ => return None,
        };
        Some(Self::from_json(text).expect("bundled calibration tables are valid"))
    }

    fn validate(&self) -> Result<(), CalibrationError> {
        if self.points.len() < 2 {
            return Err(CalibrationError::Invalid(
                "needs at least two points".into(),
            ));
        }
        let monotone = self.points.windows(2).all(|w| {
            let ([c0, far0, frr0], [c1, far1, frr1]) = (w[0], w[1]);
            c1 > c0 && far1 <= far0 && frr1 >= frr0
        });
        if !monotone {
            return Err(CalibrationError::Invalid(
                "points must have increasing cosines, falling far and rising frr".into(),
            ));
        }
        Ok(())
    }

    /// Rates at `cosine`, interpolated linearly between table points and clamped at its ends.
    pub fn rates(&self, cosine: f32) -> Rates {
        let c = f64::from(cosine);
        let [a, b] = self.logistic;
        let score = (1.0 / (1.0 + (-(a * c + b)).exp())) as f32;
        let pts = &self.points;
        let i = pts.partition_point(|p| p[0] <= c);
        let (far, frr) = if i == 0 {
            (pts[0][1], pts[0][2])
        } else if i == pts.len() {
            (pts[i - 1][1], pts[i - 1][2])
        } else {
            let (p, q) = (pts[i - 1], pts[i]);
            let t = (c - p[0]) / (q[0] - p[0]);
            (p[1] + t * (q[1] - p[1]), p[2] + t * (q[2] - p[2]))
        };
        Rates { score, far, frr }
    }

    /// The lowest cosine whose false-accept rate is at most `far`, or None when the table cannot reach it.
    pub fn threshold_for_far(&self, far: f64) -> Option<f32> {
        self.points
            .iter()
            .find(|p| p[1] <= far)
            .map(|p| p[0] as f32)
    }

    /// The smallest false-accept rate the table resolves.
    pub fn min_far(&self) -> f64 {
        self.points.last().map_or(1.0, |p| p[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Calibration {
        Calibration {
            model: "m".into(),
            source: "test".into(),
            genuine_pairs: 10,
            impostor_pairs: 10,
            logistic: [10.0, -3.0],
            points: vec![
                [0.0, 0.5, 0.0],
                [0.2, 0.01, 0.01],
                [0.4, 0.0001, 0.1],
                [0.8, 0.0, 0.9],
            ],
        }
    }

    #[test]
    fn rates_interpolate_and_are_monotonic() {
        let t = table();
        let r = t.rates(0.3);
        assert!((r.far - 0.00505).abs() < 1e-6);
        assert!((r.frr - 0.055).abs() < 1e-6);
        let mut last = t.rates(-1.0);
        for i in -100..=100 {
            let r = t.rates(i as f32 / 100.0);
            assert!(r.far <= last.far && r.frr >= last.frr && r.score >= last.score);
            last = r;
        }
    }

    #[test]
    fn far_targets_map_to_thresholds() {
        let t = table();
        assert_eq!(t.threshold_for_far(1e-2), Some(0.2));
        assert_eq!(t.threshold_for_far(1e-3), Some(0.4));
        assert_eq!(t.threshold_for_far(0.0), Some(0.8));
    }

    #[test]
    fn a_non_monotonic_table_is_refused() {
        let mut t = table();
        t.points[2][1] = 0.9;
        assert!(t.validate().is_err());
    }
}
