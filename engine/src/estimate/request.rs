//! Reading an `EstimateRequest`: which estimators it names, and the face regions it gives (normalised `bbox` as
//! the spec, or a pixel `box`, with optional five points).

use faceserve_proto::v1 as pb;
use faceserve_vision::estimate::FaceRegion;

use crate::ApiError;

/// The estimators a request asked for.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Wanted {
    pub face_detection: bool,
    pub body: bool,
    pub keypoints: bool,
    pub pose: bool,
    pub age: bool,
    pub gender: bool,
    pub emotion: bool,
    pub liveness: bool,
    pub mask: bool,
    pub quality: bool,
    pub template: bool,
    pub deepfake: bool,
}

impl Wanted {
    pub fn parse(estimators: &[i32]) -> Result<Self, ApiError> {
        use pb::Estimator as E;
        if estimators.is_empty() {
            return Err(ApiError::invalid(
                "estimators is empty: name at least one estimator (e.g. ESTIMATOR_AGE)",
            ));
        }
        let mut w = Self::default();
        for &value in estimators {
            let flag = match E::try_from(value) {
                Ok(E::FaceDetection) => &mut w.face_detection,
                Ok(E::BodyDetection) => &mut w.body,
                Ok(E::Keypoints) => &mut w.keypoints,
                Ok(E::Pose) => &mut w.pose,
                Ok(E::Age) => &mut w.age,
                Ok(E::Gender) => &mut w.gender,
                Ok(E::Emotion) => &mut w.emotion,
                Ok(E::Liveness) => &mut w.liveness,
                Ok(E::Mask) => &mut w.mask,
                Ok(E::Quality) => &mut w.quality,
                Ok(E::Template) => &mut w.template,
                Ok(E::Deepfake) => &mut w.deepfake,
                Ok(E::Unspecified) | Err(_) => {
                    return Err(ApiError::invalid(format!(
                        "estimator {value} is not a known Estimator (race is not offered: EU AI Act art. 5(1)(g))"
                    )));
                }
            };
            *flag = true;
        }
        Ok(w)
    }

    /// An estimator that needs a face (a photo without one is error 5).
    pub fn needs_face(&self) -> bool {
        self.keypoints
            || self.pose
            || self.age
            || self.gender
            || self.emotion
            || self.liveness
            || self.mask
            || self.quality
            || self.template
            || self.deepfake
    }

    /// Any estimator that works on faces, face detection included.
    pub fn any_face(&self) -> bool {
        self.face_detection || self.needs_face()
    }
}

/// A face to estimate and its detector confidence (0 for a face the caller gave).
#[derive(Debug, Clone, Copy)]
pub(super) struct Region {
    pub face: FaceRegion,
    pub score: f32,
}

/// The caller's face regions in pixels of a `width` x `height` photo.
pub(super) fn regions(
    faces: &[pb::FaceRegion],
    width: u32,
    height: u32,
) -> Result<Vec<Region>, ApiError> {
    faces
        .iter()
        .enumerate()
        .map(|(i, f)| {
            region(f, width as f32, height as f32)
                .map(|face| Region { face, score: 0.0 })
                .map_err(|why| ApiError::invalid(format!("faces[{i}]: {why}")))
        })
        .collect()
}

fn region(f: &pb::FaceRegion, width: f32, height: f32) -> Result<FaceRegion, String> {
    let bbox = match (f.bbox.as_slice(), &f.r#box) {
        (&[x1, y1, x2, y2], None) => {
            if ![x1, y1, x2, y2]
                .iter()
                .all(|v| v.is_finite() && (-1.0..=2.0).contains(v))
            {
                return Err(format!(
                    "bbox {:?} is not normalised (0..1 of the image)",
                    f.bbox
                ));
            }
            [x1 * width, y1 * height, x2 * width, y2 * height]
        }
        ([], Some(b)) => [
            b.x as f32,
            b.y as f32,
            (b.x + b.w) as f32,
            (b.y + b.h) as f32,
        ],
        ([], None) => return Err("give bbox (normalised) or box (pixels)".into()),
        (_, Some(_)) => return Err("give bbox or box, not both".into()),
        (other, None) => {
            return Err(format!(
                "bbox needs 4 values [x_min, y_min, x_max, y_max], got {}",
                other.len()
            ));
        }
    };
    if bbox[2] - bbox[0] < 1.0 || bbox[3] - bbox[1] < 1.0 {
        return Err(format!("the box {bbox:?} (pixels) is empty"));
    }
    if bbox[2] <= 0.0 || bbox[3] <= 0.0 || bbox[0] >= width || bbox[1] >= height {
        return Err(format!(
            "the box {bbox:?} (pixels) is outside the {width}x{height} image"
        ));
    }
    let landmarks = match f.landmarks.len() {
        0 => None,
        5 => {
            let mut points = [[0.0f32; 2]; 5];
            for (dst, p) in points.iter_mut().zip(&f.landmarks) {
                if !(p.x.is_finite() && p.y.is_finite()) {
                    return Err("landmarks must be finite".into());
                }
                *dst = [p.x, p.y];
            }
            Some(points)
        }
        n => return Err(format!("landmarks needs 5 points or none, got {n}")),
    };
    Ok(FaceRegion { bbox, landmarks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimators_are_parsed_and_unknown_ones_refused() {
        let w = Wanted::parse(&[
            pb::Estimator::Age as i32,
            pb::Estimator::BodyDetection as i32,
        ])
        .unwrap();
        assert!(w.age && w.body && !w.emotion && w.needs_face());
        assert!(
            !Wanted::parse(&[pb::Estimator::BodyDetection as i32])
                .unwrap()
                .any_face()
        );
        assert!(Wanted::parse(&[]).is_err());
        assert!(Wanted::parse(&[13]).unwrap_err().info.contains("race"));
    }

    #[test]
    fn normalised_and_pixel_boxes_give_the_same_region() {
        let normalised = pb::FaceRegion {
            bbox: vec![0.25, 0.5, 0.75, 1.0],
            ..Default::default()
        };
        let pixels = pb::FaceRegion {
            r#box: Some(pb::Box {
                x: 50,
                y: 50,
                w: 100,
                h: 50,
            }),
            ..Default::default()
        };
        let r = regions(&[normalised, pixels], 200, 100).unwrap();
        assert_eq!(r[0].face.bbox, [50.0, 50.0, 150.0, 100.0]);
        assert_eq!(r[1].face.bbox, r[0].face.bbox);
        assert!(r[0].face.landmarks.is_none());
    }

    #[test]
    fn bad_regions_are_refused_with_their_index() {
        let both = pb::FaceRegion {
            bbox: vec![0.0, 0.0, 1.0, 1.0],
            r#box: Some(pb::Box {
                x: 0,
                y: 0,
                w: 1,
                h: 1,
            }),
            ..Default::default()
        };
        let err = regions(&[both], 10, 10).unwrap_err();
        assert!(
            err.info.starts_with("faces[0]") && err.info.contains("not both"),
            "{err:?}"
        );
        let three = pb::FaceRegion {
            bbox: vec![0.0, 0.0, 1.0],
            ..Default::default()
        };
        assert!(regions(&[three], 10, 10).is_err());
    }
}
