//! Every approximate engine on its own against the exact scan: recall@1 on a 20k face-like gallery, exact
//! similarities, removed keys never returned, and a save that restores to the same answers.

mod common;

use common::{Rng, face_like};
use faceserve_index::exact::ExactIndex;
use faceserve_index::vector_index::{IndexKind, VectorIndex};
use faceserve_index::{IndexConfig, UsearchVectors, engines};

/// The engines under test: each kind, and usearch over sign bits too.
fn config_for(vectors: UsearchVectors) -> IndexConfig {
    let mut config = IndexConfig::default();
    config.usearch.vectors = vectors;
    config
}

fn build(
    kind: IndexKind,
    config: &IndexConfig,
    dim: usize,
    vectors: &[Vec<f32>],
    dir: &std::path::Path,
) -> (Box<dyn VectorIndex>, ExactIndex) {
    let mut index = engines::new_index(kind, dim, config, vectors.len(), dir);
    let mut exact = ExactIndex::with_capacity(dim, vectors.len());
    let items: Vec<(u64, &[f32])> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64 * 3 + 1, v.as_slice()))
        .collect();
    for chunk in items.chunks(4096) {
        index.insert_batch(chunk);
    }
    for (key, v) in &items {
        exact.insert(*key, v);
    }
    (index, exact)
}

fn recall_at_1_on_20k(kind: IndexKind, config: IndexConfig) {
    let dim = 512;
    let dir = tempfile::tempdir().unwrap();
    let data = face_like(11, dim, 10_000, 2);
    let (index, exact) = build(kind, &config, dim, &data.gallery, dir.path());
    assert_eq!((index.kind(), index.len()), (kind, 20_000));
    let queries = &data.queries[..2000];
    let found = queries
        .iter()
        .filter(|q| {
            index.search(q, 1).first().map(|s| s.key) == exact.search(q, 1).first().map(|s| s.key)
        })
        .count();
    let recall = found as f64 / queries.len() as f64;
    println!(
        "{}: recall@1 = {recall:.4} over {} queries",
        kind.as_str(),
        queries.len()
    );
    assert!(recall >= 0.99, "{} recall@1 {recall}", kind.as_str());
    for q in &queries[..100] {
        let (answer, truth) = (index.search(q, 1)[0], exact.search(q, 1)[0]);
        if answer.key == truth.key {
            assert!(
                (answer.similarity - truth.similarity).abs() < 1e-5,
                "re-ranked similarities are exact"
            );
        }
    }
}

#[test]
fn binary_recall_at_1_on_a_20k_gallery_is_at_least_099() {
    recall_at_1_on_20k(IndexKind::Binary, IndexConfig::default());
}

#[test]
fn usearch_i8_recall_at_1_on_a_20k_gallery_is_at_least_099() {
    recall_at_1_on_20k(IndexKind::Usearch, config_for(UsearchVectors::I8));
}

#[test]
fn usearch_b1_recall_at_1_on_a_20k_gallery_is_at_least_099() {
    recall_at_1_on_20k(IndexKind::Usearch, config_for(UsearchVectors::B1));
}

fn removed_keys_are_never_returned(kind: IndexKind, config: IndexConfig) {
    let dim = 32;
    let dir = tempfile::tempdir().unwrap();
    let data = face_like(12, dim, 500, 2);
    let (mut index, _) = build(kind, &config, dim, &data.gallery, dir.path());
    let key = |i: u64| i * 3 + 1;
    for i in (0..1000u64).filter(|i| i % 4 != 3) {
        assert!(index.remove(key(i)));
    }
    assert!(!index.remove(key(0)));
    assert!(!index.contains(key(0)) && index.contains(key(3)));
    assert_eq!(
        (index.len(), index.tombstones(), index.held()),
        (250, 750, 1000)
    );
    for (i, v) in data.gallery.iter().enumerate() {
        let hits = index.search(v, 10);
        assert_eq!(
            hits.len(),
            10,
            "{}: tombstones must not starve the answer",
            kind.as_str()
        );
        assert!(
            hits.iter().all(|s| (s.key - 1) / 3 % 4 == 3),
            "query {i} returned a removed key"
        );
    }
    assert!(
        !index.insert(key(0), &data.gallery[0]),
        "a key is never inserted twice"
    );
    // New keys after removals (usearch reuses the removed slots) are found, the removed ones still are not.
    let mut rng = Rng::new(5);
    let fresh: Vec<Vec<f32>> = (0..300).map(|_| rng.unit_vector(dim)).collect();
    for (i, v) in fresh.iter().enumerate() {
        assert!(index.insert(10_000 + i as u64, v));
    }
    for (i, v) in fresh.iter().enumerate() {
        let hits = index.search(v, 5);
        assert_eq!(
            hits[0].key,
            10_000 + i as u64,
            "{}: a new vector is its own nearest",
            kind.as_str()
        );
        assert!(
            hits.iter()
                .all(|s| s.key >= 10_000 || (s.key - 1) / 3 % 4 == 3)
        );
    }
    let mut keys = index.keys();
    keys.sort_unstable();
    let mut expected: Vec<u64> = (0..1000u64).filter(|i| i % 4 == 3).map(key).collect();
    expected.extend(10_000..10_300);
    assert_eq!(keys, expected);
}

#[test]
fn binary_never_returns_removed_keys() {
    removed_keys_are_never_returned(IndexKind::Binary, IndexConfig::default());
}

#[test]
fn usearch_i8_never_returns_removed_keys() {
    removed_keys_are_never_returned(IndexKind::Usearch, config_for(UsearchVectors::I8));
}

#[test]
fn usearch_b1_never_returns_removed_keys() {
    removed_keys_are_never_returned(IndexKind::Usearch, config_for(UsearchVectors::B1));
}

fn a_restored_save_gives_the_same_top_10(kind: IndexKind, config: IndexConfig) {
    let dim = 64;
    let dir = tempfile::tempdir().unwrap();
    let data = face_like(13, dim, 1500, 2);
    let (mut index, _) = build(kind, &config, dim, &data.gallery, dir.path());
    for i in (0..3000u64).step_by(7) {
        index.remove(i * 3 + 1);
    }
    let saved = index.persist(dir.path(), "save").unwrap();
    let restored = engines::restore(kind, dir.path(), &saved.basename, dim, &config).unwrap();
    assert_eq!(
        (restored.len(), restored.tombstones(), restored.held()),
        (index.len(), index.tombstones(), index.held())
    );
    let mut rng = Rng::new(14);
    let queries: Vec<Vec<f32>> = data
        .queries
        .iter()
        .take(200)
        .cloned()
        .chain([rng.unit_vector(dim)])
        .collect();
    for q in &queries {
        assert_eq!(restored.search(q, 10), index.search(q, 10));
    }
    // The restored index takes inserts (usearch: capacity is reserved again after its load) and saves again.
    let mut restored = restored;
    let extra = rng.unit_vector(dim);
    assert!(restored.insert(1_000_000, &extra));
    assert_eq!(restored.search(&extra, 1)[0].key, 1_000_000);
    let again = restored.persist(dir.path(), "again").unwrap();
    drop(restored);
    let reloaded = engines::restore(kind, dir.path(), &again.basename, dim, &config).unwrap();
    assert_eq!(reloaded.search(&extra, 1)[0].key, 1_000_000);
    assert_eq!(reloaded.len(), index.len() + 1);

    assert!(engines::restore(kind, dir.path(), &saved.basename, dim + 1, &config).is_err());
    assert!(engines::restore(kind, dir.path(), "absent", dim, &config).is_err());
    for file in &saved.files {
        let path = dir.path().join(file);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            engines::restore(kind, dir.path(), &saved.basename, dim, &config).is_err(),
            "{}: a truncated {file} is refused",
            kind.as_str()
        );
        std::fs::write(&path, &bytes).unwrap();
    }
}

#[test]
fn binary_restores_its_save() {
    a_restored_save_gives_the_same_top_10(IndexKind::Binary, IndexConfig::default());
}

#[test]
fn usearch_i8_restores_its_save() {
    a_restored_save_gives_the_same_top_10(IndexKind::Usearch, config_for(UsearchVectors::I8));
}

#[test]
fn usearch_b1_restores_its_save() {
    a_restored_save_gives_the_same_top_10(IndexKind::Usearch, config_for(UsearchVectors::B1));
}
