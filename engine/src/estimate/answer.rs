//! Estimator results as the API's messages, with the spec's names: emotions, gender, mask, keypoints (normalised
//! `proj` and pixels), pose and persons.

use faceserve_proto::v1 as pb;
use faceserve_vision::estimate::body::Person;
use faceserve_vision::estimate::emotion::{Emotions, Expression};
use faceserve_vision::estimate::pose::HeadPose;

use faceserve_vision::quality::is_masked;

use crate::ApiError;

fn emotion_of(e: Expression) -> pb::Emotion {
    match e {
        Expression::Angry => pb::Emotion::Angry,
        Expression::Disgusted => pb::Emotion::Disgusted,
        Expression::Scared => pb::Emotion::Scared,
        Expression::Happy => pb::Emotion::Happy,
        Expression::Neutral => pb::Emotion::Neutral,
        Expression::Sad => pb::Emotion::Sad,
        Expression::Surprised => pb::Emotion::Surprised,
    }
}

/// Every expression's probability (spec order), the top expression and its probability.
pub fn emotions(e: &Emotions) -> (Vec<pb::EmotionScore>, i32, f32) {
    let all = Expression::ALL
        .iter()
        .map(|&x| pb::EmotionScore {
            emotion: emotion_of(x) as i32,
            confidence: e.get(x),
        })
        .collect();
    let (top, p) = e.top();
    (all, emotion_of(top) as i32, p)
}

/// The gender and the probability of it, from the probability of male.
pub fn gender(male: Option<f32>) -> (i32, f32) {
    match male {
        Some(p) if p >= 0.5 => (pb::Gender::Male as i32, p),
        Some(p) => (pb::Gender::Female as i32, 1.0 - p),
        None => (pb::Gender::Unspecified as i32, 0.0),
    }
}

pub fn mask(probability: f32) -> pb::MedicalMask {
    pb::MedicalMask {
        value: is_masked(probability),
        confidence: probability,
    }
}

pub fn pose(p: HeadPose) -> pb::Pose {
    pb::Pose {
        yaw: p.yaw,
        pitch: p.pitch,
        roll: p.roll,
    }
}

fn keypoint(p: [f32; 2], width: u32, height: u32) -> pb::Keypoint {
    pb::Keypoint {
        proj: vec![p[0] / width.max(1) as f32, p[1] / height.max(1) as f32],
        point: Some(pb::Point { x: p[0], y: p[1] }),
    }
}

/// The spec's named keypoints (as [`faceserve_vision::estimate::keypoints::named_keypoints`] gives them); the
/// message's fields carry the same names.
pub fn keypoints(named: &[(&str, [f32; 2])], width: u32, height: u32) -> pb::Keypoints {
    let by_name: serde_json::Map<String, serde_json::Value> = named
        .iter()
        .map(|&(name, p)| {
            let point =
                serde_json::to_value(keypoint(p, width, height)).expect("a keypoint serialises");
            (name.to_string(), point)
        })
        .collect();
    let mut k: pb::Keypoints = serde_json::from_value(serde_json::Value::Object(by_name))
        .expect("every named keypoint is a field of Keypoints");
    k.fitter_type = "2d106det".into();
    k
}

pub fn body(id: u32, p: &Person, width: u32, height: u32) -> pb::BodyObject {
    let [x1, y1, x2, y2] = p.bbox;
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    pb::BodyObject {
        id,
        confidence: p.confidence,
        bbox: vec![x1 / w, y1 / h, x2 / w, y2 / h],
        r#box: Some(pb::Box {
            x: x1.round() as i32,
            y: y1.round() as i32,
            w: (x2 - x1).round() as i32,
            h: (y2 - y1).round() as i32,
        }),
    }
}

pub fn error(estimator: pb::Estimator, e: ApiError) -> pb::EstimatorError {
    pb::EstimatorError {
        estimator: estimator as i32,
        error: Some(e.detail()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faceserve_vision::estimate::keypoints::{named_keypoints, names};

    #[test]
    fn every_named_keypoint_has_a_field() {
        let landmarks: Vec<[f32; 2]> = (0..106).map(|i| [i as f32, 50.0]).collect();
        let k = keypoints(&named_keypoints(&landmarks), 200, 100);
        assert_eq!(names().count(), 21);
        let chin = k.chin.unwrap();
        assert_eq!(chin.proj, vec![0.0, 0.5]);
        assert!(k.left_eye_brow_left.is_some() && k.mouth.is_some());
    }

    #[test]
    fn gender_confidence_is_that_of_the_answer() {
        assert_eq!(gender(Some(0.2)), (pb::Gender::Female as i32, 0.8));
        assert_eq!(gender(Some(0.9)).0, pb::Gender::Male as i32);
    }
}
