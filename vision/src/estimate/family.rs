//! The estimator model families faceserve implements: a family decides a model's preprocessing and decoding.

/// The model families faceserve implements.
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
    /// MediaPipe's BlazePose detector: persons, their extent from the hip and scale keypoints.
    BlazePoseBody,
}
