//! Facial expression (human_emotion: oarriaga's mini-Xception trained on FER2013, as packaged by vladmandic/human).
//!
//! Reference preprocessing (human's `emotion.ts`): the face crop resized bilinearly to 64x64, grey =
//! 0.2989 R + 0.587 G + 0.114 B on 0..1, then `(grey - 0.5) * 2`. The output is already a softmax over the FER2013
//! classes. The crop is the detector's box squared on its longer side: on FER2013 faces found by SCRFD, scale 1.0 gave
//! 0.51 accuracy, 1.2 gave 0.42 and 1.4 gave 0.31 (FER2013 crops are tight).

use super::model::{Estimator, LoadSpec, unexpected_input};
use super::session::EstimatorSession;
use super::{FaceJob, square_crop};
use crate::tensor::fill_grey;

const SIDE: u32 = 64;
const CROP_SCALE: f32 = 1.0;
const GREY: [f32; 3] = [0.2989, 0.587, 0.114];

/// The spec's seven expressions, in the spec's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expression {
    Angry,
    Disgusted,
    Scared,
    Happy,
    Neutral,
    Sad,
    Surprised,
}

impl Expression {
    pub const ALL: [Expression; 7] = [
        Self::Angry,
        Self::Disgusted,
        Self::Scared,
        Self::Happy,
        Self::Neutral,
        Self::Sad,
        Self::Surprised,
    ];

    /// The spec's (v2) lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Angry => "angry",
            Self::Disgusted => "disgusted",
            Self::Scared => "scared",
            Self::Happy => "happy",
            Self::Neutral => "neutral",
            Self::Sad => "sad",
            Self::Surprised => "surprised",
        }
    }
}

/// The model's FER2013 class order (angry, disgust, fear, happy, sad, surprise, neutral) in terms of the spec's.
const MODEL_ORDER: [Expression; 7] = [
    Expression::Angry,
    Expression::Disgusted,
    Expression::Scared,
    Expression::Happy,
    Expression::Sad,
    Expression::Surprised,
    Expression::Neutral,
];

/// One probability per expression, indexed like [`Expression::ALL`]; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emotions(pub [f32; 7]);

impl Emotions {
    pub fn get(&self, e: Expression) -> f32 {
        self.0[e as usize]
    }

    /// The most likely expression and its probability.
    pub fn top(&self) -> (Expression, f32) {
        Expression::ALL
            .iter()
            .map(|&e| (e, self.get(e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("seven classes")
    }
}

/// oarriaga's mini-Xception as packaged by vladmandic/human.
pub struct EmotionEstimator;

/// The model input for one face.
pub fn prepare(job: &FaceJob, out: &mut [f32]) {
    let crop = square_crop(&job.image, &job.face, CROP_SCALE, SIDE);
    fill_grey(&crop, GREY, 0.5, 0.5, out);
}

/// The model's seven outputs, reordered to the spec's expressions.
pub fn decode(scores: &[f32]) -> Emotions {
    let mut out = [0.0; 7];
    for (value, expression) in scores.iter().zip(MODEL_ORDER) {
        out[expression as usize] = *value;
    }
    Emotions(out)
}

impl Estimator for EmotionEstimator {
    type Input = FaceJob;
    type Output = Emotions;

    fn for_graph(session: &EstimatorSession, _: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [SIDE as usize, SIDE as usize, 1] {
            return Err(unexpected_input(session, "64x64 grey"));
        }
        Ok(Self)
    }

    fn prepare(&self, job: &FaceJob, tensor: &mut [f32]) {
        prepare(job, tensor)
    }

    fn decode(&self, _: &FaceJob, outputs: &[Vec<f32>]) -> Result<Emotions, String> {
        Ok(decode(&outputs[0]))
    }

    fn warm_up_input() -> FaceJob {
        FaceJob::blank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_classes_map_to_the_spec_names() {
        // Model order: angry, disgust, fear, happy, sad, surprise, neutral.
        let e = decode(&[0.0, 0.0, 0.0, 0.1, 0.2, 0.0, 0.7]);
        assert_eq!(e.top(), (Expression::Neutral, 0.7));
        assert_eq!(e.get(Expression::Sad), 0.2);
        assert_eq!(Expression::Scared.name(), "scared");
    }
}
