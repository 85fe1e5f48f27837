//! Checking request fields and converting between protobuf messages and the engine's types.

use std::collections::{BTreeMap, HashMap};

use faceserve_index::FaceGeometry;
use faceserve_proto::v1 as pb;
use faceserve_vision::decode::PixelOrder;
use faceserve_vision::detect::Detection;
use faceserve_vision::pipeline::{FacePolicy, OwnedImage};
use uuid::Uuid;

use crate::ApiError;

pub const DEFAULT_GALLERY: &str = "default";
const MAX_GALLERY_NAME: usize = 64;
const MAX_METADATA_ENTRIES: usize = 32;
const MAX_METADATA_BYTES: usize = 1024;

/// A new transaction id for every request, as the spec's `transactionId`.
pub fn transaction_id() -> String {
    Uuid::new_v4().to_string()
}

/// The gallery a request names, "default" when empty.
pub fn gallery_name(name: &str) -> Result<String, ApiError> {
    if name.is_empty() {
        return Ok(DEFAULT_GALLERY.to_string());
    }
    let valid = name.len() <= MAX_GALLERY_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        return Err(ApiError::invalid(format!(
            "gallery name {name:?} is invalid: use 1-{MAX_GALLERY_NAME} characters of A-Z, a-z, 0-9, '_', '-', '.'"
        )));
    }
    Ok(name.to_string())
}

pub fn template_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::invalid(format!("templateId {id:?} is not a UUID")))
}

/// An optional template id: empty means "make one".
pub fn optional_template_id(id: &str) -> Result<Option<Uuid>, ApiError> {
    if id.is_empty() {
        Ok(None)
    } else {
        template_id(id).map(Some)
    }
}

pub fn owned_image(image: Option<pb::Image>) -> Result<OwnedImage, ApiError> {
    use pb::image::Source;
    Ok(match image.and_then(|i| i.source) {
        None => OwnedImage::Missing,
        Some(Source::Encoded(bytes)) => OwnedImage::Encoded(bytes),
        Some(Source::Raw(raw)) => {
            let order = match pb::PixelFormat::try_from(raw.format) {
                Ok(pb::PixelFormat::Rgb8) => PixelOrder::Rgb,
                Ok(pb::PixelFormat::Bgr8) => PixelOrder::Bgr,
                _ => {
                    return Err(ApiError::new(
                        pb::ErrorCode::InvalidRawImage,
                        "raw image: format must be PIXEL_FORMAT_RGB8 or PIXEL_FORMAT_BGR8",
                    ));
                }
            };
            OwnedImage::Raw {
                width: raw.width,
                height: raw.height,
                order,
                pixels: raw.pixels,
            }
        }
    })
}

pub fn face_policy(value: i32) -> Result<FacePolicy, ApiError> {
    match pb::FacePolicy::try_from(value) {
        Ok(pb::FacePolicy::Unspecified | pb::FacePolicy::Single) => Ok(FacePolicy::Single),
        Ok(pb::FacePolicy::Largest) => Ok(FacePolicy::Largest),
        Err(_) => Err(ApiError::invalid(format!(
            "face_policy {value} is not a known FacePolicy"
        ))),
    }
}

pub fn metadata(map: HashMap<String, String>) -> Result<BTreeMap<String, String>, ApiError> {
    if map.len() > MAX_METADATA_ENTRIES {
        return Err(ApiError::invalid(format!(
            "metadata has {} entries; at most {MAX_METADATA_ENTRIES} are allowed",
            map.len()
        )));
    }
    if let Some((k, _)) = map
        .iter()
        .find(|(k, v)| k.is_empty() || k.len() > MAX_METADATA_BYTES || v.len() > MAX_METADATA_BYTES)
    {
        return Err(ApiError::invalid(format!(
            "metadata entry {k:?}: keys must be non-empty and keys and values at most {MAX_METADATA_BYTES} bytes"
        )));
    }
    Ok(map.into_iter().collect())
}

/// A detection as the API's `Face`, in image pixels plus the box normalised by the image size.
pub fn face(d: &Detection, width: u32, height: u32) -> pb::Face {
    let [x1, y1, x2, y2] = d.bbox;
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    pb::Face {
        r#box: Some(pb::Box {
            x: x1.round() as i32,
            y: y1.round() as i32,
            w: (x2 - x1).round() as i32,
            h: (y2 - y1).round() as i32,
        }),
        landmarks: d
            .landmarks
            .iter()
            .map(|p| pb::Point { x: p[0], y: p[1] })
            .collect(),
        detection_score: d.score,
        bbox: vec![x1 / w, y1 / h, x2 / w, y2 / h],
    }
}

/// A stored template's face geometry as the API's `Face` (the source image size is not stored, so no `bbox`).
pub fn stored_face(g: &FaceGeometry) -> pb::Face {
    let [x, y, w, h] = g.bbox;
    pb::Face {
        r#box: Some(pb::Box {
            x: x.round() as i32,
            y: y.round() as i32,
            w: w.round() as i32,
            h: h.round() as i32,
        }),
        landmarks: g
            .landmarks
            .iter()
            .map(|p| pb::Point { x: p[0], y: p[1] })
            .collect(),
        detection_score: g.score,
        bbox: Vec::new(),
    }
}

pub fn geometry(d: &Detection) -> FaceGeometry {
    let [x1, y1, x2, y2] = d.bbox;
    FaceGeometry {
        bbox: [x1, y1, x2 - x1, y2 - y1],
        landmarks: d.landmarks,
        score: d.score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gallery_names_are_checked() {
        assert_eq!(gallery_name("").unwrap(), "default");
        assert_eq!(gallery_name("staff-2024.v1").unwrap(), "staff-2024.v1");
        assert!(gallery_name("a/b").is_err());
        assert!(gallery_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn template_ids_must_be_uuids() {
        assert!(optional_template_id("").unwrap().is_none());
        assert!(
            optional_template_id("abb462cf-313f-448c-8dad-bcffbf61a825")
                .unwrap()
                .is_some()
        );
        assert_eq!(
            template_id("nope").unwrap_err().code,
            pb::ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn raw_images_need_a_pixel_format() {
        let raw = pb::Image {
            source: Some(pb::image::Source::Raw(pb::RawImage {
                width: 1,
                height: 1,
                format: 0,
                pixels: vec![0, 0, 0],
            })),
        };
        assert_eq!(
            owned_image(Some(raw)).unwrap_err().code,
            pb::ErrorCode::InvalidRawImage
        );
        assert!(matches!(owned_image(None).unwrap(), OwnedImage::Missing));
    }
}
