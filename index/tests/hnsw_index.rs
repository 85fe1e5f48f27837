//! The HNSW index on its own: recall against exact search, tombstones, dump and reload.

mod common;

use common::{Rng, face_like};
use faceserve_index::exact::ExactIndex;
use faceserve_index::hnsw::HnswIndex;
use faceserve_index::{HnswParams, VectorIndex};

fn build(dim: usize, vectors: &[Vec<f32>]) -> (HnswIndex, ExactIndex) {
    let mut hnsw = HnswIndex::new(dim, HnswParams::default(), vectors.len());
    let mut exact = ExactIndex::with_capacity(dim, vectors.len());
    let items: Vec<(u64, &[f32])> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, v.as_slice()))
        .collect();
    hnsw.insert_batch(&items);
    for (key, v) in &items {
        exact.insert(*key, v);
    }
    (hnsw, exact)
}

#[test]
fn recall_at_1_on_a_20k_gallery_is_at_least_099() {
    let dim = 512;
    let data = face_like(11, dim, 10_000, 2);
    let (hnsw, exact) = build(dim, &data.gallery);
    assert_eq!(hnsw.len(), 20_000);
    let queries = &data.queries[..2000];
    let found = queries
        .iter()
        .filter(|q| {
            hnsw.search(q, 1).first().map(|s| s.key) == exact.search(q, 1).first().map(|s| s.key)
        })
        .count();
    let recall = found as f64 / queries.len() as f64;
    println!("recall@1 = {recall:.4} over {} queries", queries.len());
    assert!(recall >= 0.99, "recall@1 {recall}");
    // Re-ranked similarities are the exact ones.
    for q in &queries[..50] {
        let (h, e) = (hnsw.search(q, 1)[0], exact.search(q, 1)[0]);
        if h.key == e.key {
            assert!((h.similarity - e.similarity).abs() < 1e-5);
        }
    }
}

#[test]
fn removed_keys_are_never_returned() {
    let dim = 32;
    let data = face_like(12, dim, 500, 2);
    let (mut hnsw, _) = build(dim, &data.gallery);
    for key in (0..1000u64).filter(|k| k % 4 != 3) {
        assert!(hnsw.remove(key));
    }
    assert!(!hnsw.remove(0));
    assert!(!hnsw.contains(0) && hnsw.contains(3));
    assert_eq!(
        (hnsw.len(), hnsw.tombstones(), hnsw.held()),
        (250, 750, 1000)
    );
    for (i, v) in data.gallery.iter().enumerate() {
        let hits = hnsw.search(v, 10);
        assert_eq!(hits.len(), 10, "tombstones must not starve the answer");
        assert!(
            hits.iter().all(|s| s.key % 4 == 3),
            "query {i} returned a removed key"
        );
    }
    assert!(
        !hnsw.insert(0, &data.gallery[0]),
        "a key is never inserted twice"
    );
    let mut keys = hnsw.keys();
    keys.sort_unstable();
    assert_eq!(
        keys,
        (0..1000u64).filter(|k| k % 4 == 3).collect::<Vec<_>>()
    );
}

#[test]
fn a_reloaded_dump_gives_the_same_top_10() {
    let dim = 64;
    let data = face_like(13, dim, 1500, 2);
    let (mut hnsw, _) = build(dim, &data.gallery);
    for key in (0..3000u64).step_by(7) {
        hnsw.remove(key);
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = hnsw.persist(dir.path(), "dump").unwrap();
    let basename = saved.basename;
    // hnsw_rs never overwrites a dump: a second one gets another basename.
    let loaded = HnswIndex::restore(dir.path(), &basename, dim, hnsw.ef_search()).unwrap();
    assert_eq!(
        (loaded.len(), loaded.tombstones()),
        (hnsw.len(), hnsw.tombstones())
    );
    assert_eq!(loaded.build_params(), hnsw.build_params());
    let mut rng = Rng::new(14);
    for q in data
        .queries
        .iter()
        .take(200)
        .chain([rng.unit_vector(dim)].iter())
    {
        assert_eq!(loaded.search(q, 10), hnsw.search(q, 10));
    }
    assert!(HnswIndex::restore(dir.path(), &basename, dim + 1, 64).is_err());
    assert!(HnswIndex::restore(dir.path(), "absent", dim, 64).is_err());
    std::fs::write(
        dir.path().join(format!("{basename}.hnsw.graph")),
        b"garbage",
    )
    .unwrap();
    assert!(HnswIndex::restore(dir.path(), &basename, dim, 64).is_err());
}
