//! Writing what the estimators found into the spec's object fields, in the version's spelling: v1 upper-case enums,
//! `fitter` / `angles` / `mask` / `quality.qaa` (camelCase) / `$template`; v2 lower-case enums, `keypoints` /
//! `pose` / `has_medical_mask` / `quality` (snake_case) / `template`. Only the fields of the estimators that ran are
//! written; a quality check that could not be computed is absent and named in `not_computed`.

use faceserve_proto::v1 as pb;
use serde_json::{Map, Value, json};

use super::request::{Version, encode_base64};
use faceserve_engine::template;

type Object = Map<String, Value>;

/// The detector's fields of a face found on the photo: `id`, `class`, `confidence`, normalised `bbox`.
pub fn detected_face(face: &pb::FaceObject) -> Object {
    let found = face.face.clone().unwrap_or_default();
    let mut object = Object::new();
    object.insert("id".into(), json!(face.id));
    object.insert("class".into(), json!("face"));
    object.insert("confidence".into(), json!(found.detection_score));
    object.insert("bbox".into(), json!(found.bbox));
    object
}

pub fn body(person: &pb::BodyObject) -> Value {
    json!({"id": person.id, "class": "body", "confidence": person.confidence, "bbox": person.bbox})
}

/// Adds every estimate of `face` to `object`.
pub fn add_estimates(
    object: &mut Object,
    face: &pb::FaceObject,
    version: Version,
    recognizer: &str,
) {
    let v = version;
    if let Some(age) = face.age {
        // The spec writes the age as a string of whole years.
        object.insert("age".into(), json!((age.round() as i64).to_string()));
    }
    if let Some(gender) = enum_name(
        pb::Gender::try_from(face.gender)
            .ok()
            .map(|g| g.as_str_name()),
        "GENDER_",
    ) {
        object.insert("gender".into(), json!(v.enum_text(&gender)));
    }
    if !face.emotions.is_empty() {
        let emotions: Vec<Value> = face
            .emotions
            .iter()
            .filter_map(|e| {
                let name = enum_name(
                    pb::Emotion::try_from(e.emotion)
                        .ok()
                        .map(|x| x.as_str_name()),
                    "EMOTION_",
                )?;
                Some(json!({"confidence": e.confidence, "emotion": v.enum_text(&name)}))
            })
            .collect();
        object.insert("emotions".into(), json!(emotions));
    }
    if let Some(liveness) = &face.liveness {
        let value = enum_name(
            pb::LivenessValue::try_from(liveness.value)
                .ok()
                .map(|x| x.as_str_name()),
            "LIVENESS_VALUE_",
        );
        object.insert(
            "liveness".into(),
            json!({"confidence": liveness.confidence, "value": value.map(|n| v.enum_text(&n))}),
        );
    }
    if let Some(mask) = &face.has_medical_mask {
        let key = match v {
            Version::V1 => "mask",
            Version::V2 => "has_medical_mask",
        };
        object.insert(
            key.into(),
            json!({"confidence": mask.confidence, "value": mask.value}),
        );
    }
    if let Some(keypoints) = &face.keypoints {
        match v {
            Version::V1 => {
                object.insert("fitter".into(), fitter_v1(keypoints));
            }
            Version::V2 => {
                let mut named: Object = named_keypoints(keypoints)
                    .into_iter()
                    .filter_map(|(name, k)| Some((name.to_string(), json!({"proj": k?.proj}))))
                    .collect();
                named.insert("fitter_type".into(), json!(keypoints.fitter_type));
                object.insert("keypoints".into(), Value::Object(named));
            }
        }
    }
    if let Some(pose) = &face.pose {
        let key = match v {
            Version::V1 => "angles",
            Version::V2 => "pose",
        };
        object.insert(
            key.into(),
            json!({"yaw": pose.yaw, "roll": pose.roll, "pitch": pose.pitch}),
        );
    }
    if let Some(quality) = &face.quality {
        object.insert("quality".into(), quality_fields(quality, v));
    }
    if let Some(t) = &face.template {
        let bytes = template::encode(t);
        match v {
            Version::V1 => {
                object.insert("$template".into(), json!(encode_base64(&bytes)));
                object.insert("template_size".into(), json!(bytes.len()));
            }
            Version::V2 => {
                object.insert(
                    "template".into(),
                    json!({template_key(recognizer): {
                        "blob": encode_base64(&bytes), "format": "NDARRAY", "dtype": "uint8", "shape": [bytes.len()]
                    }}),
                );
            }
        }
    }
    if !face.errors.is_empty() {
        // faceserve: an estimator that failed for this face only; the others' fields are there.
        let errors: Vec<Value> = face
            .errors
            .iter()
            .map(|e| {
                let estimator =
                    pb::Estimator::try_from(e.estimator).map_or("unknown", |x| x.as_str_name());
                let detail = e.error.clone().unwrap_or_default();
                json!({"estimator": estimator, "code": detail.code, "info": detail.info})
            })
            .collect();
        object.insert("errors".into(), json!(errors));
    }
}

/// The v2 template's key: the spec names it after its extractor (`_face_template_extractor_1000_12`); faceserve
/// after its recognizer.
pub fn template_key(recognizer: &str) -> String {
    format!("_face_template_extractor_{recognizer}")
}

fn enum_name(name: Option<&str>, prefix: &str) -> Option<String> {
    let name = name?.strip_prefix(prefix)?;
    (name != "UNSPECIFIED").then(|| name.to_ascii_lowercase())
}

/// v1's fitter: the 21 keypoints as flat `[x, y, 0]` pixel triples in the spec's order, and both eyes.
fn fitter_v1(k: &pb::Keypoints) -> Value {
    let pixel = |p: Option<&pb::Keypoint>| p.and_then(|k| k.point).map(|p| [p.x, p.y]);
    let flat: Vec<f32> = named_keypoints(k)
        .into_iter()
        .flat_map(|(_, p)| {
            let [x, y] = pixel(p.as_ref()).unwrap_or([0.0, 0.0]);
            [x, y, 0.0]
        })
        .collect();
    json!({
        "fitter_type": k.fitter_type,
        "keypoints": flat,
        "left_eye": pixel(k.left_eye.as_ref()),
        "right_eye": pixel(k.right_eye.as_ref()),
    })
}

/// The keypoints of `k` in the spec's order, by name (the message's fields carry the spec's names).
fn named_keypoints(k: &pb::Keypoints) -> Vec<(&'static str, Option<pb::Keypoint>)> {
    let Value::Object(by_name) = serde_json::to_value(k).expect("keypoints serialise") else {
        unreachable!("a message is an object")
    };
    faceserve_vision::estimate::keypoints::names()
        .map(|name| {
            let point = by_name
                .get(name)
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            (name, point)
        })
        .collect()
}

/// The quality block: v2 snake_case fields, v1 camelCase inside `qaa`. Checks that were not computed are absent
/// (and named in `not_computed`).
fn quality_fields(q: &pb::QualityAssessment, version: Version) -> Value {
    let Value::Object(fields) = serde_json::to_value(q).expect("a quality block serialises") else {
        unreachable!("a message is an object")
    };
    let name = |snake: &str| match version {
        Version::V2 => snake.to_string(),
        Version::V1 => camel(snake),
    };
    let out: Object = fields
        .into_iter()
        .filter(|(_, value)| !value.is_null() && value.as_array().is_none_or(|a| !a.is_empty()))
        .map(|(field, value)| (name(&field), value))
        .collect();
    match version {
        Version::V2 => Value::Object(out),
        Version::V1 => json!({"qaa": out}),
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> pb::FaceObject {
        pb::FaceObject {
            age: Some(24.6),
            gender: pb::Gender::Male as i32,
            emotions: vec![pb::EmotionScore {
                emotion: pb::Emotion::Happy as i32,
                confidence: 0.9,
            }],
            liveness: Some(pb::Liveness {
                confidence: 0.99,
                value: pb::LivenessValue::Real as i32,
                ..Default::default()
            }),
            has_medical_mask: Some(pb::MedicalMask {
                value: false,
                confidence: 0.07,
            }),
            pose: Some(pb::Pose {
                yaw: 1.0,
                pitch: 2.0,
                roll: 3.0,
            }),
            quality: Some(pb::QualityAssessment {
                total_score: 0.9,
                is_sharp: Some(true),
                not_computed: vec!["watermark: no model".into()],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn v1_and_v2_spell_the_same_estimates_as_the_spec() {
        let mut v1 = Object::new();
        add_estimates(&mut v1, &face(), Version::V1, "w600k_mbf");
        let v1 = Value::Object(v1);
        assert_eq!(v1["age"], "25");
        assert_eq!(v1["gender"], "MALE");
        assert_eq!(v1["emotions"][0]["emotion"], "HAPPY");
        assert_eq!(v1["liveness"]["value"], "REAL");
        assert_eq!(v1["mask"]["value"], false);
        assert_eq!(v1["angles"]["roll"], 3.0);
        assert_eq!(v1["quality"]["qaa"]["isSharp"], true);
        assert!(
            v1["quality"]["qaa"].get("sharpnessScore").is_none(),
            "not computed: absent"
        );

        let mut v2 = Object::new();
        add_estimates(&mut v2, &face(), Version::V2, "w600k_mbf");
        let v2 = Value::Object(v2);
        assert_eq!(v2["gender"], "male");
        assert_eq!(v2["emotions"][0]["emotion"], "happy");
        assert_eq!(v2["liveness"]["value"], "real");
        assert_eq!(v2["has_medical_mask"]["confidence"], json!(0.07f32));
        assert_eq!(v2["pose"]["yaw"], 1.0);
        assert_eq!(v2["quality"]["is_sharp"], true);
        assert_eq!(v2["quality"]["not_computed"][0], "watermark: no model");
    }

    #[test]
    fn templates_in_both_shapes() {
        let face = pb::FaceObject {
            template: Some(pb::Template {
                model: "w600k_mbf".into(),
                embedding: vec![1.0, 0.0],
            }),
            ..Default::default()
        };
        let mut v1 = Object::new();
        add_estimates(&mut v1, &face, Version::V1, "w600k_mbf");
        assert_eq!(v1["template_size"], 4 + 1 + 9 + 2 + 8);
        let mut v2 = Object::new();
        add_estimates(&mut v2, &face, Version::V2, "w600k_mbf");
        let t = &v2["template"]["_face_template_extractor_w600k_mbf"];
        assert_eq!(
            (t["format"].as_str(), t["dtype"].as_str()),
            (Some("NDARRAY"), Some("uint8"))
        );
        assert_eq!(camel("is_left_eye_opened"), "isLeftEyeOpened");
    }
}
