//! The estimator models faceserve can run: each manifest name, its family (which decides preprocessing and
//! decoding), the estimators it serves and how to load it, plus the default model of every estimator. Adding a
//! model is a family file in this folder implementing [`Estimator`](super::model::Estimator) and one row in
//! [`ROWS`].

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;

use super::FaceJob;
use super::age_gender::{AgeGender, AgeGenderEstimator};
use super::blazepose::BlazePoseEstimator;
use super::body::{BodyEstimator, Person};
use super::emotion::{EmotionEstimator, Emotions};
use super::eyes::{BlendshapeEstimator, FaceMesh, MeshEstimator};
pub use super::family::EstimatorFamily;
use super::landmarks::{LandmarkEstimator, Landmarks106};
use super::liveness::LivenessEstimator;
use super::mask::MaskEstimator;
use super::masked_face::{MaskedFaceBox, MaskedFaceEstimator};
use super::model::{BoxedModel, LoadSpec, load};
use super::pose::{HeadPose, PoseEstimator};
use crate::runtime::{Runtime, RuntimeError};

/// The estimators of the Image API that a configuration names a model for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Age,
    Gender,
    Emotion,
    Liveness,
    Mask,
    /// The 106 landmarks behind the spec's named keypoints (and the five points of faces given by a box).
    Keypoints,
    Pose,
    /// Eye openness: the face mesh, then its blendshape model.
    Eyes,
    Body,
}

impl Capability {
    pub const ALL: [Capability; 9] = [
        Self::Age,
        Self::Gender,
        Self::Emotion,
        Self::Liveness,
        Self::Mask,
        Self::Keypoints,
        Self::Pose,
        Self::Eyes,
        Self::Body,
    ];

    /// The name in settings (`estimators.<name>`), flags and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Gender => "gender",
            Self::Emotion => "emotion",
            Self::Liveness => "liveness",
            Self::Mask => "mask",
            Self::Keypoints => "keypoints",
            Self::Pose => "pose",
            Self::Eyes => "eyes",
            Self::Body => "body",
        }
    }

    /// The model used when the settings name none. Why each was chosen: docs/ACCURACY.md, "Estimators".
    pub fn default_model(self) -> &'static str {
        match self {
            // dlib's CC0 models come from PyPI, so age and gender work without a models mirror.
            Self::Age => "dlib_age_v1",
            Self::Gender => "dlib_gender_v1",
            Self::Emotion => "human_emotion",
            // The MiniFASNet models are mirror-only (GitHub) and evaluation-only; human_antispoof (npm, MIT package)
            // is the registry model that ranks the three samples right, though it judges both spoofs live.
            Self::Liveness => "human_antispoof",
            // The MobileNetV2 classifier found 103 of 174 masked faces against 74 for the masked-face detector.
            Self::Mask => "face_mask_mobilenetv2",
            Self::Keypoints => "2d106det",
            Self::Pose => "3ddfa_v2_mb1_120x120",
            Self::Eyes => "mp_face_landmarks_detector",
            // yolox_nano finds about three times as many people but is mirror-only (GitHub).
            Self::Body => "mp_pose_detection",
        }
    }
}

/// Loads a model file as a batcher model of known input and output.
pub type LoadFn<I, O> = fn(&Runtime, &Path, &LoadSpec) -> Result<BoxedModel<I, O>, RuntimeError>;

/// How a model is loaded, by what it answers.
#[derive(Clone, Copy)]
pub enum Loader {
    AgeGender(LoadFn<FaceJob, AgeGender>),
    Emotion(LoadFn<FaceJob, Emotions>),
    /// The probability that a face is live.
    Liveness(LoadFn<FaceJob, f32>),
    /// The probability that a face wears a mask, from its crop.
    MaskClassifier(LoadFn<FaceJob, f32>),
    /// Faces and masked faces found in a whole photo.
    MaskedFaces(LoadFn<Arc<RgbImage>, Vec<MaskedFaceBox>>),
    Landmarks(LoadFn<FaceJob, Landmarks106>),
    Pose(LoadFn<FaceJob, HeadPose>),
    Mesh(LoadFn<FaceJob, FaceMesh>),
    Blendshapes(LoadFn<Vec<f32>, Vec<f32>>),
    Body(LoadFn<Arc<RgbImage>, Vec<Person>>),
}

/// One runnable model.
pub struct Row {
    pub name: &'static str,
    pub family: EstimatorFamily,
    pub serves: &'static [Capability],
    pub loader: Loader,
    /// A second model that always runs after this one (the face mesh's blendshape model).
    pub companion: Option<&'static str>,
}

const fn row(
    name: &'static str,
    family: EstimatorFamily,
    serves: &'static [Capability],
    loader: Loader,
) -> Row {
    Row {
        name,
        family,
        serves,
        loader,
        companion: None,
    }
}

use Capability as C;
use EstimatorFamily as F;

pub const ROWS: &[Row] = &[
    row(
        "dlib_age_v1",
        F::DlibAge,
        &[C::Age],
        Loader::AgeGender(load::<AgeGenderEstimator>),
    ),
    row(
        "dlib_gender_v1",
        F::DlibGender,
        &[C::Gender],
        Loader::AgeGender(load::<AgeGenderEstimator>),
    ),
    row(
        "human_faceres",
        F::HseFaceres,
        &[C::Age, C::Gender],
        Loader::AgeGender(load::<AgeGenderEstimator>),
    ),
    row(
        "faceapi_age_gender",
        F::FaceApiAgeGender,
        &[C::Age, C::Gender],
        Loader::AgeGender(load::<AgeGenderEstimator>),
    ),
    row(
        "human_age",
        F::HumanAge,
        &[C::Age],
        Loader::AgeGender(load::<AgeGenderEstimator>),
    ),
    row(
        "human_gender",
        F::HumanGender,
        &[C::Gender],
        Loader::AgeGender(load::<AgeGenderEstimator>),
    ),
    row(
        "human_emotion",
        F::HumanEmotion,
        &[C::Emotion],
        Loader::Emotion(load::<EmotionEstimator>),
    ),
    row(
        "AntiSpoofing_bin_1.5_128",
        F::MiniFasNet { classes: 2 },
        &[C::Liveness],
        Loader::Liveness(load::<LivenessEstimator>),
    ),
    row(
        "AntiSpoofing_print-replay_1.5_128",
        F::MiniFasNet { classes: 3 },
        &[C::Liveness],
        Loader::Liveness(load::<LivenessEstimator>),
    ),
    row(
        "human_antispoof",
        F::HumanAntispoof,
        &[C::Liveness],
        Loader::Liveness(load::<LivenessEstimator>),
    ),
    row(
        "human_liveness",
        F::HumanLiveness,
        &[C::Liveness],
        Loader::Liveness(load::<LivenessEstimator>),
    ),
    row(
        "face_mask_mobilenetv2",
        F::MaskMobileNetV2,
        &[C::Mask],
        Loader::MaskClassifier(load::<MaskEstimator>),
    ),
    row(
        "RFB-640-masked_face-v2",
        F::MaskedFaceDetector,
        &[C::Mask],
        Loader::MaskedFaces(load::<MaskedFaceEstimator>),
    ),
    row(
        "2d106det",
        F::Landmarks106,
        &[C::Keypoints],
        Loader::Landmarks(load::<LandmarkEstimator>),
    ),
    row(
        "3ddfa_v2_mb1_120x120",
        F::Pose3ddfa,
        &[C::Pose],
        Loader::Pose(load::<PoseEstimator>),
    ),
    Row {
        companion: Some("mp_face_blendshapes"),
        ..row(
            "mp_face_landmarks_detector",
            F::FaceMesh,
            &[C::Eyes],
            Loader::Mesh(load::<MeshEstimator>),
        )
    },
    row(
        "mp_face_blendshapes",
        F::Blendshapes,
        &[],
        Loader::Blendshapes(load::<BlendshapeEstimator>),
    ),
    row(
        "yolox_nano",
        F::YoloxBody,
        &[C::Body],
        Loader::Body(load::<BodyEstimator>),
    ),
    row(
        "mp_pose_detection",
        F::BlazePoseBody,
        &[C::Body],
        Loader::Body(load::<BlazePoseEstimator>),
    ),
];

/// The row of model `name`.
pub fn find(name: &str) -> Option<&'static Row> {
    ROWS.iter().find(|row| row.name == name)
}

/// The names of the models that serve `capability`, for messages listing the choices.
pub fn models_for(capability: Capability) -> Vec<&'static str> {
    ROWS.iter()
        .filter(|row| row.serves.contains(&capability))
        .map(|row| row.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_is_in_the_manifest_and_every_default_serves_its_estimator() {
        let manifest = faceserve_models::Manifest::embedded();
        for row in ROWS {
            assert!(
                manifest.get(row.name).is_some(),
                "{} is not in models.toml",
                row.name
            );
            if let Some(companion) = row.companion {
                assert!(find(companion).is_some(), "{companion}");
            }
        }
        for capability in Capability::ALL {
            let default = find(capability.default_model()).expect("default model has a row");
            assert!(default.serves.contains(&capability), "{capability:?}");
            // A fresh machine has no mirror: every default (and its companion) must come from a package registry.
            for name in std::iter::once(default.name).chain(default.companion) {
                let source = &manifest.get(name).unwrap().source;
                assert!(
                    !matches!(
                        source,
                        faceserve_models::manifest::Source::MirrorOnly { .. }
                    ),
                    "the default {name} of {capability:?} is mirror-only"
                );
            }
        }
        assert!(find("w600k_mbf").is_none());
        let faceres = find("human_faceres").unwrap();
        assert!(faceres.serves.contains(&C::Age) && faceres.serves.contains(&C::Gender));
        assert_eq!(
            models_for(C::Mask),
            ["face_mask_mobilenetv2", "RFB-640-masked_face-v2"]
        );
    }
}
