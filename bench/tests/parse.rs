//! The `pairs` and `identify` subcommands read their inputs as intended: both LFW pairs formats over real photos of
//! `../shared/testdata` (pairs files written to a temporary folder), a missing photo or a threshold file beside folds
//! refused before any request, and the gallery / probe split of the LFW and face_recognition sets. `--parse-only`
//! needs no server.

use std::path::Path;
use std::process::{Command, Output};

use faceserve_testkit::testdata;

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faceserve-bench"))
        .args(args)
        .output()
        .expect("faceserve-bench runs")
}

/// The `key=value` pairs of the last line of stdout.
fn last_line(output: &Output) -> Vec<(String, String)> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {pairs:?}"))
}

fn pairs_parse_only(dir: &Path, text: &str) -> Output {
    let file = dir.join("pairs.txt");
    std::fs::write(&file, text).unwrap();
    let images = testdata().join("lfw_view1/images");
    bench(&[
        "pairs",
        "--pairs",
        file.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
        "--parse-only",
    ])
}

#[test]
fn both_pairs_formats_resolve_to_real_lfw_photos() {
    let dir = tempfile::tempdir().unwrap();
    // One set of 2 + 2 pairs, as pairsDevTrain.txt (tabs), and 2 folds of 1 + 1, as View 2's pairs.txt (spaces).
    let single = "2\nAbdullah_Gul\t13\t14\nAbdullah_Gul\t13\t16\n\
                  AJ_Lamas\t1\tZach_Safrin\t1\nAaron_Guiel\t1\tReese_Witherspoon\t3\n";
    let out = last_line(&pairs_parse_only(dir.path(), single));
    assert_eq!(value(&out, "folds"), "1");
    assert_eq!(value(&out, "same"), "2");
    assert_eq!(value(&out, "different"), "2");
    assert_eq!(value(&out, "photos"), "7");

    let folds = "2 1\nAbdullah_Gul 13 14\nAJ_Lamas 1 Zach_Safrin 1\n\
                 Abdullah_Gul 13 16\nAaron_Guiel 1 Reese_Witherspoon 3\n";
    let out = last_line(&pairs_parse_only(dir.path(), folds));
    assert_eq!(value(&out, "folds"), "2");
    assert_eq!(value(&out, "pairs"), "4");
}

#[test]
fn a_missing_photo_or_a_short_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let missing = pairs_parse_only(
        dir.path(),
        "1\nAbdullah_Gul 13 99\nAJ_Lamas 1 Zach_Safrin 1\n",
    );
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("Abdullah_Gul_0099.jpg"), "{stderr}");

    let short = pairs_parse_only(
        dir.path(),
        "2 1\nAbdullah_Gul 13 14\nAJ_Lamas 1 Zach_Safrin 1\n",
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("announces 4 pairs"));
}

#[test]
fn a_threshold_file_is_refused_beside_folds() {
    let dir = tempfile::tempdir().unwrap();
    let folds = dir.path().join("folds.txt");
    std::fs::write(
        &folds,
        "2 1\nAbdullah_Gul 13 14\nAJ_Lamas 1 Zach_Safrin 1\n\
         Abdullah_Gul 13 16\nAaron_Guiel 1 Reese_Witherspoon 3\n",
    )
    .unwrap();
    let lfw = testdata().join("lfw_view1");
    let refused = bench(&[
        "pairs",
        "--pairs",
        folds.to_str().unwrap(),
        "--threshold-from",
        lfw.join("pairsDevTrain.txt").to_str().unwrap(),
        "--images",
        lfw.join("images").to_str().unwrap(),
        "--parse-only",
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("cross-validated"), "{stderr}");
}

#[test]
fn the_bundled_lfw_dev_pairs_files_parse() {
    let lfw = testdata().join("lfw_view1");
    let out = last_line(&bench(&[
        "pairs",
        "--pairs",
        lfw.join("pairsDevTest.txt").to_str().unwrap(),
        "--threshold-from",
        lfw.join("pairsDevTrain.txt").to_str().unwrap(),
        "--images",
        lfw.join("images").to_str().unwrap(),
        "--parse-only",
    ]));
    // The last line belongs to the training file.
    assert_eq!(value(&out, "file"), "pairsDevTrain.txt");
    assert_eq!(value(&out, "pairs"), "2200");
}

#[test]
fn lfw_splits_into_first_photos_enrolled_and_single_photo_people_unknown() {
    let images = testdata().join("lfw_view1/images");
    let images = images.to_str().unwrap();
    let out = last_line(&bench(&[
        "identify",
        "--gallery",
        images,
        "--probes",
        images,
        "--parse-only",
    ]));
    // 4,992 photos of 3,095 people, 1,930 of them with a single photo.
    assert_eq!(value(&out, "enrolments"), "1165");
    assert_eq!(value(&out, "unknown_probes"), "1930");
    assert_eq!(
        value(&out, "mated_probes"),
        (4992 - 1930 - 1165).to_string()
    );
}

#[test]
fn loose_probes_need_labels_and_the_knn_labels_cover_them() {
    let knn = testdata().join("face_recognition_examples/examples/knn_examples");
    let (train, test) = (knn.join("train"), knn.join("test"));
    let args = [
        "identify",
        "--gallery",
        train.to_str().unwrap(),
        "--probes",
        test.to_str().unwrap(),
        "--parse-only",
    ];
    let unlabelled = bench(&args);
    assert!(!unlabelled.status.success());
    assert!(String::from_utf8_lossy(&unlabelled.stderr).contains("--labels"));

    let labels = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/knn_test_labels.csv");
    let mut labelled = args.to_vec();
    labelled.extend(["--labels", labels.to_str().unwrap()]);
    let out = last_line(&bench(&labelled));
    assert_eq!(value(&out, "enrolments"), "9");
    assert_eq!(value(&out, "identities"), "5");
    assert_eq!(value(&out, "mated_probes"), "5");
    assert_eq!(value(&out, "unknown_probes"), "0");
}
