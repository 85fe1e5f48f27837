//! Face and body estimators of the Image API: one module per model family, each an [`model::Estimator`] applying
//! the preprocessing its reference implementation used (crop, size, colour order, normalisation) around one ONNX
//! session, so a request only says which face and which model. [`registry`] names every runnable model and the
//! default of each estimator. Image statistics that need no model (sharpness, exposure, JPEG blockiness ...) live in
//! [`image_quality`].

pub mod age_gender;
pub mod blazepose;
pub mod body;
mod boxes;
pub mod emotion;
pub mod eyes;
mod family;
pub mod image_quality;
pub mod keypoints;
pub mod landmarks;
pub mod liveness;
pub mod mask;
pub mod masked_face;
pub mod model;
pub mod pose;
pub mod registry;
pub mod session;

use std::sync::Arc;

use image::RgbImage;

use crate::align::{Affine, warp_affine};
use crate::detect::Detection;
use crate::tensor::resize_region;

pub use family::EstimatorFamily;
pub use registry::{Capability, Loader};

/// A face to estimate, in image pixels: its box `[x1, y1, x2, y2]` and, when known, the five points (left eye, right
/// eye, nose, left and right mouth corners, "left" meaning the image's left).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceRegion {
    pub bbox: [f32; 4],
    pub landmarks: Option<[[f32; 2]; 5]>,
}

impl FaceRegion {
    pub fn center(&self) -> [f32; 2] {
        [
            (self.bbox[0] + self.bbox[2]) / 2.0,
            (self.bbox[1] + self.bbox[3]) / 2.0,
        ]
    }

    pub fn width(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }

    pub fn height(&self) -> f32 {
        self.bbox[3] - self.bbox[1]
    }

    /// Angle of the line from the left to the right eye (radians, image y pointing down); 0 without landmarks.
    pub fn eye_line_angle(&self) -> f32 {
        self.landmarks
            .map_or(0.0, |p| (p[1][1] - p[0][1]).atan2(p[1][0] - p[0][0]))
    }
}

impl From<&Detection> for FaceRegion {
    fn from(d: &Detection) -> Self {
        Self {
            bbox: d.bbox,
            landmarks: Some(d.landmarks),
        }
    }
}

/// One face of one photo, as every face estimator takes it. The photo is shared, so the faces of a frame cost one
/// decode.
#[derive(Debug, Clone)]
pub struct FaceJob {
    pub image: Arc<RgbImage>,
    pub face: FaceRegion,
}

impl FaceJob {
    /// A black 64x64 picture with a face box in the middle, for warming models up.
    pub fn blank() -> Self {
        Self {
            image: Arc::new(RgbImage::new(64, 64)),
            face: FaceRegion {
                bbox: [16.0, 16.0, 48.0, 48.0],
                landmarks: Some([
                    [24.0, 28.0],
                    [40.0, 28.0],
                    [32.0, 36.0],
                    [26.0, 42.0],
                    [38.0, 42.0],
                ]),
            },
        }
    }
}

/// The square of side `scale` x the longer box side around the box centre, resized to `size` x `size` (bilinear,
/// black outside the photo): the crop most attribute models were trained on.
pub fn square_crop(image: &RgbImage, face: &FaceRegion, scale: f32, size: u32) -> RgbImage {
    let [cx, cy] = face.center();
    let side = (face.width().max(face.height()) * scale).max(1.0) as f64;
    resize_region(
        image,
        (cx as f64 - side / 2.0, cy as f64 - side / 2.0, side, side),
        size,
        size,
    )
}

/// The affine map taking a square of side `side` centred on `center` and turned by `angle` (radians) onto a
/// `size` x `size` crop, as InsightFace's and MediaPipe's crop transforms build it.
pub fn centred_crop_transform(center: [f32; 2], side: f32, angle: f32, size: u32) -> Affine {
    let s = size as f64 / side.max(1.0) as f64;
    let (sin, cos) = (-(angle as f64)).sin_cos();
    let (a, b, c, d) = (s * cos, -s * sin, s * sin, s * cos);
    let (cx, cy) = (center[0] as f64, center[1] as f64);
    let half = size as f64 / 2.0;
    Affine([
        [a, b, half - (a * cx + b * cy)],
        [c, d, half - (c * cx + d * cy)],
    ])
}

/// The crop of [`centred_crop_transform`], sampled with the reference implementations' bilinear warp.
pub fn warped_crop(image: &RgbImage, transform: &Affine, size: u32) -> RgbImage {
    warp_affine(image, transform, size, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_crops_are_centred_on_the_box() {
        let mut img = RgbImage::new(100, 100);
        img.put_pixel(50, 50, image::Rgb([255, 255, 255]));
        let face = FaceRegion {
            bbox: [40.0, 45.0, 61.0, 56.0],
            landmarks: None,
        };
        let crop = square_crop(&img, &face, 1.0, 21);
        assert_eq!(crop.get_pixel(10, 10).0, [255, 255, 255]);
    }

    #[test]
    fn crop_transform_maps_the_centre_to_the_middle_and_turns_the_eye_line_level() {
        let m = centred_crop_transform([100.0, 50.0], 80.0, 0.3, 160);
        let mid = m.apply([100.0, 50.0]);
        assert!((mid[0] - 80.0).abs() < 1e-9 && (mid[1] - 80.0).abs() < 1e-9);
        // A point along the tilted eye line ends up level with the centre.
        let p = m.apply([100.0 + 10.0 * 0.3f64.cos(), 50.0 + 10.0 * 0.3f64.sin()]);
        assert!((p[1] - 80.0).abs() < 1e-4 && p[0] > 80.0, "{p:?}");
    }
}
