//! Each estimator model in process, on real photos, with assertions a preprocessing mistake would break: the smiling
//! photo's top expression, masks on the masked photos only, the sign of yaw on a mirrored photo, the order of the
//! named keypoints, open eyes, persons on a group photo, the verdicts on the anti-spoofing samples.

#[path = "estimate_common/mod.rs"]
mod estimate_common;
mod support;

use estimate_common::{decode, estimator, face, faces_of, mirrored, pipeline};
use faceserve_batcher::Model;
use faceserve_vision::estimate::FaceJob;
use faceserve_vision::estimate::blazepose::BlazePoseEstimator;
use faceserve_vision::estimate::body::{BodyEstimator, Person};
use faceserve_vision::estimate::emotion::{EmotionEstimator, Expression};
use faceserve_vision::estimate::eyes::{BlendshapeEstimator, MeshEstimator, eye_openness};
use faceserve_vision::estimate::keypoints::{five_points, named_keypoints};
use faceserve_vision::estimate::landmarks::LandmarkEstimator;
use faceserve_vision::estimate::liveness::LivenessEstimator;
use faceserve_vision::estimate::mask::MaskEstimator;
use faceserve_vision::estimate::masked_face::{MaskedFaceBox, MaskedFaceEstimator, mask_of};
use faceserve_vision::estimate::model::BoxedModel;
use faceserve_vision::estimate::pose::PoseEstimator;
use image::RgbImage;
use std::sync::Arc;
use support::photo;

const EXPRESSIONS: &str = "faceapi_js_images/examples/images";

#[tokio::test]
async fn the_smiling_photo_is_happy_and_the_neutral_one_is_not() {
    let p = pipeline().await;
    let mut m = estimator::<EmotionEstimator>("human_emotion", 8);
    let happy = face(&p, &format!("{EXPRESSIONS}/happy.jpg")).await;
    let neutral = face(&p, &format!("{EXPRESSIONS}/neutral.jpg")).await;
    let out = m.run(vec![happy, neutral]).unwrap();
    println!("{out:?}");
    assert_eq!(out[0].top().0, Expression::Happy, "{:?}", out[0]);
    assert!(out[1].get(Expression::Happy) < 0.5, "{:?}", out[1]);
    let sum: f32 = out[0].0.iter().sum();
    assert!((sum - 1.0).abs() < 1e-3);
}

#[tokio::test]
async fn yaw_and_roll_flip_sign_on_a_mirrored_photo() {
    let p = pipeline().await;
    let mut m = estimator::<PoseEstimator>("3ddfa_v2_mb1_120x120", 1);
    // Obama looks to the image's right in this photo (the reference 3DDFA_V2 code gives yaw -19.7, roll 3.2).
    let original = face(
        &p,
        "face_recognition_examples/examples/knn_examples/test/obama1.jpg",
    )
    .await;
    let flipped = mirrored(&p, &original).await;
    let out = m.run(vec![original, flipped]).unwrap();
    println!("{out:?}");
    assert!((out[0].yaw - -19.7).abs() < 3.0, "{:?}", out[0]);
    assert!(out[1].yaw > 10.0, "{:?}", out[1]);
    assert!(out[0].roll > 0.0 && out[1].roll < 0.0, "{out:?}");
}

#[tokio::test]
async fn named_keypoints_sit_where_their_names_say() {
    let p = pipeline().await;
    let mut m = estimator::<LandmarkEstimator>("2d106det", 4);
    let job = face(
        &p,
        "face_recognition_examples/examples/knn_examples/test/obama1.jpg",
    )
    .await;
    let detected = job.face.landmarks.unwrap();
    let out = m.run(vec![job]).unwrap().remove(0);
    let named: std::collections::HashMap<_, _> = named_keypoints(&out.0).into_iter().collect();
    let x = |n: &str| named[n][0];
    let y = |n: &str| named[n][1];
    assert!(x("left_eye_left") < x("left_eye") && x("left_eye") < x("left_eye_right"));
    assert!(x("left_eye_right") < x("right_eye_left") && x("right_eye") < x("right_eye_right"));
    assert!(y("left_eye_brow_up") < y("left_eye") && y("left_eye") < y("nose"));
    assert!(y("nose") < y("mouth") && y("mouth") < y("chin"));
    assert!(x("mouth_left") < x("mouth") && x("mouth") < x("mouth_right"));
    assert!(x("left_ear_bottom") < x("nose_left") && x("nose_right") < x("right_ear_bottom"));
    // The five points derived from the 106 agree with the detector's within a few pixels of a 150-pixel eye gap.
    for (a, b) in five_points(&out.0).iter().zip(detected) {
        let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        assert!(d < 15.0, "{a:?} vs {b:?}");
    }
}

#[tokio::test]
async fn masks_are_found_on_the_masked_photos_only() {
    let p = pipeline().await;
    let mut detector = estimator::<MaskedFaceEstimator>("RFB-640-masked_face-v2", 1);
    let mut classifier = estimator::<MaskEstimator>("face_mask_mobilenetv2", 8);
    // Ten people in masks, photographed close up, and the eight unmasked people of the face-api.js set.
    let masked = faces_of(
        &p,
        decode(&p, photo("ultraface_crowd_imgs/masked_face/imgs/img2.jpeg")).await,
    )
    .await;
    let mut bare = Vec::new();
    for name in [
        "amy",
        "bernadette",
        "howard",
        "leonard",
        "penny",
        "raj",
        "sheldon",
        "stuart",
    ] {
        bare.push(face(&p, &format!("{EXPRESSIONS}/{name}/{name}1.png")).await);
    }
    assert_eq!(masked.len(), 10);
    let by_detector = |jobs: &[FaceJob],
                       m: &mut BoxedModel<Arc<RgbImage>, Vec<MaskedFaceBox>>|
     -> Vec<Option<f32>> {
        jobs.iter()
            .map(|j| mask_of(&m.run(vec![j.image.clone()]).unwrap()[0], &j.face))
            .collect()
    };
    let (m, b) = (
        by_detector(&masked, &mut detector),
        by_detector(&bare, &mut detector),
    );
    println!("detector: masked {m:?}, bare {b:?}");
    assert!(m.iter().all(|s| s.is_some_and(|s| s > 0.5)), "{m:?}");
    assert!(b.iter().all(|s| s.is_some_and(|s| s < 0.5)), "{b:?}");
    // The classifier is weaker on patterned and dark masks (7 of 10 measured) but never flags a bare face.
    let (m, b) = (
        classifier.run(masked).unwrap(),
        classifier.run(bare).unwrap(),
    );
    println!("classifier: masked {m:?}, bare {b:?}");
    assert!(m.iter().filter(|&&s| s > 0.5).count() >= 6, "{m:?}");
    assert!(b.iter().all(|&s| s < 0.5), "{b:?}");
}

#[tokio::test]
async fn open_eyes_read_as_open() {
    let p = pipeline().await;
    let mut mesh = estimator::<MeshEstimator>("mp_face_landmarks_detector", 4);
    let mut shapes = estimator::<BlendshapeEstimator>("mp_face_blendshapes", 4);
    let job = face(&p, "faceapi_js_images/examples/images/neutral.jpg").await;
    let m = mesh.run(vec![job.clone()]).unwrap().remove(0);
    // The mesh lands on the face: its eye corners near the detector's eyes.
    let to_image = |i: usize| {
        m.to_image
            .apply([m.points[i][0] as f64, m.points[i][1] as f64])
    };
    let [lx, _] = to_image(33);
    let eyes = job.face.landmarks.unwrap();
    assert!(
        lx < eyes[0][0] as f64 && (lx - eyes[0][0] as f64).abs() < 40.0,
        "{lx} vs {:?}",
        eyes[0]
    );
    let b = shapes.run(vec![m.blendshape_input()]).unwrap().remove(0);
    let open = eye_openness(&b);
    println!("{open:?}");
    assert!(open.left > 0.5 && open.right > 0.5, "{open:?}");
}

#[tokio::test]
async fn persons_on_a_group_photo() {
    let p = pipeline().await;
    let mut m = estimator::<BodyEstimator>("yolox_nano", 1);
    let image = decode(&p, photo("faceapi_js_images/examples/images/bbt1.jpg")).await;
    let faces = faces_of(&p, image.clone()).await.len();
    let persons = m.run(vec![image]).unwrap().remove(0);
    println!("{} persons, {faces} faces: {persons:?}", persons.len());
    assert!(persons.len() >= faces.saturating_sub(1) && persons.len() <= faces + 2);
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    ix * iy / (area(a) + area(b) - ix * iy)
}

#[tokio::test]
async fn blazepose_boxes_each_person_of_a_group_photo_around_their_face() {
    // Four people seated on a sofa: BlazePose finds all four (scores 0.77..0.96). Each person box holds its own
    // face, high in the box, and overlaps YOLOX-Nano's box of the same person; a wrong letterbox, anchor
    // order or keypoint order moves the boxes off the people.
    let p = pipeline().await;
    let image = decode(&p, photo("faceapi_js_images/examples/images/bbt1.jpg")).await;
    let faces: Vec<_> = faces_of(&p, image.clone()).await;
    let persons: Vec<Person> = estimator::<BlazePoseEstimator>("mp_pose_detection", 1)
        .run(vec![image.clone()])
        .unwrap()
        .remove(0);
    let yolox = estimator::<BodyEstimator>("yolox_nano", 1)
        .run(vec![image])
        .unwrap()
        .remove(0);
    println!("{persons:?}");
    assert_eq!((faces.len(), persons.len()), (4, 4), "{persons:?}");
    // The box is MediaPipe's square region of the whole body, so a neighbour's face on the sofa may fall inside it
    // too; each box's own face is the one nearest its vertical centre line, and the four people get four faces.
    let mut owned = Vec::new();
    for person in &persons {
        let b = person.bbox;
        let centre_x = (b[0] + b[2]) / 2.0;
        let (index, face) = faces
            .iter()
            .map(|f| f.face.bbox)
            .enumerate()
            .min_by(|(_, f), (_, g)| {
                let off = |r: &[f32; 4]| ((r[0] + r[2]) / 2.0 - centre_x).abs();
                off(f).total_cmp(&off(g))
            })
            .unwrap();
        let (x, y) = ((face[0] + face[2]) / 2.0, (face[1] + face[3]) / 2.0);
        assert!(
            b[0] <= x && x <= b[2] && b[1] <= y && y <= b[3],
            "{b:?} misses its face {face:?}"
        );
        owned.push(index);
        // The face sits in the top third of the box (the head is at the top of a body).
        assert!(y < b[1] + (b[3] - b[1]) / 3.0, "{b:?}, face at {y}");
        let best = yolox.iter().map(|y| iou(&y.bbox, &b)).fold(0.0, f32::max);
        assert!(best > 0.4, "{b:?}: best IoU with YOLOX-Nano {best}");
    }
    owned.sort();
    owned.dedup();
    assert_eq!(owned.len(), 4, "two boxes claim one face: {persons:?}");
}

#[tokio::test]
async fn blazepose_against_yolox_on_the_crowd_photos() {
    // The 24 crowd photos have no labels: each BlazePose person is compared with its best-overlapping YOLOX-Nano
    // person (docs/ACCURACY.md, "Body detection"). Measured at confidence 0.3: 74 BlazePose persons against 228,
    // median IoU 0.6.
    let p = pipeline().await;
    let dir = support::testdata().join("ultraface_crowd_imgs/imgs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut blazepose = estimator::<BlazePoseEstimator>("mp_pose_detection", 1);
    let mut yolox = estimator::<BodyEstimator>("yolox_nano", 1);
    let (mut found, mut found_yolox, mut ious) = (0, 0, Vec::new());
    for file in &files {
        let image = decode(&p, std::fs::read(file).unwrap()).await;
        let ours = blazepose.run(vec![image.clone()]).unwrap().remove(0);
        let theirs = yolox.run(vec![image]).unwrap().remove(0);
        found += ours.len();
        found_yolox += theirs.len();
        for person in &ours {
            ious.push(
                theirs
                    .iter()
                    .map(|y| iou(&y.bbox, &person.bbox))
                    .fold(0.0, f32::max),
            );
        }
    }
    ious.sort_by(f32::total_cmp);
    let median = ious.get(ious.len() / 2).copied().unwrap_or(0.0);
    let overlapping = ious.iter().filter(|&&i| i >= 0.5).count();
    println!(
        "{} photos: mp_pose_detection {found} persons, yolox_nano {found_yolox}; median best IoU {median:.2}, \
         {overlapping} of {found} at IoU >= 0.5",
        files.len()
    );
    assert!(found >= 50 && found_yolox >= 200, "{found} / {found_yolox}");
    assert!(median >= 0.5, "median IoU {median}");
}

#[tokio::test]
async fn minifasnet_tells_the_three_anti_spoofing_samples_apart() {
    // Three samples measure nothing about attacks (docs/ACCURACY.md); they do pin the crop and the normalisation:
    // measured live scores 0.001 and 0.012 for the spoofs, 1.000 for the live face.
    let p = pipeline().await;
    let name = "AntiSpoofing_bin_1.5_128";
    let mut m = estimator::<LivenessEstimator>(name, 4);
    let mut jobs = Vec::new();
    for sample in ["image_F1", "image_F2", "image_T1"] {
        jobs.push(face(&p, &format!("antispoof_minivision_samples/{sample}.jpg")).await);
    }
    let live = m.run(jobs).unwrap();
    println!("{live:?}");
    assert!(live[0] < 0.2 && live[1] < 0.2 && live[2] > 0.8, "{live:?}");
}
