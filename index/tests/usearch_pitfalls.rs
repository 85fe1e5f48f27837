//! usearch's pitfalls, each shown on the library itself and then handled by `UsearchIndex`: thread slots,
//! capacity (before adds and after a load), saves beside searches, removed slots reused.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Rng, face_like};
use faceserve_index::usearch_index::UsearchIndex;
use faceserve_index::{UsearchParams, VectorIndex};
use usearch::Index;
use usearch::ffi::{IndexOptions, MetricKind, ScalarKind};

const DIM: usize = 64;

fn raw_index(capacity: usize, threads: usize) -> Index {
    let index = Index::new(&IndexOptions {
        dimensions: DIM,
        metric: MetricKind::Cos,
        quantization: ScalarKind::I8,
        connectivity: 16,
        expansion_add: 64,
        expansion_search: 64,
        multi: false,
    })
    .unwrap();
    index
        .reserve_capacity_and_threads(capacity, threads)
        .unwrap();
    index
}

fn filled(vectors: &[Vec<f32>], dir: &std::path::Path) -> UsearchIndex {
    let mut index = UsearchIndex::new(DIM, UsearchParams::default(), 0, dir);
    let items: Vec<(u64, &[f32])> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, v.as_slice()))
        .collect();
    index.insert_batch(&items);
    index
}

#[test]
fn more_searches_at_once_than_thread_slots_fail_in_usearch_and_wait_in_the_index() {
    let data = face_like(41, DIM, 500, 2);
    let raw = raw_index(1000, 1);
    for (i, v) in data.gallery.iter().enumerate() {
        raw.add(i as u64, v).unwrap();
    }
    let refused = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..16 {
            let (raw, refused, queries) = (&raw, &refused, &data.queries);
            scope.spawn(move || {
                for q in queries.iter().skip(t).take(200) {
                    if raw.search(q, 10).is_err() {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "usearch refuses a search when all its thread slots are taken"
    );

    // The index holds a slot around every call: 64 threads, more than its slots, and every search answers.
    let dir = tempfile::tempdir().unwrap();
    let index = filled(&data.gallery, dir.path());
    assert!(index.thread_slots() < 64);
    let answered = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..64 {
            let (index, answered, queries) = (&index, &answered, &data.queries);
            scope.spawn(move || {
                for q in queries.iter().skip(t).take(50) {
                    assert_eq!(index.search(q, 10).len(), 10);
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(answered.load(Ordering::Relaxed), 64 * 50);
}

#[test]
fn adds_past_capacity_fail_in_usearch_and_grow_the_index_ahead() {
    let mut rng = Rng::new(42);
    let vectors: Vec<Vec<f32>> = (0..3000).map(|_| rng.unit_vector(DIM)).collect();
    let raw = raw_index(100, 2);
    for (i, v) in vectors.iter().take(100).enumerate() {
        raw.add(i as u64, v).unwrap();
    }
    assert!(
        raw.add(100, &vectors[100]).is_err(),
        "no capacity reserved for it"
    );
    // A loaded graph has room for exactly what it holds.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.usearch");
    raw.save(path.to_str().unwrap()).unwrap();
    let loaded = raw_index(0, 2);
    loaded.load(path.to_str().unwrap()).unwrap();
    assert_eq!(loaded.capacity(), 100);
    assert!(loaded.add(100, &vectors[100]).is_err());

    let mut index = UsearchIndex::new(DIM, UsearchParams::default(), 10, dir.path());
    for (i, v) in vectors.iter().enumerate() {
        assert!(index.insert(i as u64, v));
        assert!(index.capacity() > i, "room is reserved before every add");
    }
    assert!(index.capacity() >= 3000);
    let saved = index.persist(dir.path(), "grown").unwrap();
    let mut restored =
        UsearchIndex::restore(dir.path(), &saved.basename, DIM, UsearchParams::default()).unwrap();
    assert!(
        restored.capacity() > 3000,
        "room is reserved again after the load"
    );
    let extra = rng.unit_vector(DIM);
    assert!(restored.insert(5000, &extra));
    assert_eq!(restored.search(&extra, 1)[0].key, 5000);
}

#[test]
fn saves_run_alone_while_searches_go_on() {
    let data = face_like(43, DIM, 1000, 2);
    let dir = tempfile::tempdir().unwrap();
    let index = filled(&data.gallery, dir.path());
    let expected: Vec<_> = data.queries.iter().map(|q| index.search(q, 5)).collect();
    let searches = AtomicUsize::new(0);
    let saves: Vec<String> = std::thread::scope(|scope| {
        for t in 0..8 {
            let (index, searches, queries, expected) =
                (&index, &searches, &data.queries, &expected);
            scope.spawn(move || {
                for (q, answer) in queries.iter().zip(expected).skip(t * 100).take(300) {
                    assert_eq!(&index.search(q, 5), answer);
                    searches.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        (0..5)
            .map(|n| {
                index
                    .persist(dir.path(), &format!("save-{n}"))
                    .unwrap()
                    .basename
            })
            .collect()
    });
    assert_eq!(searches.load(Ordering::Relaxed), 8 * 300);
    for basename in saves {
        let restored =
            UsearchIndex::restore(dir.path(), &basename, DIM, UsearchParams::default()).unwrap();
        assert_eq!(restored.len(), index.len());
        assert_eq!(restored.search(&data.queries[0], 5), expected[0]);
    }
}

#[test]
fn removed_slots_are_reused_without_bringing_removed_keys_back() {
    let mut rng = Rng::new(44);
    let dir = tempfile::tempdir().unwrap();
    let mut index = UsearchIndex::new(DIM, UsearchParams::default(), 0, dir.path());
    let mut live: Vec<(u64, Vec<f32>)> = Vec::new();
    let mut next_key = 0u64;
    // Rounds of adds and removals: usearch hands removed slots to later adds.
    for round in 0..10 {
        for _ in 0..300 {
            let v = rng.unit_vector(DIM);
            assert!(index.insert(next_key, &v));
            live.push((next_key, v));
            next_key += 1;
        }
        let removed: Vec<(u64, Vec<f32>)> = live.drain(..150).collect();
        for (key, _) in &removed {
            assert!(index.remove(*key));
        }
        for (key, v) in &removed {
            assert!(!index.contains(*key));
            assert!(
                index.search(v, 10).iter().all(|s| s.key != *key),
                "round {round}: removed key {key} returned"
            );
        }
    }
    assert_eq!(index.len(), live.len());
    let found = live
        .iter()
        .filter(|(key, v)| index.search(v, 1).first().map(|s| s.key) == Some(*key))
        .count();
    assert!(
        found as f64 >= 0.99 * live.len() as f64,
        "{found} of {} live vectors are their own nearest",
        live.len()
    );
}
