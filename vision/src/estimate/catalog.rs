//! Which manifest models faceserve can run as estimators, and what each one estimates. A model is named in the
//! configuration; its family decides the preprocessing and the decoding.

/// The estimator model families faceserve implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimatorFamily {
    /// dlib's age predictor (CC0): 64x64 crop, 81 age bins.
    DlibAge,
    /// dlib's gender classifier (CC0): 32x32 crop, (female, male).
    DlibGender,
    /// HSE faceres (human_faceres): age and gender from one 224x224 crop.
    HseFaceres,
    /// face-api.js AgeGenderNet: age and gender from one 112x112 crop (trained on 80% of UTKFace).
    FaceApiAgeGender,
    /// SSR-Net age (human_age).
    HumanAge,
    /// oarriaga gender (human_gender).
    HumanGender,
    /// oarriaga mini-Xception on FER2013 (human_emotion).
    HumanEmotion,
    /// MiniFASNet anti-spoofing of hairymax/Face-AntiSpoofing: `classes` = 2 (live, spoof) or 3 (live, print,
    /// replay).
    MiniFasNet { classes: usize },
    /// human_antispoof: one "real" score.
    HumanAntispoof,
    /// human_liveness: (live, not live).
    HumanLiveness,
    /// MobileNetV2 mask classifier: (mask, no mask).
    MaskMobileNetV2,
    /// Ultra-Light RFB-640 detector of faces and masked faces.
    MaskedFaceDetector,
    /// InsightFace 2d106det: 106 landmarks.
    Landmarks106,
    /// 3DDFA_V2 MobileNet: 3DMM parameters, head pose.
    Pose3ddfa,
    /// MediaPipe face landmarker: 478 mesh points.
    FaceMesh,
    /// MediaPipe blendshapes: 52 expression coefficients from 146 mesh points.
    Blendshapes,
    /// YOLOX-Nano on COCO: persons.
    YoloxBody,
}

impl EstimatorFamily {
    pub fn estimates_age(self) -> bool {
        matches!(
            self,
            Self::DlibAge | Self::HseFaceres | Self::FaceApiAgeGender | Self::HumanAge
        )
    }

    pub fn estimates_gender(self) -> bool {
        matches!(
            self,
            Self::DlibGender | Self::HseFaceres | Self::FaceApiAgeGender | Self::HumanGender
        )
    }

    pub fn estimates_liveness(self) -> bool {
        matches!(
            self,
            Self::MiniFasNet { .. } | Self::HumanAntispoof | Self::HumanLiveness
        )
    }
}

/// The family of manifest model `name`, when faceserve can run it as an estimator.
pub fn family_of(name: &str) -> Option<EstimatorFamily> {
    use EstimatorFamily as F;
    Some(match name {
        "dlib_age_v1" => F::DlibAge,
        "dlib_gender_v1" => F::DlibGender,
        "human_faceres" => F::HseFaceres,
        "faceapi_age_gender" => F::FaceApiAgeGender,
        "human_age" => F::HumanAge,
        "human_gender" => F::HumanGender,
        "human_emotion" => F::HumanEmotion,
        "AntiSpoofing_bin_1.5_128" => F::MiniFasNet { classes: 2 },
        "AntiSpoofing_print-replay_1.5_128" => F::MiniFasNet { classes: 3 },
        "human_antispoof" => F::HumanAntispoof,
        "human_liveness" => F::HumanLiveness,
        "face_mask_mobilenetv2" => F::MaskMobileNetV2,
        "RFB-640-masked_face-v2" => F::MaskedFaceDetector,
        "2d106det" => F::Landmarks106,
        "3ddfa_v2_mb1_120x120" => F::Pose3ddfa,
        "mp_face_landmarks_detector" => F::FaceMesh,
        "mp_face_blendshapes" => F::Blendshapes,
        "yolox_nano" => F::YoloxBody,
        _ => return None,
    })
}

/// Every estimator model name, for messages listing the choices.
pub const ESTIMATOR_MODELS: &[&str] = &[
    "dlib_age_v1",
    "dlib_gender_v1",
    "human_faceres",
    "faceapi_age_gender",
    "human_age",
    "human_gender",
    "human_emotion",
    "AntiSpoofing_bin_1.5_128",
    "AntiSpoofing_print-replay_1.5_128",
    "human_antispoof",
    "human_liveness",
    "face_mask_mobilenetv2",
    "RFB-640-masked_face-v2",
    "2d106det",
    "3ddfa_v2_mb1_120x120",
    "mp_face_landmarks_detector",
    "mp_face_blendshapes",
    "yolox_nano",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_estimator_model_is_in_the_manifest_and_has_a_family() {
        let manifest = faceserve_models::Manifest::embedded();
        for name in ESTIMATOR_MODELS {
            assert!(manifest.get(name).is_some(), "{name} is not in models.toml");
            assert!(family_of(name).is_some(), "{name}");
        }
        assert!(family_of("w600k_mbf").is_none());
        assert!(family_of("human_faceres").unwrap().estimates_age());
        assert!(family_of("human_faceres").unwrap().estimates_gender());
        assert!(!family_of("dlib_age_v1").unwrap().estimates_gender());
    }
}
