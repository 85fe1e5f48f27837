use std::path::PathBuf;

use clap::Parser;

use super::flags::flag_names;
use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
}

fn parse(args: &[&str]) -> Overrides {
    Cli::try_parse_from(std::iter::once("faceserve").chain(args.iter().copied()))
        .unwrap()
        .overrides
}

#[test]
fn flags_beat_the_file_and_the_file_beats_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faceserve.toml");
    std::fs::write(
        &path,
        "data_dir = \"/srv/faces\"\n[detector]\nmax_batch = 4\n[recognizer]\nmax_batch = 32\n",
    )
    .unwrap();
    let overrides = parse(&[
        "--config",
        path.to_str().unwrap(),
        "--recognizer-max-batch",
        "2",
    ]);
    let s = overrides.resolve().unwrap();
    assert_eq!(s.engine.data_dir, PathBuf::from("/srv/faces"));
    assert_eq!(s.engine.detector.queue.max_batch, 4);
    assert_eq!(s.engine.detector.model, "scrfd_2.5g_bnkps_640");
    assert_eq!(s.engine.recognizer.queue.max_batch, 2);
    assert_eq!(s.grpc_addr, "127.0.0.1:50051".parse().unwrap());
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "grpc_adr = \"0.0.0.0:1\"\n").unwrap();
    let err = parse(&["--config", path.to_str().unwrap()])
        .resolve()
        .unwrap_err();
    assert!(err.to_string().contains("grpc_adr"), "{err}");
    std::fs::write(&path, "[detector]\nmax_bach = 4\n").unwrap();
    let err = parse(&["--config", path.to_str().unwrap()])
        .resolve()
        .unwrap_err();
    assert!(err.to_string().contains("detector.max_bach"), "{err}");
    let err = parse(&["--match-threshold", "3.0"]).resolve().unwrap_err();
    assert!(err.to_string().contains("threshold"), "{err}");
    let err = parse(&["--hnsw-m", "300"]).resolve().unwrap_err();
    assert!(err.to_string().contains("hnsw_m"), "{err}");
    let err = Cli::try_parse_from(["faceserve", "--detector-max-batch", "many"])
        .err()
        .unwrap();
    assert!(err.to_string().contains("--detector-max-batch"), "{err}");
}

#[test]
fn index_settings_reach_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faceserve.toml");
    std::fs::write(&path, "[index]\nhnsw_m = 32\nexact_max_templates = 5000\n").unwrap();
    let s = parse(&[
        "--config",
        path.to_str().unwrap(),
        "--hnsw-ef-search",
        "256",
    ])
    .resolve()
    .unwrap();
    let engine = s.engine.index.engine_config();
    assert_eq!(engine.exact_max_templates, 5000);
    assert_eq!(engine.hnsw.max_connections, 32);
    assert_eq!(engine.hnsw.ef_search, 256);
    assert_eq!(engine.hnsw.ef_construction, 200);
    assert_eq!(
        Settings::default().engine.index.engine_config().hnsw,
        faceserve_index::HnswParams::default()
    );
}

#[test]
fn the_index_engine_and_its_parameters_are_settings() {
    let s = parse(&[
        "--index-engine",
        "usearch",
        "--index-usearch-ef-search",
        "64",
        "--index-usearch-vectors",
        "b1",
        "--index-binary-rerank",
        "48",
    ])
    .resolve()
    .unwrap();
    let config = s.engine.index.engine_config();
    assert_eq!(config.engine, faceserve_index::IndexEngine::Usearch);
    assert_eq!(config.usearch.expansion_search, 64);
    assert_eq!(config.usearch.vectors, faceserve_index::UsearchVectors::B1);
    assert_eq!(config.binary.rerank, 48);
    let defaults = Settings::default().engine.index.engine_config();
    assert_eq!(defaults.engine, faceserve_index::IndexEngine::Auto);
    assert_eq!(defaults.usearch, faceserve_index::UsearchParams::default());
    assert!(parse(&["--index-engine", "faiss"]).resolve().is_err());
}

#[test]
fn every_setting_has_a_flag_and_the_old_flags_keep_their_names() {
    let names = flag_names();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "two settings share a flag");
    for old in [
        "grpc-addr",
        "http-addr",
        "auth",
        "insecure",
        "tls-cert",
        "tls-key",
        "metrics-addr",
        "data-dir",
        "models-dir",
        "models-mirror",
        "no-fetch",
        "log-format",
        "shutdown-grace-secs",
        "ort-library",
        "execution-provider",
        "device-id",
        "intra-threads",
        "detector-model",
        "detector-max-batch",
        "detector-workers",
        "detector-max-queue-delay-ms",
        "detector-queue-capacity",
        "detector-score-threshold",
        "recognizer-model",
        "recognizer-max-batch",
        "recognizer-workers",
        "recognizer-max-queue-delay-ms",
        "recognizer-queue-capacity",
        "match-threshold",
        "min-face-size",
        "stream-max-in-flight",
        "max-image-bytes",
        "max-image-pixels",
        "index-exact-max-templates",
        "hnsw-m",
        "hnsw-ef-construction",
        "hnsw-ef-search",
        "preload-estimators",
        "age-model",
        "gender-model",
        "emotion-model",
        "liveness-model",
        "liveness-threshold",
        "mask-model",
        "body-model",
        // Estimators that had no flag before.
        "keypoints-model",
        "pose-model",
        "eyes-model",
        "deepfake-model",
    ] {
        assert!(names.iter().any(|n| n == old), "--{old} is missing");
    }
}

#[test]
fn estimator_flags_switch_models_and_queues() {
    let s = parse(&[
        "--age-model",
        "",
        "--gender-model",
        "human_faceres",
        "--liveness-threshold",
        "0.8",
        "--pose-max-batch",
        "2",
        "--no-fetch",
        "--preload-estimators",
    ])
    .resolve()
    .unwrap();
    let e = &s.engine.estimators;
    assert_eq!(e.age.model_or("dlib_age_v1"), None);
    assert_eq!(e.gender.model_or("dlib_gender_v1"), Some("human_faceres"));
    assert_eq!(e.liveness_threshold, 0.8);
    assert_eq!(e.pose.queue.max_batch, 2);
    assert!(e.preload && !s.engine.fetch);
    let toml = s.to_toml();
    let back: Settings = toml::from_str(&toml).unwrap();
    assert_eq!(back.engine.estimators.pose.queue.max_batch, 2, "{toml}");
}
