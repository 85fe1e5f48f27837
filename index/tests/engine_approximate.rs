//! The engine with approximate galleries, every test once per engine (binary, usearch over i8 and over sign
//! bits, hnsw_rs): switching by size, tombstones and rebuilds, dumps, restarts and repairs.

mod common;

use std::collections::HashSet;

use common::{MODEL, Rng, face_like, template};
use faceserve_index::{
    EngineConfig, GalleryEngine, IndexEngine, IndexOrigin, TemplateRecord, UsearchVectors,
};
use uuid::Uuid;

/// An engine under test: the setting, the usearch vectors, and the kind name its galleries report.
#[derive(Clone, Copy)]
struct Engine(IndexEngine, UsearchVectors, &'static str);

const BINARY: Engine = Engine(IndexEngine::Binary, UsearchVectors::I8, "binary");
const USEARCH_I8: Engine = Engine(IndexEngine::Usearch, UsearchVectors::I8, "usearch");
const USEARCH_B1: Engine = Engine(IndexEngine::Usearch, UsearchVectors::B1, "usearch");
const HNSW_RS: Engine = Engine(IndexEngine::HnswRs, UsearchVectors::I8, "hnsw");

/// Each test below, once per engine.
macro_rules! per_engine {
    ($($test:ident),* $(,)?) => {
        $(mod $test {
            #[test]
            fn binary() { super::$test(super::BINARY) }
            #[test]
            fn usearch_i8() { super::$test(super::USEARCH_I8) }
            #[test]
            fn usearch_b1() { super::$test(super::USEARCH_B1) }
            #[test]
            fn hnsw_rs() { super::$test(super::HNSW_RS) }
        })*
    };
}

per_engine!(
    a_gallery_switches_to_its_engine_when_it_grows_and_back_when_it_shrinks,
    deleted_templates_are_never_returned_also_after_rebuild_and_restart,
    a_restart_reloads_the_dump_and_answers_the_same,
    a_dump_behind_the_store_is_repaired_at_start,
    a_broken_dump_falls_back_to_exact_search_until_rebuilt,
    deleting_a_gallery_removes_its_dump,
);

/// Sign bits of 64 dimensions are too few to rank face-like vectors reliably; embeddings have 512.
const DIM: usize = 256;

/// Galleries above 300 templates use the engine.
fn small_threshold(dir: &std::path::Path, engine: Engine) -> EngineConfig {
    let mut config = EngineConfig::new(dir, MODEL, DIM);
    config.index.maintenance_interval = None;
    config.index.exact_max_templates = 300;
    config.index.engine = engine.0;
    config.index.usearch.vectors = engine.1;
    config.index.checkpoint_after_changes = 1;
    config
}

fn open(dir: &std::path::Path, engine: Engine) -> GalleryEngine {
    GalleryEngine::open(small_threshold(dir, engine)).unwrap()
}

fn enrol(engine: &GalleryEngine, gallery: &str, vectors: &[Vec<f32>]) -> Vec<TemplateRecord> {
    vectors
        .iter()
        .map(|v| engine.add(template("", gallery, v.clone())).unwrap())
        .collect()
}

fn ids(engine: &GalleryEngine, gallery: &str, query: &[f32], k: usize) -> Vec<Uuid> {
    engine
        .search("", gallery, query, k)
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect()
}

fn a_gallery_switches_to_its_engine_when_it_grows_and_back_when_it_shrinks(kind: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), kind);
    let data = face_like(21, DIM, 400, 2);
    let records = enrol(&engine, "g", &data.gallery);
    assert_eq!(engine.stats("", "g").unwrap().index_kind, "exact");
    let before: Vec<Vec<Uuid>> = data
        .queries
        .iter()
        .take(50)
        .map(|q| ids(&engine, "g", q, 1))
        .collect();

    engine.run_maintenance().unwrap();
    assert_eq!(engine.stats("", "g").unwrap().index_kind, kind.2);
    assert!(engine.verify_index("", "g").unwrap().is_consistent());
    let after: Vec<Vec<Uuid>> = data
        .queries
        .iter()
        .take(50)
        .map(|q| ids(&engine, "g", q, 1))
        .collect();
    assert_eq!(
        before, after,
        "the face-like gallery is easy: the engine finds every exact top-1"
    );

    for record in &records[..700] {
        engine.delete("", "g", record.id).unwrap();
    }
    let stats = engine.stats("", "g").unwrap();
    assert_eq!((stats.template_count, stats.tombstones), (100, 700));
    engine.run_maintenance().unwrap();
    let stats = engine.stats("", "g").unwrap();
    assert_eq!(
        (stats.index_kind, stats.template_count, stats.tombstones),
        ("exact", 100, 0)
    );
    assert!(
        !dir.path().join("indexes").read_dir().unwrap().any(|_| true),
        "an exact gallery keeps no dump"
    );
}

fn deleted_templates_are_never_returned_also_after_rebuild_and_restart(kind: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let data = face_like(22, DIM, 500, 2);
    let records = {
        let engine = open(dir.path(), kind);
        let records = enrol(&engine, "g", &data.gallery);
        engine.run_maintenance().unwrap();
        assert_eq!(engine.stats("", "g").unwrap().index_kind, kind.2);
        records
    };
    let deleted: Vec<&TemplateRecord> = records.iter().step_by(11).collect();
    let kept: Vec<&TemplateRecord> = records
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 11 != 0)
        .map(|(_, r)| r)
        .collect();
    let deleted_ids: HashSet<Uuid> = deleted.iter().map(|r| r.id).collect();
    let never_returned = |engine: &GalleryEngine, stage: &str| {
        for record in &deleted {
            let hits = ids(engine, "g", &record.embedding, 10);
            assert_eq!(hits.len(), 10);
            assert!(
                hits.iter().all(|id| !deleted_ids.contains(id)),
                "deleted template returned {stage}"
            );
        }
        // A template is its own nearest: always found by a scan, almost always by a graph (which can leave a node
        // unreachable from the query's side).
        let sample: Vec<_> = kept.iter().step_by(13).collect();
        let missed = sample
            .iter()
            .filter(|record| ids(engine, "g", &record.embedding, 1) != vec![record.id])
            .count();
        let allowed = if kind.2 == "binary" {
            0
        } else {
            sample.len() / 50
        };
        assert!(
            missed <= allowed,
            "{stage}: {missed} of {} templates not their own nearest",
            sample.len()
        );
    };

    let engine = open(dir.path(), kind);
    for record in &deleted {
        engine.delete("", "g", record.id).unwrap();
    }
    assert_eq!(
        engine.stats("", "g").unwrap().tombstones,
        deleted.len() as u64
    );
    never_returned(&engine, "with tombstones");
    engine.checkpoint().unwrap();
    drop(engine);

    let engine = open(dir.path(), kind);
    assert_eq!(
        engine.startup_report().galleries[0].origin,
        IndexOrigin::Reloaded {
            replayed_inserts: 0,
            replayed_removals: 0
        }
    );
    assert_eq!(
        engine.stats("", "g").unwrap().tombstones,
        deleted.len() as u64
    );
    never_returned(&engine, "after a restart");

    engine.rebuild_index("", "g").unwrap();
    let stats = engine.stats("", "g").unwrap();
    assert_eq!((stats.index_kind, stats.tombstones), (kind.2, 0));
    never_returned(&engine, "after a rebuild");
    drop(engine);
    never_returned(&open(dir.path(), kind), "after a rebuild and a restart");
}

fn a_restart_reloads_the_dump_and_answers_the_same(kind: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let data = face_like(23, DIM, 400, 2);
    let mut rng = Rng::new(24);
    let queries: Vec<Vec<f32>> = (0..50)
        .map(|_| rng.unit_vector(DIM))
        .chain(data.queries.clone())
        .collect();
    let answers: Vec<Vec<Uuid>> = {
        let engine = open(dir.path(), kind);
        enrol(&engine, "g", &data.gallery);
        engine.run_maintenance().unwrap();
        queries.iter().map(|q| ids(&engine, "g", q, 10)).collect()
    };
    let engine = open(dir.path(), kind);
    let report = engine.startup_report();
    assert_eq!(
        report.galleries[0].origin,
        IndexOrigin::Reloaded {
            replayed_inserts: 0,
            replayed_removals: 0
        }
    );
    assert_eq!(engine.stats("", "g").unwrap().index_kind, kind.2);
    let reloaded: Vec<Vec<Uuid>> = queries.iter().map(|q| ids(&engine, "g", q, 10)).collect();
    assert_eq!(reloaded, answers);
}

fn a_dump_behind_the_store_is_repaired_at_start(kind: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let data = face_like(25, DIM, 400, 2);
    let (added_later, deleted_later) = {
        let engine = open(dir.path(), kind);
        let records = enrol(&engine, "g", &data.gallery[..700]);
        engine.run_maintenance().unwrap();
        // Changes after the last dump, then a "crash" (no checkpoint).
        let added = enrol(&engine, "g", &data.gallery[700..]);
        for record in &records[..40] {
            engine.delete("", "g", record.id).unwrap();
        }
        (added, records[..40].to_vec())
    };
    let engine = open(dir.path(), kind);
    assert_eq!(
        engine.startup_report().galleries[0].origin,
        IndexOrigin::Reloaded {
            replayed_inserts: 100,
            replayed_removals: 40
        }
    );
    assert!(engine.verify_index("", "g").unwrap().is_consistent());
    for record in &added_later {
        assert_eq!(ids(&engine, "g", &record.embedding, 1), vec![record.id]);
    }
    for record in &deleted_later {
        assert!(!ids(&engine, "g", &record.embedding, 5).contains(&record.id));
    }
    engine.run_maintenance().unwrap();
    drop(engine);
    let engine = open(dir.path(), kind);
    assert_eq!(
        engine.startup_report().galleries[0].origin,
        IndexOrigin::Reloaded {
            replayed_inserts: 0,
            replayed_removals: 0
        },
        "the repaired index was dumped again"
    );
}

fn a_broken_dump_falls_back_to_exact_search_until_rebuilt(kind: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let data = face_like(26, DIM, 200, 2);
    let records = {
        let engine = open(dir.path(), kind);
        let records = enrol(&engine, "g", &data.gallery);
        engine.run_maintenance().unwrap();
        records
    };
    // The engine's main file, cut short as a crash without its sync could leave it.
    let main_file = match kind.2 {
        "binary" => ".codes",
        "usearch" => ".usearch",
        _ => ".hnsw.graph",
    };
    let mut cut = 0;
    for entry in std::fs::read_dir(dir.path().join("indexes/gallery-1")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(main_file) {
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            cut += 1;
        }
    }
    assert_eq!(cut, 1, "one {main_file} in the dump");
    let engine = open(dir.path(), kind);
    assert!(matches!(
        engine.startup_report().galleries[0].origin,
        IndexOrigin::AwaitingBuild { .. }
    ));
    assert_eq!(engine.stats("", "g").unwrap().index_kind, "exact");
    assert_eq!(
        ids(&engine, "g", &records[5].embedding, 1),
        vec![records[5].id]
    );
    engine.run_maintenance().unwrap();
    assert_eq!(engine.stats("", "g").unwrap().index_kind, kind.2);
    assert_eq!(
        ids(&engine, "g", &records[5].embedding, 1),
        vec![records[5].id]
    );
    drop(engine);
    assert!(matches!(
        open(dir.path(), kind).startup_report().galleries[0].origin,
        IndexOrigin::Reloaded { .. }
    ));
}

fn deleting_a_gallery_removes_its_dump(kind: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), kind);
    enrol(&engine, "g", &face_like(27, DIM, 200, 2).gallery);
    engine.run_maintenance().unwrap();
    assert!(dir.path().join("indexes/gallery-1/manifest.json").exists());
    assert_eq!(engine.delete_gallery("", "g").unwrap(), 400);
    assert!(!dir.path().join("indexes/gallery-1").exists());
}
