//! Several gallery engines (each a server with its own data folder) on one PostgreSQL database: one server's writes
//! reach the others through the change feed, in commit order, and concurrent writers of the same template agree.

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::stores::{postgres_at, postgres_url};
use common::{DIM, Rng, config, template, with_id};
use faceserve_index::store::TemplateStore;
use faceserve_index::{GalleryEngine, GalleryError, IndexOrigin};
use uuid::Uuid;

const PROPAGATION: Duration = Duration::from_secs(10);

fn server(url: &str, dir: &Path, name: &str) -> GalleryEngine {
    GalleryEngine::open_with_store(config(dir), postgres_at(url, name)).unwrap()
}

/// Waits until `to` has applied everything `from` has.
fn settle(from: &GalleryEngine, to: &GalleryEngine) {
    let seq = from.applied_seq().unwrap();
    assert!(
        to.wait_for_seq(seq, PROPAGATION),
        "change {seq} did not arrive"
    );
}

#[test]
fn an_add_on_one_server_is_found_on_another() {
    let Some(url) = postgres_url() else { return };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (server(&url, da.path(), "a"), server(&url, db.path(), "b"));
    let mut rng = Rng::new(1);
    for _ in 0..50 {
        let added = a.add(template("", "g", rng.unit_vector(DIM))).unwrap();
        settle(&a, &b);
        let hits = b.search("", "g", &added.embedding, 1).unwrap();
        assert_eq!(hits[0].id, added.id);
        assert_eq!(hits[0].metadata, added.metadata);
    }
    assert_eq!(b.stats("", "g").unwrap().template_count, 50);
    assert_eq!(b.total_templates(), 50);
    let status = b.feed_status().unwrap();
    assert!(status.caught_up && status.reachable && !status.is_stale());
}

#[test]
fn a_delete_on_one_server_is_never_returned_by_another() {
    let Some(url) = postgres_url() else { return };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (server(&url, da.path(), "a"), server(&url, db.path(), "b"));
    let mut rng = Rng::new(2);
    let added: Vec<_> = (0..30)
        .map(|_| a.add(template("", "g", rng.unit_vector(DIM))).unwrap())
        .collect();
    settle(&a, &b);
    for record in &added {
        b.delete("", "g", record.id).unwrap();
        // Straight after the answer, before A has applied the deletion: the store has the last word.
        let hits = a.search("", "g", &record.embedding, 5).unwrap();
        assert!(hits.iter().all(|h| h.id != record.id));
    }
    settle(&b, &a);
    assert_eq!(a.stats("", "g").unwrap().template_count, 0);
    assert!(a.verify_index("", "g").unwrap().is_consistent());
}

#[test]
fn a_gallery_deleted_anywhere_disappears_everywhere() {
    let Some(url) = postgres_url() else { return };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers: Vec<GalleryEngine> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| server(&url, d.path(), &format!("s{i}")))
        .collect();
    let mut rng = Rng::new(3);
    for i in 0..60 {
        servers[i % 2]
            .add(template("", "doomed", rng.unit_vector(DIM)))
            .unwrap();
    }
    servers[1]
        .add(template("", "kept", rng.unit_vector(DIM)))
        .unwrap();
    settle(&servers[0], &servers[2]);
    settle(&servers[1], &servers[2]);
    assert_eq!(servers[2].stats("", "doomed").unwrap().template_count, 60);
    assert_eq!(servers[2].delete_gallery("", "doomed").unwrap(), 60);
    for s in &servers {
        settle(&servers[2], s);
        assert!(matches!(
            s.stats("", "doomed"),
            Err(GalleryError::GalleryNotFound { .. })
        ));
        assert_eq!(s.galleries("").unwrap().len(), 1);
        assert_eq!(s.total_templates(), 1);
    }
    // The name is free again, on any server.
    servers[0]
        .add(template("", "doomed", rng.unit_vector(DIM)))
        .unwrap();
    settle(&servers[0], &servers[2]);
    assert_eq!(servers[2].stats("", "doomed").unwrap().template_count, 1);
}

#[test]
fn the_same_template_id_enrolled_at_once_on_two_servers() {
    let Some(url) = postgres_url() else { return };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Arc::new(server(&url, da.path(), "a"));
    let b = Arc::new(server(&url, db.path(), "b"));
    let mut rng = Rng::new(4);
    for round in 0..20 {
        let id = Uuid::new_v4();
        let replace = round % 2 == 1;
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|engine| {
                let mut t = with_id(template("", "race", rng.unit_vector(DIM)), id);
                t.replace = replace;
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    engine.add(t)
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        if replace {
            assert_eq!(won, 2, "with replace both succeed, one after the other");
        } else {
            assert_eq!(won, 1, "exactly one wins: {results:?}");
            assert!(
                results
                    .iter()
                    .any(|r| matches!(r, Err(GalleryError::TemplateExists { .. })))
            );
        }
        settle(&a, &b);
        settle(&b, &a);
        let stored = a.get("", "race", id).unwrap();
        for engine in [&a, &b] {
            let hits = engine.search("", "race", &stored.embedding, 1).unwrap();
            assert_eq!((hits[0].id, hits[0].similarity > 0.999), (id, true));
        }
    }
    assert_eq!(a.stats("", "race").unwrap().template_count, 20);
    assert_eq!(b.stats("", "race").unwrap().template_count, 20);
}

#[test]
fn concurrent_writers_on_three_servers_end_in_the_same_state() {
    let Some(url) = postgres_url() else { return };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers: Vec<Arc<GalleryEngine>> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| Arc::new(server(&url, d.path(), &format!("w{i}"))))
        .collect();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let engine = servers[w % 3].clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(100 + w as u64);
                let mut mine = Vec::new();
                for i in 0..80 {
                    let gallery = if i % 3 == 0 { "x" } else { "y" };
                    let r = engine
                        .add(template("", gallery, rng.unit_vector(DIM)))
                        .unwrap();
                    mine.push((gallery, r.id));
                    if i % 5 == 4 {
                        let (g, id) = mine.remove(0);
                        engine.delete("", g, id).unwrap();
                    }
                    if i % 7 == 6 {
                        let (g, id) = mine[0];
                        let mut again = with_id(template("", g, rng.unit_vector(DIM)), id);
                        again.replace = true;
                        engine.add(again).unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let heads: Vec<u64> = servers.iter().map(|s| s.catch_up().unwrap()).collect();
    let store = postgres_at(&url, "check");
    let head = store.feed().unwrap().head().unwrap();
    assert!(heads.iter().all(|&h| h == head), "{heads:?} vs {head}");
    // Gapless: every sequence number up to the head is one change.
    let log = store
        .feed()
        .unwrap()
        .changes(0, head, None, 100_000)
        .unwrap()
        .unwrap();
    assert_eq!(log.len() as u64, head);
    assert!(log.iter().enumerate().all(|(i, c)| c.seq() == i as u64 + 1));
    for s in &servers {
        for gallery in ["x", "y"] {
            let check = s.verify_index("", gallery).unwrap();
            assert!(check.is_consistent(), "{check:?}");
        }
        assert_eq!(s.total_templates(), servers[0].total_templates());
    }
}

#[test]
fn a_restarted_server_catches_up_from_its_index_save() {
    let Some(url) = postgres_url() else { return };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let approximate = |dir: &Path| {
        let mut c = config(dir);
        c.index.exact_max_templates = 100;
        GalleryEngine::open_with_store(c, postgres_at(&url, dir.to_str().unwrap())).unwrap()
    };
    let a = approximate(da.path());
    let mut rng = Rng::new(5);
    let mut added = Vec::new();
    for _ in 0..400 {
        added.push(a.add(template("", "big", rng.unit_vector(DIM))).unwrap());
    }
    {
        let b = approximate(db.path());
        settle(&a, &b);
        b.run_maintenance().unwrap();
        assert_ne!(b.stats("", "big").unwrap().index_kind, "exact");
        b.checkpoint().unwrap();
    }
    let manifest = std::fs::read_to_string(
        std::fs::read_dir(db.path().join("indexes"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path()
            .join("manifest.json"),
    )
    .unwrap();
    assert!(manifest.contains("\"feed_seq\":"), "{manifest}");
    // While B is down: more enrolments and some deletions.
    for _ in 0..100 {
        added.push(a.add(template("", "big", rng.unit_vector(DIM))).unwrap());
    }
    for record in added.drain(..50) {
        a.delete("", "big", record.id).unwrap();
    }
    let b = approximate(db.path());
    let report = b.startup_report();
    assert!(
        matches!(
            report.galleries[0].origin,
            IndexOrigin::Reloaded {
                replayed_inserts: 100,
                replayed_removals: 50
            }
        ),
        "{report:?}"
    );
    assert!(b.feed_status().unwrap().applied >= a.applied_seq().unwrap());
    assert_eq!(b.stats("", "big").unwrap().template_count, 450);
    for record in added.iter().step_by(37) {
        assert_eq!(
            b.search("", "big", &record.embedding, 1).unwrap()[0].id,
            record.id
        );
    }
}
