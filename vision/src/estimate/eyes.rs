//! Eye openness from MediaPipe's face landmarker: the 478-point mesh (`mp_face_landmarks_detector`), then the
//! blendshape model (`mp_face_blendshapes`) on 146 of its points.
//!
//! Reference preprocessing (MediaPipe's face landmarker graph): a square of 1.5 x the face box turned upright by
//! the eye line, 256x256 RGB 0..1 interleaved; the mesh comes back in crop pixels, and the blendshape model takes the
//! x, y of the fixed 146-point subset of `face_blendshapes_graph.cc`. MediaPipe names blendshapes from the subject's
//! side: `eyeBlinkRight` (index 10) is the eye on the image's left (checked by covering one eye of a photo).

use super::model::{Estimator, LoadSpec, unexpected_input, wrong_output_len};
use super::session::EstimatorSession;
use super::{FaceJob, centred_crop_transform, warped_crop};
use crate::align::Affine;
use crate::tensor::{ChannelOrder, PixelNorm, fill_hwc};

const SIDE: u32 = 256;
const CROP_SCALE: f32 = 1.5;
const MESH_POINTS: usize = 478;
const UNIT: PixelNorm = PixelNorm::new(ChannelOrder::Rgb, 0.0, 255.0);
const BLINK_SUBJECT_LEFT: usize = 9;
const BLINK_SUBJECT_RIGHT: usize = 10;

/// The mesh points the blendshape model reads (MediaPipe's `kLandmarksSubsetIdxs`).
const BLENDSHAPE_SUBSET: [usize; 146] = [
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65,
    66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136,
    144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172,
    173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283,
    284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324,
    332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385,
    386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472,
    473, 474, 475, 476, 477,
];

/// The face mesh of one face, in the pixels of its upright 256x256 crop.
#[derive(Debug, Clone)]
pub struct FaceMesh {
    pub points: Vec<[f32; 3]>,
    /// Crop pixels to image pixels.
    pub to_image: Affine,
}

impl FaceMesh {
    /// The blendshape model's input: x, y of the 146 subset points.
    pub fn blendshape_input(&self) -> Vec<f32> {
        BLENDSHAPE_SUBSET
            .iter()
            .flat_map(|&i| [self.points[i][0], self.points[i][1]])
            .collect()
    }
}

/// Openness of each eye, 0 (closed) to 1 (open): one minus MediaPipe's blink coefficient. "Left" is the image's
/// left, as everywhere in faceserve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EyeOpenness {
    pub left: f32,
    pub right: f32,
}

/// The openness of both eyes from the 52 blendshapes.
pub fn eye_openness(blendshapes: &[f32]) -> EyeOpenness {
    EyeOpenness {
        left: (1.0 - blendshapes[BLINK_SUBJECT_RIGHT]).clamp(0.0, 1.0),
        right: (1.0 - blendshapes[BLINK_SUBJECT_LEFT]).clamp(0.0, 1.0),
    }
}

/// MediaPipe's face mesh.
pub struct MeshEstimator {
    mesh_output: usize,
}

fn crop_transform(job: &FaceJob) -> Affine {
    let side = job.face.width().max(job.face.height()) * CROP_SCALE;
    centred_crop_transform(job.face.center(), side, job.face.eye_line_angle(), SIDE)
}

impl Estimator for MeshEstimator {
    type Input = FaceJob;
    type Output = FaceMesh;

    fn for_graph(session: &EstimatorSession, _: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [SIDE as usize, SIDE as usize, 3] {
            return Err(unexpected_input(session, "256x256 RGB"));
        }
        Ok(Self {
            mesh_output: session.output_index("Identity")?,
        })
    }

    fn prepare(&self, job: &FaceJob, tensor: &mut [f32]) {
        fill_hwc(
            &warped_crop(&job.image, &crop_transform(job), SIDE),
            &UNIT,
            tensor,
        )
    }

    fn decode(&self, job: &FaceJob, outputs: &[Vec<f32>]) -> Result<FaceMesh, String> {
        let values = &outputs[self.mesh_output];
        if values.len() != 3 * MESH_POINTS {
            return Err(wrong_output_len("face mesh", values.len(), 3 * MESH_POINTS));
        }
        Ok(FaceMesh {
            points: values.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
            to_image: crop_transform(job)
                .inverse()
                .expect("a crop transform with a positive scale is invertible"),
        })
    }

    fn warm_up_input() -> FaceJob {
        FaceJob::blank()
    }
}

/// MediaPipe's blendshape model, on [`FaceMesh::blendshape_input`].
pub struct BlendshapeEstimator;

impl Estimator for BlendshapeEstimator {
    /// [`FaceMesh::blendshape_input`].
    type Input = Vec<f32>;
    /// The 52 blendshape coefficients.
    type Output = Vec<f32>;

    fn for_graph(session: &EstimatorSession, _: &LoadSpec) -> Result<Self, String> {
        if session.item_dims() != [BLENDSHAPE_SUBSET.len(), 2] {
            return Err(unexpected_input(session, "146 points"));
        }
        Ok(Self)
    }

    /// An input of another length (not a mesh subset) leaves the tensor at zero; `decode` refuses it.
    fn prepare(&self, input: &Vec<f32>, tensor: &mut [f32]) {
        if input.len() == tensor.len() {
            tensor.copy_from_slice(input);
        }
    }

    fn decode(&self, input: &Vec<f32>, outputs: &[Vec<f32>]) -> Result<Vec<f32>, String> {
        if input.len() != 2 * BLENDSHAPE_SUBSET.len() {
            return Err(wrong_output_len(
                "the blendshape input",
                input.len(),
                2 * BLENDSHAPE_SUBSET.len(),
            ));
        }
        Ok(outputs[0].clone())
    }

    fn warm_up_input() -> Vec<f32> {
        vec![128.0; 2 * BLENDSHAPE_SUBSET.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_s_right_blink_closes_the_image_left_eye() {
        let mut shapes = vec![0.0; 52];
        shapes[BLINK_SUBJECT_RIGHT] = 0.9;
        let eyes = eye_openness(&shapes);
        assert!(
            (eyes.left - 0.1).abs() < 1e-6 && eyes.right == 1.0,
            "{eyes:?}"
        );
    }

    #[test]
    fn the_subset_is_sorted_and_inside_the_mesh() {
        assert!(BLENDSHAPE_SUBSET.windows(2).all(|w| w[0] < w[1]));
        assert!(BLENDSHAPE_SUBSET.iter().all(|&i| i < MESH_POINTS));
    }
}
