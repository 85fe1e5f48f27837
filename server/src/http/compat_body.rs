//! The cloud API's response bodies (`../shared/seeds/000_*.txt` add, `001_*.txt` identify) with the spec's key
//! names and value formats: integer pixel `box {x, y, w, h}`, five integer `landmarks` `[x, y]`, `liveness` and
//! `deepfake` as `{score, fine}`, the `quality` block. A block whose estimator is not available on this server is
//! absent, and `face.unavailable` says why (a faceserve addition; a score is never made up). Keys the spec does not
//! have (`matched`, `threshold`, `score`, `faR`, `frR`, `unavailable`) are faceserve's additions; clients written for
//! the spec ignore them.

use std::collections::BTreeMap;

use faceserve_proto::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddEnvelope {
    pub transaction_id: String,
    pub result: AddResult,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddResult {
    pub template_id: String,
    pub face: FaceBlock,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentifyEnvelope {
    pub transaction_id: String,
    pub result: IdentifyResult,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentifyResult {
    /// The best template at or above the server's threshold; null when none reaches it ("no match").
    pub template_id: Option<String>,
    /// Cosine similarity of the best template (also when it is under the threshold; 0 for an empty gallery).
    /// The spec's "typical threshold 0.75" belongs to another model: use `matched` or `score` instead.
    pub similarity: f32,
    /// faceserve: whether `templateId` is a match.
    pub matched: bool,
    /// faceserve: the cosine threshold applied (`--match-threshold`).
    pub threshold: f32,
    /// faceserve: calibrated score of the match, 1 - false-accept rate (absent without a calibration table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    pub face: FaceBlock,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyEnvelope {
    pub transaction_id: String,
    pub result: VerifyResult,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResult {
    /// similarity >= threshold.
    pub verified: bool,
    /// Cosine similarity of the two faces.
    pub similarity: f32,
    pub threshold: f32,
    /// Calibrated score and the false-accept / false-reject rates a threshold at this similarity gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    #[serde(rename = "faR", skip_serializing_if = "Option::is_none")]
    pub fa_r: Option<f64>,
    #[serde(rename = "frR", skip_serializing_if = "Option::is_none")]
    pub fr_r: Option<f64>,
    /// The face of `photo`.
    pub face: Option<FaceBlock>,
    /// The face of `photo2` (absent when the second side was a `templateId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face2: Option<FaceBlock>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteEnvelope {
    pub transaction_id: String,
    pub result: DeleteResult,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteResult {
    pub template_id: String,
    pub deleted: bool,
}

/// The face a request was answered for.
#[derive(Debug, Serialize, ToSchema)]
pub struct FaceBlock {
    /// Returned if check_liveness=true and a liveness model is configured (experimental).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<CheckBlock>,
    /// Returned if check_deepfake=true and a deepfake model is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deepfake: Option<CheckBlock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityBlock>,
    /// Face box in image pixels (after EXIF orientation).
    #[serde(rename = "box")]
    pub bbox: PixelBox,
    /// Left eye, right eye, nose tip, left and right mouth corner, in image pixels.
    #[schema(value_type = Vec<Vec<i32>>)]
    pub landmarks: Vec<[i32; 2]>,
    /// faceserve: why a requested block is absent, by block name ("not available: ...").
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unavailable: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PixelBox {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// A check's `{score, fine}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBlock {
    pub score: f32,
    pub fine: bool,
    /// faceserve: the check has not been validated on real attacks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub experimental: bool,
}

/// `{value, fine}` (uniformity, exposure, contrast).
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueVerdict {
    pub value: f32,
    pub fine: bool,
}

/// `{score, fine}` (the other quality measures).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreVerdict {
    pub score: f32,
    pub fine: bool,
}

/// The spec's quality block; each field is present only when its estimator ran. `race` is never returned: it is
/// not offered, on purpose (EU AI Act art. 5(1)(g)).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct QualityBlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pitch: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yaw: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roll: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uniformity: Option<ValueVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<ValueVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contrast: Option<ValueVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flare: Option<ScoreVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blur: Option<ScoreVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macroblocks: Option<ScoreVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distortion: Option<ScoreVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occlusion: Option<ScoreVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotion: Option<ScoreVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_eye_closed: Option<ScoreVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_eye_closed: Option<ScoreVerdict>,
    /// faceserve's face-image-quality score (recognisability, from the embedding norm) under the spec's key; it is
    /// not the CR-FIQA model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crfiqa: Option<ScoreVerdict>,
}

impl FaceBlock {
    /// The spec's face block of an analysed face (`None` only if the API answered without a face).
    pub fn of(analysis: Option<pb::FaceAnalysis>) -> Option<FaceBlock> {
        let analysis = analysis?;
        let face = analysis.face.unwrap_or_default();
        let b = face.r#box.unwrap_or_default();
        let mut unavailable = BTreeMap::new();
        let mut check = |name: &str, result: Option<pb::CheckResult>| {
            let result = result?;
            if !result.available {
                unavailable.insert(name.to_string(), result.unavailable_reason);
                return None;
            }
            Some(CheckBlock {
                score: result.score,
                fine: result.fine,
                experimental: result.experimental,
            })
        };
        let liveness = check("liveness", analysis.liveness);
        let deepfake = check("deepfake", analysis.deepfake);
        // The quality block's measures left out, under `quality.<measure>`, like the checks above.
        for entry in analysis.quality.iter().flat_map(|q| &q.not_computed) {
            let (what, why) = entry.split_once(": ").unwrap_or((entry, "not computed"));
            unavailable.insert(format!("quality.{what}"), why.to_string());
        }
        Some(FaceBlock {
            liveness,
            deepfake,
            quality: analysis.quality.map(QualityBlock::of),
            bbox: PixelBox {
                x: b.x,
                y: b.y,
                w: b.w,
                h: b.h,
            },
            landmarks: face
                .landmarks
                .iter()
                .map(|p| [p.x.round() as i32, p.y.round() as i32])
                .collect(),
            unavailable,
        })
    }
}

impl QualityBlock {
    fn of(q: pb::FaceQuality) -> QualityBlock {
        let value = |v: Option<pb::QualityValue>| {
            v.map(|v| ValueVerdict {
                value: v.value,
                fine: v.fine,
            })
        };
        let score = |v: Option<pb::QualityValue>| {
            v.map(|v| ScoreVerdict {
                score: v.value,
                fine: v.fine,
            })
        };
        QualityBlock {
            age: q.age.map(|a| a.round() as i32),
            gender: (!q.gender.is_empty()).then(|| q.gender.to_ascii_lowercase()),
            pitch: q.pitch,
            yaw: q.yaw,
            roll: q.roll,
            uniformity: value(q.uniformity),
            exposure: value(q.exposure),
            contrast: value(q.contrast),
            flare: score(q.flare),
            blur: score(q.blur),
            macroblocks: score(q.macroblocks),
            distortion: score(q.distortion),
            occlusion: score(q.occlusion),
            emotion: score(q.emotion),
            left_eye_closed: score(q.left_eye_closed),
            right_eye_closed: score(q.right_eye_closed),
            crfiqa: score(q.face_image_quality),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_check_is_absent_with_its_reason() {
        let analysis = pb::FaceAnalysis {
            face: Some(pb::Face {
                r#box: Some(pb::Box {
                    x: 1,
                    y: 2,
                    w: 3,
                    h: 4,
                }),
                landmarks: vec![pb::Point { x: 10.4, y: 20.6 }; 5],
                ..Default::default()
            }),
            liveness: Some(pb::CheckResult {
                available: false,
                unavailable_reason: "not available: no liveness model is configured".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let json = serde_json::to_value(FaceBlock::of(Some(analysis)).unwrap()).unwrap();
        assert_eq!(
            json["box"],
            serde_json::json!({"x": 1, "y": 2, "w": 3, "h": 4})
        );
        assert_eq!(json["landmarks"][0], serde_json::json!([10, 21]));
        assert!(json.get("liveness").is_none() && json.get("deepfake").is_none());
        assert!(json.get("quality").is_none());
        assert_eq!(
            json["unavailable"]["liveness"],
            "not available: no liveness model is configured"
        );
    }
}
