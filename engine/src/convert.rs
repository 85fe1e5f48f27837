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
/// Longest piece of a client's value an error message repeats: enough to recognise it, never enough to push a
/// gRPC status past the 8-16 KiB header limits of the C-core clients (which then lose the whole detail).
pub const MAX_ECHO_CHARS: usize = 64;
const MAX_METADATA_ENTRIES: usize = 32;
const MAX_METADATA_BYTES: usize = 1024;

/// A new transaction id for every request, as the spec's `transactionId`.
pub fn transaction_id() -> String {
    Uuid::new_v4().to_string()
}

/// A client's value as an error message quotes it: Debug-quoted, cut to [`MAX_ECHO_CHARS`] characters with the
/// full length said.
pub fn echo(value: &str) -> String {
    let count = value.chars().count();
    if count <= MAX_ECHO_CHARS {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(MAX_ECHO_CHARS).collect();
    format!("{head:?}... ({count} characters)")
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
            "gallery name {} is invalid: use 1-{MAX_GALLERY_NAME} characters of A-Z, a-z, 0-9, '_', '-', '.'",
            echo(name)
        )));
    }
    Ok(name.to_string())
}

/// A template id in its one canonical spelling, the lower-case hyphenated UUID that answers carry: other spellings
/// (upper case, `{braces}`, `urn:uuid:`, no hyphens) are refused rather than rewritten, so a client keyed on its
/// own string always finds its template under that string.
pub fn template_id(id: &str) -> Result<Uuid, ApiError> {
    let uuid = Uuid::parse_str(id)
        .map_err(|_| ApiError::invalid(format!("templateId {} is not a UUID", echo(id))))?;
    let canonical = uuid.hyphenated().to_string();
    if canonical != id {
        return Err(ApiError::invalid(format!(
            "templateId {} is not in canonical form: write it as {canonical:?} (lower case, hyphenated, no braces)",
            echo(id)
        )));
    }
    Ok(uuid)
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
            "metadata entry {}: keys must be non-empty and keys and values at most {MAX_METADATA_BYTES} bytes",
            echo(k)
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
    fn echoed_values_are_cut() {
        assert_eq!(echo("staff"), "\"staff\"");
        let long = echo(&"x".repeat(10_000));
        assert!(long.len() < 100, "{long}");
        assert!(long.ends_with("(10000 characters)"), "{long}");
        let error = gallery_name(&"é".repeat(10_000)).unwrap_err();
        assert!(error.info.len() < 300, "{}", error.info);
    }

    #[test]
    fn only_the_canonical_spelling_of_a_template_id_is_accepted() {
        let id = "abb462cf-313f-448c-8dad-bcffbf61a825";
        assert_eq!(template_id(id).unwrap().to_string(), id);
        for other in [
            "ABB462CF-313F-448C-8DAD-BCFFBF61A825",
            "{abb462cf-313f-448c-8dad-bcffbf61a825}",
            "urn:uuid:abb462cf-313f-448c-8dad-bcffbf61a825",
            "abb462cf313f448c8dadbcffbf61a825",
        ] {
            let error = template_id(other).unwrap_err();
            assert_eq!(error.code, pb::ErrorCode::InvalidArgument, "{other}");
            assert!(error.info.contains(id), "{}", error.info);
        }
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
