//! Adds, deletes, searches and rebuilds from several threads at once leave every index equal to the store, and
//! no search returns a template whose deletion had already been acknowledged.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{DIM, Rng, config, template};
use faceserve_index::{GalleryEngine, IndexEngine, TemplateRecord};
use uuid::Uuid;

const RUN_FOR: Duration = Duration::from_secs(3);
const GALLERIES: [&str; 2] = ["big", "small"];

#[test]
fn concurrent_writes_searches_and_rebuilds_leave_indexes_equal_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.index.exact_max_templates = 200;
    config.index.engine = IndexEngine::HnswRs;
    config.index.rebuild_tombstone_fraction = 0.05;
    config.index.checkpoint_after_changes = 50;
    let engine = Arc::new(GalleryEngine::open(config.clone()).unwrap());

    // "big" starts as an HNSW gallery; "small" starts exact, just under the threshold, and crosses it during the run.
    let mut rng = Rng::new(31);
    let live: Arc<Mutex<Vec<TemplateRecord>>> = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..400 {
        live.lock().unwrap().push(
            engine
                .add(template("", "big", rng.unit_vector(DIM)))
                .unwrap(),
        );
    }
    for _ in 0..190 {
        live.lock().unwrap().push(
            engine
                .add(template("", "small", rng.unit_vector(DIM)))
                .unwrap(),
        );
    }
    engine.run_maintenance().unwrap();
    assert_eq!(engine.stats("", "big").unwrap().index_kind, "hnsw");

    let deleted: Arc<Mutex<Vec<TemplateRecord>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for seed in 0..2u64 {
        let (engine, live, stop) = (engine.clone(), live.clone(), stop.clone());
        threads.push(thread::spawn(move || {
            let mut rng = Rng::new(100 + seed);
            while !stop.load(Ordering::Relaxed) {
                let gallery = GALLERIES[(rng.next_u64() % 2) as usize];
                let record = engine
                    .add(template("", gallery, rng.unit_vector(DIM)))
                    .unwrap();
                live.lock().unwrap().push(record);
            }
        }));
    }
    {
        let (engine, live, deleted, stop) =
            (engine.clone(), live.clone(), deleted.clone(), stop.clone());
        threads.push(thread::spawn(move || {
            let mut rng = Rng::new(200);
            while !stop.load(Ordering::Relaxed) {
                let victim = {
                    let mut live = live.lock().unwrap();
                    let at = (rng.next_u64() % live.len() as u64) as usize;
                    live.swap_remove(at)
                };
                engine.delete("", &victim.gallery, victim.id).unwrap();
                deleted.lock().unwrap().push(victim);
            }
        }));
    }
    for seed in 0..2u64 {
        let (engine, deleted, stop, searches) = (
            engine.clone(),
            deleted.clone(),
            stop.clone(),
            searches.clone(),
        );
        threads.push(thread::spawn(move || {
            let mut rng = Rng::new(300 + seed);
            while !stop.load(Ordering::Relaxed) {
                // Every deletion acknowledged before the search starts must be invisible to it.
                let acknowledged: Vec<TemplateRecord> = deleted.lock().unwrap().clone();
                let gone: HashSet<Uuid> = acknowledged.iter().map(|r| r.id).collect();
                let query = match acknowledged.last() {
                    Some(record) if rng.next_u64().is_multiple_of(2) => record.embedding.clone(),
                    _ => rng.unit_vector(DIM),
                };
                for gallery in GALLERIES {
                    for hit in engine.search("", gallery, &query, 10).unwrap() {
                        assert!(
                            !gone.contains(&hit.id),
                            "search returned deleted template {}",
                            hit.id
                        );
                    }
                }
                searches.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (engine, stop) = (engine.clone(), stop.clone());
        threads.push(thread::spawn(move || {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                engine.run_maintenance().unwrap();
                engine.rebuild_index("", GALLERIES[round % 2]).unwrap();
                round += 1;
            }
        }));
    }

    let started = Instant::now();
    while started.elapsed() < RUN_FOR {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(searches.load(Ordering::Relaxed) > 0);
    println!(
        "{} searches, {} live, {} deleted",
        searches.load(Ordering::Relaxed),
        live.lock().unwrap().len(),
        deleted.lock().unwrap().len()
    );

    let expected_total = live.lock().unwrap().len() as u64;
    assert_eq!(engine.total_templates(), expected_total);
    let check_all = |engine: &GalleryEngine| {
        for gallery in GALLERIES {
            let check = engine.verify_index("", gallery).unwrap();
            assert!(check.is_consistent(), "{gallery}: {check:?}");
        }
    };
    check_all(&engine);
    assert_eq!(engine.stats("", "small").unwrap().index_kind, "hnsw");
    let live_ids: HashSet<Uuid> = live.lock().unwrap().iter().map(|r| r.id).collect();
    let listed: HashSet<Uuid> = GALLERIES
        .iter()
        .flat_map(|gallery| engine.list("", gallery, None, 1_000_000).unwrap().0)
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, live_ids);

    drop(engine);
    let engine = GalleryEngine::open(config).unwrap();
    check_all(&engine);
    assert_eq!(engine.total_templates(), expected_total);
}

/// 64 threads at once on one usearch gallery (more than usearch's thread slots, one per core), with the
/// background upkeep rebuilding and saving it meanwhile: every search answers, none returns an acknowledged
/// deletion, and afterwards the index equals the store, also after a restart.
#[test]
fn sixty_four_threads_add_delete_and_identify_on_a_usearch_gallery() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.index.exact_max_templates = 200;
    config.index.engine = IndexEngine::Usearch;
    config.index.rebuild_tombstone_fraction = 0.05;
    config.index.checkpoint_after_changes = 100;
    config.index.maintenance_interval = Some(Duration::from_millis(100));
    let engine = Arc::new(GalleryEngine::open(config.clone()).unwrap());
    let mut rng = Rng::new(61);
    let live: Arc<Mutex<Vec<TemplateRecord>>> = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..600 {
        let record = engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
        live.lock().unwrap().push(record);
    }
    engine.run_maintenance().unwrap();
    assert_eq!(engine.stats("", "g").unwrap().index_kind, "usearch");

    let deleted: Arc<Mutex<Vec<TemplateRecord>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (searches, adds, deletes) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let threads: Vec<_> = (0..64u64)
        .map(|t| {
            let (engine, live, deleted, stop) =
                (engine.clone(), live.clone(), deleted.clone(), stop.clone());
            let (searches, adds, deletes) = (searches.clone(), adds.clone(), deletes.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(1000 + t);
                while !stop.load(Ordering::Relaxed) {
                    match t % 4 {
                        0 | 1 => {
                            let record =
                                engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
                            live.lock().unwrap().push(record);
                            adds.fetch_add(1, Ordering::Relaxed);
                        }
                        2 => {
                            let victim = {
                                let mut live = live.lock().unwrap();
                                let at = (rng.next_u64() % live.len() as u64) as usize;
                                live.swap_remove(at)
                            };
                            engine.delete("", "g", victim.id).unwrap();
                            deleted.lock().unwrap().push(victim);
                            deletes.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            let acknowledged: Vec<TemplateRecord> = deleted.lock().unwrap().clone();
                            let gone: HashSet<Uuid> = acknowledged.iter().map(|r| r.id).collect();
                            let query = match acknowledged.last() {
                                Some(record) if rng.next_u64().is_multiple_of(2) => {
                                    record.embedding.clone()
                                }
                                _ => rng.unit_vector(DIM),
                            };
                            // Fewer than 10 when a deletion commits between the index and the store.
                            let hits = engine.search("", "g", &query, 10).unwrap();
                            assert!(hits.len() >= 5, "{} answers", hits.len());
                            for hit in hits {
                                assert!(
                                    !gone.contains(&hit.id),
                                    "search returned deleted {}",
                                    hit.id
                                );
                            }
                            searches.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    thread::sleep(RUN_FOR);
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    println!(
        "{} searches, {} adds, {} deletes",
        searches.load(Ordering::Relaxed),
        adds.load(Ordering::Relaxed),
        deletes.load(Ordering::Relaxed)
    );
    assert!(searches.load(Ordering::Relaxed) > 0 && deletes.load(Ordering::Relaxed) > 0);

    let expected = live.lock().unwrap().len() as u64;
    assert_eq!(engine.total_templates(), expected);
    let check = engine.verify_index("", "g").unwrap();
    assert!(check.is_consistent(), "{check:?}");
    assert_eq!(
        (check.index_kind, check.store_templates),
        ("usearch", expected)
    );
    engine.checkpoint().unwrap();
    drop(engine);
    let engine = GalleryEngine::open(config).unwrap();
    let check = engine.verify_index("", "g").unwrap();
    assert!(check.is_consistent(), "after a restart: {check:?}");
    for record in live.lock().unwrap().iter().step_by(25) {
        assert_eq!(
            engine.search("", "g", &record.embedding, 1).unwrap()[0].id,
            record.id
        );
    }
}
