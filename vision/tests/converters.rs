//! faceserve's own conversions (the manifest's `convert` entries, made by the fetch step from the registry
//! originals) against the mirror's hand-converted ONNX files of the same models, through ONNX Runtime on real faces:
//! every output must agree within 1e-5. The BlazePose detector has no mirror file: it must find the people of a
//! group photo. Both files are run with the settings the estimators use.

mod support;

use std::path::{Path, PathBuf};

use faceserve_vision::align::Affine;
use faceserve_vision::estimate::eyes::FaceMesh;
use image::imageops::FilterType;
use ort::session::Session;
use ort::value::Tensor;
use support::{model, runtime, testdata};

const TOLERANCE: f32 = 1e-5;

/// The mirror's hand-converted file (`FACESERVE_MODELS_MIRROR` or `../shared/models`).
fn mirror_file(file: &str) -> PathBuf {
    let mirror = faceserve_models::FetchOptions::default_mirror_from(&support::workspace_root())
        .expect("the mirror folder (../shared/models or FACESERVE_MODELS_MIRROR)");
    let path = mirror.join(file);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// `count` photos of `folder` (sorted by name), decoded as RGB.
fn photos(folder: &str, count: usize) -> Vec<image::RgbImage> {
    photos_ending(folder, &["jpg", "jpeg", "png"], count)
}

/// As [`photos`], of the files with one of `extensions`.
fn photos_ending(folder: &str, extensions: &[&str], count: usize) -> Vec<image::RgbImage> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join(folder))
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
        })
        .collect();
    files.sort();
    files
        .iter()
        .take(count)
        .map(|p| {
            image::open(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .to_rgb8()
        })
        .collect()
}

/// An input tensor's shape and values.
struct Input {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// NHWC batch of `images` resized to `size`, each pixel's RGB mapped to `channels` values by `pixel`.
fn batch(
    images: &[image::RgbImage],
    size: u32,
    channels: usize,
    pixel: impl Fn([f32; 3]) -> Vec<f32>,
) -> Input {
    let mut data = Vec::with_capacity(images.len() * (size * size) as usize * channels);
    for img in images {
        let resized = image::imageops::resize(img, size, size, FilterType::Triangle);
        for p in resized.pixels() {
            data.extend(pixel([p[0] as f32, p[1] as f32, p[2] as f32]));
        }
    }
    let shape = vec![images.len(), size as usize, size as usize, channels];
    Input { shape, data }
}

fn session(path: &Path) -> Session {
    runtime()
        .load_session(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every output of `session` on `input`, by name.
fn run(session: &mut Session, input: &Input) -> Vec<(String, Vec<f32>)> {
    let input_name = session.inputs()[0].name().to_string();
    let names: Vec<String> = session
        .outputs()
        .iter()
        .map(|o| o.name().to_string())
        .collect();
    let input = Tensor::from_array((input.shape.clone(), input.data.clone())).unwrap();
    let outputs = session
        .run(ort::inputs![input_name.as_str() => input])
        .unwrap();
    names
        .into_iter()
        .map(|name| {
            let values = outputs[name.as_str()]
                .try_extract_tensor::<f32>()
                .unwrap()
                .1
                .to_vec();
            (name, values)
        })
        .collect()
}

/// A converted model and the mirror's file of the same model, opened once.
struct Pair {
    name: &'static str,
    ours: Session,
    theirs: Session,
}

impl Pair {
    fn open(name: &'static str, mirror: &str) -> Self {
        Self {
            name,
            ours: session(&model(name)),
            theirs: session(&mirror_file(mirror)),
        }
    }

    /// The largest difference between the two on `input`; outputs are matched by name where the names agree,
    /// else by position.
    fn max_difference(&mut self, input: &Input) -> f32 {
        let name = self.name;
        let (a, b) = (run(&mut self.ours, input), run(&mut self.theirs, input));
        assert_eq!(a.len(), b.len(), "{name}: output count");
        let mut worst = 0.0f32;
        for (i, (out_name, values)) in a.iter().enumerate() {
            let reference = b.iter().find(|(n, _)| n == out_name).unwrap_or(&b[i]);
            assert_eq!(
                values.len(),
                reference.1.len(),
                "{name}: output {out_name} size"
            );
            for (x, y) in values.iter().zip(&reference.1) {
                assert!(x.is_finite(), "{name}: {out_name} is not finite");
                worst = worst.max((x - y).abs());
            }
        }
        worst
    }
}

fn max_difference(name: &'static str, mirror: &str, input: &Input) -> f32 {
    let worst = Pair::open(name, mirror).max_difference(input);
    println!(
        "{name}: {} inputs, max abs difference {worst:e}",
        input.shape[0]
    );
    worst
}

const GREY: fn([f32; 3]) -> Vec<f32> =
    |[r, g, b]| vec![((0.2989 * r + 0.587 * g + 0.114 * b) / 255.0 - 0.5) * 2.0];

#[test]
fn tfjs_conversions_match_the_mirror_on_real_faces() {
    let faces = photos("utkface/images", 24);
    let fer = photos("fer2013/images/happy", 12);
    let unit = |[r, g, b]: [f32; 3]| vec![r / 255.0, g / 255.0, b / 255.0];
    let cases = [
        (
            "human_emotion",
            "human_emotion.onnx",
            batch(&fer, 64, 1, GREY),
        ),
        (
            "human_gender",
            "human_gender.onnx",
            batch(&faces, 64, 1, GREY),
        ),
        (
            "human_age",
            "human_age.onnx",
            batch(&faces, 64, 3, |p| p.to_vec()),
        ),
        (
            "human_antispoof",
            "human_antispoof.onnx",
            batch(&faces, 128, 3, unit),
        ),
        (
            "human_liveness",
            "human_liveness.onnx",
            batch(&faces, 32, 3, unit),
        ),
        (
            "human_faceres",
            "human_faceres.onnx",
            batch(&faces, 224, 3, |[r, g, b]| {
                vec![b - 103.939, g - 116.779, r - 123.68]
            }),
        ),
    ];
    for (name, mirror, input) in &cases {
        let worst = max_difference(name, mirror, input);
        assert!(worst <= TOLERANCE, "{name}: {worst}");
    }
}

#[test]
fn keras_mask_conversion_matches_the_mirror_on_real_faces() {
    let mut images = photos("utkface/images", 16);
    // The masked photos named .jpeg (one .jpg there is a WebP, which faceserve does not decode).
    images.extend(photos_ending(
        "ultraface_crowd_imgs/masked_face/imgs",
        &["jpeg"],
        8,
    ));
    let input = batch(&images, 224, 3, |p| {
        p.iter().map(|v| v / 127.5 - 1.0).collect()
    });
    let worst = max_difference(
        "face_mask_mobilenetv2",
        "face_mask_mobilenetv2.onnx",
        &input,
    );
    assert!(worst <= TOLERANCE, "{worst}");
}

#[test]
fn tflite_face_landmarker_conversions_match_the_mirror_on_real_faces() {
    let faces = photos("utkface/images", 12);
    let input = batch(&faces, 256, 3, |p| p.iter().map(|v| v / 255.0).collect());
    let worst = max_difference(
        "mp_face_landmarks_detector",
        "mp_face_landmarks_detector.onnx",
        &input,
    );
    assert!(worst <= TOLERANCE, "{worst}");
    // The blendshape model (batch fixed at 1) on the 146 mesh points of each face.
    let mut mesh = session(&model("mp_face_landmarks_detector"));
    let meshes = run(&mut mesh, &input);
    let points = &meshes
        .iter()
        .find(|(n, _)| n == "Identity")
        .expect("mesh output Identity")
        .1;
    let mut blendshapes = Pair::open("mp_face_blendshapes", "mp_face_blendshapes.onnx");
    let mut worst = 0.0f32;
    for face in points.chunks_exact(478 * 3) {
        let mesh = FaceMesh {
            points: face.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
            to_image: Affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        };
        let one = Input {
            shape: vec![1, 146, 2],
            data: mesh.blendshape_input(),
        };
        worst = worst.max(blendshapes.max_difference(&one));
    }
    println!(
        "mp_face_blendshapes: {} faces, max abs difference {worst:e}",
        faces.len()
    );
    assert!(worst <= TOLERANCE, "blendshapes: {worst}");
}

#[test]
fn blazepose_detector_finds_people_on_a_group_photo() {
    let path = testdata().join("faceapi_js_images/examples/images/bbt1.jpg");
    let group = vec![
        image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8(),
    ];
    let input = batch(&group, 224, 3, |p| {
        p.iter().map(|v| v / 127.5 - 1.0).collect()
    });
    let mut detector = session(&model("mp_pose_detection"));
    let outputs = run(&mut detector, &input);
    let (boxes, logits) = (&outputs[0], &outputs[1]);
    assert_eq!((boxes.0.as_str(), boxes.1.len()), ("Identity", 2254 * 12));
    assert_eq!((logits.0.as_str(), logits.1.len()), ("Identity_1", 2254));
    let confident = logits.1.iter().filter(|&&l| l > 0.0).count();
    println!("mp_pose_detection: {confident} anchors with score > 0.5");
    assert!(confident > 0, "no person found on the group photo");
}
