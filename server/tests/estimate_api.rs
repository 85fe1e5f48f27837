//! The Image API through gRPC on real photos: each estimator with an assertion a regression would break, the
//! spec's error for a photo without a face, only the requested models running (read from /metrics), face regions
//! given by the caller, templates that Verify accepts, and estimators without a model answering "not available".

mod common;
mod estimate_support;

use common::{encoded, engine_code, photo, workspace_root};
use estimate_support::{
    BareServer, estimate, estimate_at, inference_items, mirrored, request, start,
};
use faceserve_proto::v1 as pb;
use pb::Estimator as E;

const IMAGES: &str = "faceapi_js_images/examples/images";
const OBAMA: &str = "face_recognition_examples/examples/knn_examples/test/obama1.jpg";

#[tokio::test]
async fn each_face_estimator_answers_on_real_photos() {
    let server = start(&[]).await;
    // Emotion: the smiling photo is happy, with all seven of the spec's expressions.
    let happy = estimate(
        &server,
        request(
            encoded(photo(&format!("{IMAGES}/happy.jpg"))),
            &[E::Emotion],
        ),
    )
    .await
    .unwrap();
    let face = &happy.faces[0];
    assert_eq!(face.emotion, pb::Emotion::Happy as i32, "{face:?}");
    assert_eq!(face.emotions.len(), 7);
    assert!(face.emotion_confidence > 0.5 && face.age.is_none() && face.pose.is_none());

    // Gender on the two people of face_recognition's examples.
    let obama = estimate(
        &server,
        request(encoded(photo(OBAMA)), &[E::Gender, E::Age]),
    )
    .await
    .unwrap();
    assert_eq!(
        obama.faces[0].gender,
        pb::Gender::Male as i32,
        "{:?}",
        obama.faces[0]
    );
    let rose = "face_recognition_examples/examples/knn_examples/train/rose_leslie/img1.jpg";
    let rose = estimate(&server, request(encoded(photo(rose)), &[E::Gender]))
        .await
        .unwrap();
    assert_eq!(
        rose.faces[0].gender,
        pb::Gender::Female as i32,
        "{:?}",
        rose.faces[0]
    );
    // Age: a one-year-old reads as a child and person C (labelled 30) as an adult; the accuracy floors on UTKFace
    // are in vision/tests/estimate_accuracy.rs.
    let baby = "utkface/images/1_0_0_20161219140642920.jpg.chip.jpg";
    let age_of = async |path: &str| {
        let answer = estimate(&server, request(encoded(photo(path)), &[E::Age]))
            .await
            .unwrap();
        answer.faces[0].age.unwrap()
    };
    let (baby, adult) = (
        age_of(baby).await,
        age_of("compreface_samples/009_C.jpg").await,
    );
    assert!(baby < 6.0, "a one-year-old estimated {baby}");
    assert!(
        (20.0..=50.0).contains(&adult),
        "person C is labelled 30, estimated {adult}"
    );

    // Masks: the fifteen masked people of img1 (all 15 measured), not the unmasked amy.
    let masked = "ultraface_crowd_imgs/masked_face/imgs/img1.jpeg";
    let masked = estimate(&server, request(encoded(photo(masked)), &[E::Mask]))
        .await
        .unwrap();
    let with_mask = masked
        .faces
        .iter()
        .filter(|f| f.has_medical_mask.as_ref().unwrap().value)
        .count();
    assert!(
        masked.faces.len() == 15 && with_mask >= 14,
        "{with_mask} of {}",
        masked.faces.len()
    );
    let amy = estimate(
        &server,
        request(
            encoded(photo(&format!("{IMAGES}/amy/amy1.png"))),
            &[E::Mask],
        ),
    )
    .await
    .unwrap();
    assert!(!amy.faces[0].has_medical_mask.as_ref().unwrap().value);

    // Keypoints and pose: yaw and roll change sign on the mirrored photo; the named points are in order.
    let wanted = [E::Keypoints, E::Pose];
    let original = estimate(&server, request(encoded(photo(OBAMA)), &wanted))
        .await
        .unwrap();
    let flipped = estimate(&server, request(mirrored(OBAMA), &wanted))
        .await
        .unwrap();
    let (a, b) = (
        original.faces[0].pose.unwrap(),
        flipped.faces[0].pose.unwrap(),
    );
    assert!(a.yaw < -10.0 && b.yaw > 10.0, "{a:?} vs {b:?}");
    assert!(a.roll * b.roll < 0.0, "{a:?} vs {b:?}");
    let k = original.faces[0].keypoints.as_ref().unwrap();
    let x = |p: &Option<pb::Keypoint>| p.as_ref().unwrap().proj[0];
    let y = |p: &Option<pb::Keypoint>| p.as_ref().unwrap().proj[1];
    assert_eq!(k.fitter_type, "2d106det");
    assert!(
        x(&k.left_eye) < x(&k.right_eye) && y(&k.left_eye) < y(&k.nose) && y(&k.mouth) < y(&k.chin)
    );
    assert!(
        original.faces[0].landmarks_106.is_empty(),
        "106 points only on request"
    );
    let mut all_points = request(encoded(photo(OBAMA)), &[E::Keypoints]);
    all_points.include_landmarks_106 = true;
    let all_points = estimate(&server, all_points).await.unwrap();
    let points = &all_points.faces[0].landmarks_106;
    let face_box = all_points.faces[0].face.as_ref().unwrap().r#box.unwrap();
    assert_eq!(points.len(), 106);
    // In image pixels, within the face box widened by half (the chin and brows reach past the detector's box).
    let inside = |p: &pb::Point| {
        let (w, h) = (face_box.w as f32, face_box.h as f32);
        (face_box.x as f32 - w / 2.0..face_box.x as f32 + 1.5 * w).contains(&p.x)
            && (face_box.y as f32 - h / 2.0..face_box.y as f32 + 1.5 * h).contains(&p.y)
    };
    assert!(points.iter().all(inside), "{points:?} vs {face_box:?}");
}

#[tokio::test]
async fn liveness_is_reported_as_experimental() {
    let server = start(&[]).await;
    let live = "antispoof_minivision_samples/image_T1.jpg";
    let answer = estimate(&server, request(encoded(photo(live)), &[E::Liveness]))
        .await
        .unwrap();
    let l = answer.faces[0].liveness.as_ref().unwrap();
    assert!(l.experimental && l.model == "human_antispoof", "{l:?}");
    assert!((0.0..=1.0).contains(&l.confidence) && l.threshold == 0.5);
    let expected = if l.confidence >= 0.5 {
        pb::LivenessValue::Real
    } else {
        pb::LivenessValue::Fake
    };
    assert_eq!(l.value, expected as i32);
    // Add's check_liveness runs the same model; deepfake has none.
    let mut faces = server.client().await;
    let added = faces
        .add(pb::AddRequest {
            image: encoded(photo(live)),
            check_liveness: true,
            check_deepfake: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let analysis = added.face.unwrap();
    let check = analysis.liveness.unwrap();
    assert!(check.available && check.experimental && (check.score - l.confidence).abs() < 1e-4);
    let deepfake = analysis.deepfake.unwrap();
    assert!(!deepfake.available && deepfake.unavailable_reason.starts_with("not available"));
}

#[tokio::test]
async fn blur_raises_the_blur_score_and_lowers_sharpness() {
    let server = start(&[]).await;
    let sharp = image::load_from_memory(&photo(OBAMA)).unwrap().to_rgb8();
    let blurred = image::imageops::blur(&sharp, 6.0);
    let raw = |img: &image::RgbImage| {
        Some(pb::Image {
            source: Some(pb::image::Source::Raw(pb::RawImage {
                width: img.width(),
                height: img.height(),
                format: pb::PixelFormat::Rgb8 as i32,
                pixels: img.as_raw().clone(),
            })),
        })
    };
    let mut faces = server.client().await;
    // Identify refuses a missing gallery before any model runs: enrol someone first.
    faces
        .add(pb::AddRequest {
            image: encoded(photo(&format!("{IMAGES}/amy/amy1.png"))),
            gallery: "quality".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut quality_of = async |image| {
        let req = pb::IdentifyRequest {
            image,
            gallery: "quality".into(),
            include_quality: true,
            ..Default::default()
        };
        faces
            .identify(req)
            .await
            .unwrap()
            .into_inner()
            .face
            .unwrap()
            .quality
            .unwrap()
    };
    let a = quality_of(raw(&sharp)).await;
    let b = quality_of(raw(&blurred)).await;
    let (blur_a, blur_b) = (a.blur.unwrap(), b.blur.unwrap());
    assert!(
        blur_b.value > blur_a.value + 0.2,
        "{blur_a:?} -> {blur_b:?}"
    );
    assert!(blur_a.fine && !blur_b.fine);
    assert!(b.face_image_quality.unwrap().value < a.face_image_quality.unwrap().value);
    assert_eq!(a.gender, "male");
    assert!(a.yaw.is_some() && a.age.is_some() && a.left_eye_closed.is_some());

    let assess = |image| request(image, &[E::Quality]);
    let qa = estimate(&server, assess(raw(&sharp))).await.unwrap().faces[0]
        .quality
        .clone()
        .unwrap();
    let qb = estimate(&server, assess(raw(&blurred)))
        .await
        .unwrap()
        .faces[0]
        .quality
        .clone()
        .unwrap();
    assert!(
        qa.sharpness_score.unwrap() > qb.sharpness_score.unwrap() + 0.2,
        "{qa:?} {qb:?}"
    );
    assert_eq!(qa.is_sharp, Some(true));
    assert!(
        qa.not_computed
            .iter()
            .any(|r| r.starts_with("watermark: not available"))
    );
    assert!(qa.total_score > qb.total_score);
}

#[tokio::test]
async fn templates_given_by_box_verify_against_the_same_person() {
    let server = start(&[]).await;
    // The caller gives amy's face as a normalised box only: the keypoints model supplies the five points.
    let amy1 = photo(&format!("{IMAGES}/amy/amy1.png"));
    let detected = estimate(&server, request(encoded(amy1.clone()), &[E::FaceDetection]))
        .await
        .unwrap();
    let bbox = detected.faces[0].face.as_ref().unwrap().bbox.clone();
    let mut req = request(encoded(amy1), &[E::Template, E::Age]);
    req.faces = vec![pb::FaceRegion {
        bbox,
        ..Default::default()
    }];
    let answer = estimate(&server, req).await.unwrap();
    let template = answer.faces[0].template.clone().unwrap();
    assert_eq!(
        (template.model.as_str(), template.embedding.len()),
        ("w600k_mbf", 512)
    );
    assert_eq!(
        answer.faces[0].face.as_ref().unwrap().detection_score,
        0.0,
        "a given face has no score"
    );
    let verify = |other: &str| pb::VerifyRequest {
        a: Some(pb::FaceInput {
            source: Some(pb::face_input::Source::Template(template.clone())),
        }),
        b: Some(pb::FaceInput {
            source: Some(pb::face_input::Source::Image(
                encoded(photo(other)).unwrap(),
            )),
        }),
        ..Default::default()
    };
    let mut faces = server.client().await;
    let same = faces
        .verify(verify(&format!("{IMAGES}/amy/amy3.png")))
        .await
        .unwrap()
        .into_inner();
    let other = faces
        .verify(verify(&format!("{IMAGES}/raj/raj1.png")))
        .await
        .unwrap()
        .into_inner();
    assert!(
        same.verified && !other.verified,
        "{} vs {}",
        same.similarity,
        other.similarity
    );
}

#[tokio::test]
async fn only_the_requested_models_run_and_a_photo_without_a_face_is_error_5() {
    let server = start(&[]).await;
    let white = "faceapi_js_images/test/images/white.png";
    let err = estimate(&server, request(encoded(photo(white)), &[E::Age]))
        .await
        .unwrap_err();
    assert_eq!(engine_code(&err), pb::ErrorCode::NoFace);
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // Face detection alone, or persons alone, need no face.
    let none = estimate(&server, request(encoded(photo(white)), &[E::FaceDetection]))
        .await
        .unwrap();
    assert!(none.faces.is_empty());

    let amy = photo(&format!("{IMAGES}/amy/amy1.png"));
    let answer = estimate(&server, request(encoded(amy), &[E::Age]))
        .await
        .unwrap();
    assert!(answer.faces[0].age.is_some() && answer.faces[0].emotions.is_empty());
    assert!(inference_items(&server, "dlib_age_v1") >= 1.0);
    for model in [
        "human_emotion",
        "dlib_gender_v1",
        "2d106det",
        "yolox_nano",
        "AntiSpoofing_bin_1.5_128",
    ] {
        assert_eq!(
            inference_items(&server, model),
            0.0,
            "{model} ran for an age-only request"
        );
    }

    let group = estimate(
        &server,
        request(
            encoded(photo(&format!("{IMAGES}/bbt1.jpg"))),
            &[E::BodyDetection],
        ),
    )
    .await
    .unwrap();
    assert!(
        group.faces.is_empty() && group.bodies.len() >= 3,
        "{:?}",
        group.bodies
    );
    assert!(
        group
            .bodies
            .iter()
            .all(|b| b.bbox.len() == 4 && b.bbox.iter().all(|v| (0.0..=1.0).contains(v)))
    );
}

#[tokio::test]
async fn estimators_without_a_model_are_not_available() {
    // A models folder with only the detector, the recognizer and ONNX Runtime, an empty mirror, no downloads.
    let models = tempfile::tempdir().unwrap();
    let shared = workspace_root().join("models");
    for entry in ["scrfd_2.5g_bnkps_640.onnx", "w600k_mbf.onnx", "onnxruntime"] {
        std::os::unix::fs::symlink(shared.join(entry), models.path().join(entry)).unwrap();
    }
    let empty = tempfile::tempdir().unwrap();
    let server = BareServer::start(&[
        "--models-dir",
        models.path().to_str().unwrap(),
        "--models-mirror",
        empty.path().to_str().unwrap(),
        "--no-fetch",
        "--emotion-model",
        "",
    ])
    .await;
    let amy = || encoded(photo(&format!("{IMAGES}/amy/amy1.png")));
    for (estimator, words) in [
        (E::Age, "age has no model configured (dlib_age_v1 missing"),
        (
            E::Mask,
            "mask has no model configured (face_mask_mobilenetv2 missing",
        ),
        (E::Emotion, "emotion is switched off"),
        (E::Deepfake, "no deepfake model is configured"),
    ] {
        let err = estimate_at(&server.1, request(amy(), &[E::FaceDetection, estimator]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        let detail = faceserve_proto::error_detail_from_status(&err).unwrap();
        assert_eq!(detail.code(), pb::ErrorCode::NotAvailable);
        assert!(
            detail.info.starts_with("not available: ") && detail.info.contains(words),
            "{}",
            detail.info
        );
    }
    // Detection and templates need only the core models.
    let ok = estimate_at(&server.1, request(amy(), &[E::FaceDetection, E::Template]))
        .await
        .unwrap();
    assert!(ok.faces[0].template.is_some());
}
