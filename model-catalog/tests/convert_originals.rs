//! The converters on the real registry originals, offline: each converted entry of the manifest is made by the
//! fetch step from the copies in the mirror's `sources/` folder (`FACESERVE_MODELS_MIRROR`, else
//! `../shared/models` beside the checkout), must have the pinned sha256, and comes out byte-identical from a
//! second conversion in a fresh models folder.

use std::path::{Path, PathBuf};

use faceserve_models::manifest::Manifest;
use faceserve_models::{FetchError, FetchOptions, ensure_model, sha256_file};

fn mirror() -> PathBuf {
    let dir = faceserve_testkit::models_mirror();
    assert!(
        dir.join("sources").is_dir(),
        "registry originals not found in {}/sources: set FACESERVE_MODELS_MIRROR",
        dir.display()
    );
    dir
}

fn offline(models_dir: &Path, mirror: Option<PathBuf>) -> FetchOptions {
    FetchOptions {
        models_dir: models_dir.to_path_buf(),
        mirror,
        allow_network: false,
    }
}

#[test]
fn every_converted_model_is_made_from_its_original_with_the_pinned_sha256_twice_alike() {
    let mirror = mirror();
    let converted: Vec<_> = Manifest::embedded()
        .models
        .iter()
        .filter(|e| e.convert.is_some())
        .collect();
    assert!(
        converted.len() >= 10,
        "the converted entries are in the manifest"
    );
    let mut wrong = Vec::new();
    for entry in converted {
        let first = tempfile::tempdir().unwrap();
        let path = match ensure_model(&offline(first.path(), Some(mirror.clone())), &entry.name) {
            Ok(path) => path,
            Err(FetchError::Checksum { actual, .. }) => {
                wrong.push(format!("{}: converted sha256 {actual}", entry.name));
                continue;
            }
            Err(e) => panic!("{}: {e}", entry.name),
        };
        assert_eq!(sha256_file(&path).unwrap(), entry.sha256, "{}", entry.name);
        let second = tempfile::tempdir().unwrap();
        let again =
            ensure_model(&offline(second.path(), Some(mirror.clone())), &entry.name).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&again).unwrap(),
            "{}",
            entry.name
        );
        // The verified originals stay in the models folder: a lost ONNX file is made again without any mirror.
        std::fs::remove_file(&path).unwrap();
        let remade = ensure_model(&offline(first.path(), None), &entry.name).unwrap();
        assert_eq!(
            sha256_file(&remade).unwrap(),
            entry.sha256,
            "{}",
            entry.name
        );
    }
    assert!(
        wrong.is_empty(),
        "pin these in models.toml:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_converted_model_without_its_original_says_the_network_is_off() {
    let models = tempfile::tempdir().unwrap();
    let err = ensure_model(&offline(models.path(), None), "human_emotion").unwrap_err();
    assert!(matches!(err, FetchError::NetworkOff { .. }), "{err}");
}
