//! The default detector's dynamic-batch copy, made by the fetch step: a batch of four different photos gives the
//! detections the original graph gives one photo at a time, and the copy is derived again from the verified original
//! when it is missing or damaged.

mod support;

use faceserve_batcher::Model;
use faceserve_models::{FetchOptions, Manifest, ensure_model};
use faceserve_vision::decode::{DecodeLimits, ImageInput, decode_image};
use faceserve_vision::detect::{
    Detection, Detector, DetectorInput, DetectorKind, DetectorParams, letterbox_scale,
    prepare_input,
};
use image::RgbImage;
use support::{fetch_options, model, photo, runtime};

const DETECTOR: &str = "scrfd_2.5g_bnkps_640";

/// Photos of different sizes (so different letterbox scales and padding) with 1 to several faces.
const PHOTOS: [&str; 4] = [
    "face_recognition_examples/examples/knn_examples/test/obama_and_biden.jpg",
    "face_recognition_examples/examples/knn_examples/test/kit_with_rose.jpg",
    "faceapi_js_images/examples/images/bbt1.jpg",
    "faceapi_js_images/examples/images/amy/amy1.png",
];

fn input(image: &RgbImage, params: &DetectorParams) -> DetectorInput {
    let scale = letterbox_scale(image, 640, 640, params.max_upscale);
    prepare_input(image, DetectorKind::Scrfd, 640, 640, scale)
}

/// Bit-identical on the CPU provider (measured); the tolerance leaves room for GPU kernels chosen per batch size.
fn assert_same(a: &Detection, b: &Detection, photo: &str) {
    let close = |x: f32, y: f32, tolerance: f32| (x - y).abs() <= tolerance;
    assert!(close(a.score, b.score, 1e-5), "{photo}: {a:?} vs {b:?}");
    let points = a.bbox.iter().chain(a.landmarks.as_flattened());
    let other = b.bbox.iter().chain(b.landmarks.as_flattened());
    assert!(
        points.zip(other).all(|(x, y)| close(*x, *y, 1e-2)),
        "{photo}: {a:?} vs {b:?}"
    );
}

#[test]
fn a_batch_of_four_photos_detects_what_the_original_detects_one_at_a_time() {
    let runtime = runtime();
    let params = DetectorParams::default();
    let entry = Manifest::embedded().get(DETECTOR).unwrap();
    let patched = model(DETECTOR);
    assert_eq!(
        patched.file_name().unwrap().to_str(),
        entry.patch.as_ref().map(|p| p.file.as_str()),
        "ensure_model serves the patched copy"
    );
    let original = fetch_options().models_dir.join(&entry.file);

    let load = |path| Detector::load(&runtime, path, DetectorKind::Scrfd, params, 640, 4).unwrap();
    let mut one_at_a_time = load(&original);
    assert_eq!(
        one_at_a_time.max_batch_size(),
        1,
        "the original fixes batch 1"
    );
    let mut batched = load(&patched);
    assert_eq!(
        batched.max_batch_size(),
        4,
        "the copy takes the configured batch"
    );

    let limits = DecodeLimits::default();
    let images: Vec<RgbImage> = PHOTOS
        .iter()
        .map(|p| decode_image(ImageInput::Encoded(&photo(p)), &limits).unwrap())
        .collect();
    let expected: Vec<Vec<Detection>> = images
        .iter()
        .map(|image| {
            one_at_a_time
                .run(vec![input(image, &params)])
                .unwrap()
                .remove(0)
        })
        .collect();
    let together = batched
        .run(images.iter().map(|image| input(image, &params)).collect())
        .unwrap();

    assert_eq!(together.len(), PHOTOS.len());
    for ((photo, want), got) in PHOTOS.iter().zip(&expected).zip(&together) {
        assert!(!want.is_empty(), "{photo}: a face to compare");
        assert_eq!(want.len(), got.len(), "{photo}: {want:?} vs {got:?}");
        for (a, b) in want.iter().zip(got) {
            assert_same(a, b, photo);
        }
    }
    let faces: usize = together.iter().map(Vec::len).sum();
    assert!(faces >= 6, "{faces} faces in all");
}

#[test]
fn the_patched_copy_is_derived_from_the_verified_original_and_again_when_damaged() {
    let entry = Manifest::embedded().get(DETECTOR).unwrap();
    let patch = entry
        .patch
        .as_ref()
        .expect("the default detector is patched");
    // The workspace's model folder (filled from the mirror or PyPI) serves as the mirror of an empty one.
    model(DETECTOR);
    let models = tempfile::tempdir().unwrap();
    let opts = FetchOptions {
        models_dir: models.path().to_path_buf(),
        mirror: Some(fetch_options().models_dir),
        allow_network: false,
    };
    let sha256 = |path: &std::path::Path| faceserve_models::sha256_file(path).unwrap();

    let path = ensure_model(&opts, DETECTOR).unwrap();
    assert_eq!(path, models.path().join(&patch.file));
    assert_eq!(sha256(&path), patch.sha256);
    assert_eq!(
        sha256(&models.path().join(&entry.file)),
        entry.sha256,
        "the original is kept as it is"
    );

    std::fs::write(&path, b"damaged").unwrap();
    assert_eq!(ensure_model(&opts, DETECTOR).unwrap(), path);
    assert_eq!(sha256(&path), patch.sha256);
}
