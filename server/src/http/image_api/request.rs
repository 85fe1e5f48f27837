//! Reading an Image API request body: the photo (`$image` base64 in v1, `_image {blob, format}` in v2), kept as
//! sent so the answer can echo it as the spec's answers do, and the `objects` a previous service produced.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use faceserve_proto::v1::{self as pb, ErrorCode};
use serde_json::Value;

use faceserve_engine::ApiError;

/// The two request shapes of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `{"$image": "<base64>", "objects": [...]}`, upper-case enum values.
    V1,
    /// `{"_image": {"blob": "<base64>", "format": "IMAGE"}, "objects": [...]}`, lower-case enum values.
    V2,
}

impl Version {
    pub fn image_key(self) -> &'static str {
        match self {
            Version::V1 => "$image",
            Version::V2 => "_image",
        }
    }

    /// An enum value as this version writes it (`MALE` / `male`).
    pub fn enum_text(self, lower: &str) -> String {
        match self {
            Version::V1 => lower.to_ascii_uppercase(),
            Version::V2 => lower.to_string(),
        }
    }
}

/// The spec's error text for undecodable base64 (photos and templates alike).
pub const BAD_BASE64: &str = "Failed to decode base64 string";

pub struct ImageRequest {
    /// The decoded photo; `None` when the request has none.
    pub image: Option<Vec<u8>>,
    /// The request's image field as sent, echoed in the answer.
    pub echo: Option<Value>,
    pub objects: Vec<Value>,
}

pub fn parse(version: Version, body: Value) -> Result<ImageRequest, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::invalid("the request body must be a JSON object"));
    };
    let echo = body.remove(version.image_key());
    let blob = match (version, &echo) {
        (_, None | Some(Value::Null)) => None,
        (Version::V1, Some(Value::String(blob))) => Some(blob.as_str()),
        (Version::V2, Some(Value::Object(image))) => {
            match image.get("format").and_then(Value::as_str) {
                None | Some("IMAGE") => {}
                Some(other) => {
                    return Err(ApiError::invalid(format!(
                        "_image.format {} is not supported: send an encoded JPEG or PNG as format IMAGE",
                        faceserve_engine::convert::echo(other)
                    )));
                }
            }
            Some(
                image
                    .get("blob")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid("_image.blob must be the image in base64"))?,
            )
        }
        (Version::V1, Some(_)) => {
            return Err(ApiError::invalid("$image must be the image in base64"));
        }
        (Version::V2, Some(_)) => {
            return Err(ApiError::invalid(
                "_image must be {\"blob\": \"<base64>\", \"format\": \"IMAGE\"}",
            ));
        }
    };
    let image = blob.map(decode_base64).transpose()?;
    let objects = match body.remove("objects") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(objects)) => objects,
        Some(_) => return Err(ApiError::invalid("objects must be a list")),
    };
    Ok(ImageRequest {
        image,
        echo,
        objects,
    })
}

/// Standard base64, padded or not, whitespace ignored, an optional `data:...;base64,` prefix dropped.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, ApiError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let text = match text.split_once(";base64,") {
        Some((prefix, data)) if prefix.starts_with("data:") => data,
        _ => text,
    };
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT
        .decode(compact)
        .map_err(|_| ApiError::new(ErrorCode::CanNotDecode, BAD_BASE64))
}

pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The face region of a spec object: its normalised `bbox`, and in v1 the five points of its `fitter` keypoints
/// (pixels; the 21 keypoints are in the spec's order, whose 8th, 11th, 15th, 18th and 20th are the eyes, the nose
/// and the mouth corners). v2 keypoints are left out: the estimators find the points themselves.
pub fn face_region(
    index: usize,
    object: &Value,
    version: Version,
) -> Result<pb::FaceRegion, ApiError> {
    let bbox: Vec<f32> = object
        .get("bbox")
        .and_then(Value::as_array)
        .map(|b| {
            b.iter()
                .filter_map(Value::as_f64)
                .map(|v| v as f32)
                .collect()
        })
        .filter(|b: &Vec<f32>| b.len() == 4)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "objects[{index}]: a face needs its bbox [x_min, y_min, x_max, y_max] (normalised)"
            ))
        })?;
    let mut region = pb::FaceRegion {
        bbox,
        ..Default::default()
    };
    if version == Version::V1 {
        let keypoints: Vec<f64> = object
            .pointer("/fitter/keypoints")
            .and_then(Value::as_array)
            .map(|k| k.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        if keypoints.len() == 21 * 3 {
            region.landmarks = [7, 10, 14, 17, 19]
                .iter()
                .map(|&i| pb::Point {
                    x: keypoints[i * 3] as f32,
                    y: keypoints[i * 3 + 1] as f32,
                })
                .collect();
        }
    }
    Ok(region)
}

/// Whether a spec object is a face (objects of another class are echoed untouched).
pub fn is_face(object: &Value) -> bool {
    object
        .get("class")
        .and_then(Value::as_str)
        .is_none_or(|class| class == "face")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_shapes_are_read_and_bad_base64_is_the_specs_error() {
        let v1 = parse(
            Version::V1,
            json!({"$image": "aGVsbG8=", "objects": [{"id": 0}]}),
        )
        .unwrap();
        assert_eq!(v1.image.as_deref(), Some(b"hello".as_slice()));
        assert_eq!(v1.objects.len(), 1);
        let v2 = parse(
            Version::V2,
            json!({"_image": {"blob": "aGVsbG8", "format": "IMAGE"}}),
        )
        .unwrap();
        assert_eq!(v2.image.as_deref(), Some(b"hello".as_slice()));
        let bad = parse(Version::V1, json!({"$image": "not base64!"}))
            .err()
            .unwrap();
        assert_eq!(bad.info, BAD_BASE64);
        assert!(parse(Version::V1, json!({})).unwrap().image.is_none());
        assert!(
            parse(
                Version::V2,
                json!({"_image": {"blob": "", "format": "NDARRAY"}})
            )
            .is_err()
        );
        assert_eq!(Version::V1.enum_text("male"), "MALE");
    }

    #[test]
    fn v1_fitter_keypoints_give_five_points() {
        let keypoints: Vec<f64> = (0..21)
            .flat_map(|i| [i as f64, 100.0 + i as f64, 0.0])
            .collect();
        let object = json!({"bbox": [0.1, 0.2, 0.5, 0.6], "fitter": {"keypoints": keypoints}});
        let region = face_region(0, &object, Version::V1).unwrap();
        let xs: Vec<f32> = region.landmarks.iter().map(|p| p.x).collect();
        assert_eq!(xs, [7.0, 10.0, 14.0, 17.0, 19.0]);
        assert!(face_region(0, &json!({"class": "face"}), Version::V1).is_err());
        assert!(is_face(&json!({"id": 0})) && !is_face(&json!({"class": "body"})));
    }
}
