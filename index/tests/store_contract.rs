//! The template store contract, one suite run against both implementations: SQLite (embedded) and PostgreSQL
//! (shared). Rows, sequence numbers, transactions (rollback, snapshots, serialised writers), applications, and the
//! gallery engine on top of each store.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{DIM, MODEL, Rng, config, naive_ranking, template, with_id};
use faceserve_index::store::{RevokeOutcome, TemplateStore};
use faceserve_index::{FaceGeometry, GalleryEngine, GalleryError, TemplateRecord};
use uuid::Uuid;

on_both_stores!(
    templates_round_trip,
    sequence_numbers_grow_and_replacements_get_new_ones,
    uncommitted_writes_are_rolled_back,
    a_read_sees_one_snapshot,
    writers_take_turns,
    deleting_a_gallery_removes_its_templates,
    stored_models_and_retagging,
    applications_and_keys,
    the_engine_on_the_store,
    a_reopened_engine_on_the_store_answers_the_same,
);

fn record(gallery: &str, seed: u64) -> TemplateRecord {
    let mut rng = Rng::new(seed);
    TemplateRecord {
        app: "app".into(),
        gallery: gallery.into(),
        id: Uuid::new_v4(),
        model: MODEL.into(),
        embedding: rng.unit_vector(DIM),
        face: FaceGeometry {
            bbox: [1.0, 2.0, 30.0, 40.0],
            landmarks: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.5]],
            score: 0.875,
        },
        created_at_ms: 1_700_000_000_000 + seed as i64,
        metadata: BTreeMap::from([("name".to_string(), format!("person {seed}"))]),
    }
}

fn templates_round_trip(store: Arc<dyn TemplateStore>, _: &Path) {
    let mut tx = store.write().unwrap();
    let gallery = tx
        .create_gallery("app", "staff", MODEL, DIM as u32, 5)
        .unwrap();
    let stored: Vec<(u64, TemplateRecord)> = (0..25)
        .map(|i| {
            let r = record("staff", i);
            (tx.insert_template(gallery.id, &r).unwrap(), r)
        })
        .collect();
    tx.commit().unwrap();

    let read = store.read().unwrap();
    assert_eq!(
        read.find_gallery("app", "staff").unwrap(),
        Some(gallery.clone())
    );
    assert_eq!(read.find_gallery("other", "staff").unwrap(), None);
    assert_eq!(read.galleries().unwrap(), vec![gallery.clone()]);
    for (seq, r) in &stored {
        assert_eq!(read.find_seq(gallery.id, r.id).unwrap(), Some(*seq));
        assert_eq!(read.get_template(&gallery, r.id).unwrap().as_ref(), Some(r));
    }
    assert_eq!(read.get_template(&gallery, Uuid::new_v4()).unwrap(), None);
    let first = read.templates_after(&gallery, 0, 10).unwrap();
    let rest = read
        .templates_after(&gallery, first.last().unwrap().0, 100)
        .unwrap();
    let paged: Vec<_> = first.into_iter().chain(rest).collect();
    assert_eq!(paged, stored);
    let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
    assert_eq!(read.gallery_seqs(gallery.id).unwrap(), seqs);
    assert_eq!(
        read.gallery_extent(gallery.id).unwrap(),
        (25, *seqs.last().unwrap())
    );
    let keys = read
        .template_keys(gallery.id, &[seqs[3], 999_999, seqs[0]])
        .unwrap();
    assert_eq!(keys[0].as_ref().unwrap().id, stored[3].1.id);
    assert_eq!(keys[0].as_ref().unwrap().metadata, stored[3].1.metadata);
    assert!(keys[1].is_none());
    assert_eq!(keys[2].as_ref().unwrap().id, stored[0].1.id);
    let vectors = read.vectors_after(gallery.id, seqs[20], 100).unwrap();
    assert_eq!(vectors.len(), 4);
    assert_eq!(vectors[0].embedding, stored[21].1.embedding);
    let by_seq = read
        .vectors_by_seq(gallery.id, &[seqs[5], seqs[2]])
        .unwrap();
    let mut found: Vec<u64> = by_seq.iter().map(|v| v.seq).collect();
    found.sort();
    assert_eq!(found, vec![seqs[2], seqs[5]]);
    let keys = read.keys_after(&gallery, seqs[22], 10).unwrap();
    assert_eq!(
        keys.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        seqs[23..].to_vec()
    );
}

fn sequence_numbers_grow_and_replacements_get_new_ones(store: Arc<dyn TemplateStore>, _: &Path) {
    let r = record("g", 1);
    let mut tx = store.write().unwrap();
    let gallery = tx.create_gallery("app", "g", MODEL, DIM as u32, 0).unwrap();
    let first = tx.insert_template(gallery.id, &r).unwrap();
    tx.commit().unwrap();
    let mut tx = store.write().unwrap();
    tx.delete_template(first).unwrap();
    let second = tx.insert_template(gallery.id, &r).unwrap();
    tx.commit().unwrap();
    assert!(second > first, "{second} > {first}");
    let read = store.read().unwrap();
    assert_eq!(read.find_seq(gallery.id, r.id).unwrap(), Some(second));
    assert_eq!(read.gallery_seqs(gallery.id).unwrap(), vec![second]);
    let mut tx = store.write().unwrap();
    let err = tx.insert_template(gallery.id, &r).unwrap_err();
    assert!(
        matches!(err, GalleryError::Storage(_)),
        "a duplicate id breaks the unique key: {err:?}"
    );
}

fn uncommitted_writes_are_rolled_back(store: Arc<dyn TemplateStore>, _: &Path) {
    {
        let mut tx = store.write().unwrap();
        let gallery = tx
            .create_gallery("app", "gone", MODEL, DIM as u32, 0)
            .unwrap();
        tx.insert_template(gallery.id, &record("gone", 1)).unwrap();
    }
    let read = store.read().unwrap();
    assert_eq!(read.find_gallery("app", "gone").unwrap(), None);
    assert!(read.galleries().unwrap().is_empty());
    drop(read);
    // The store is usable afterwards, and the rolled-back sequence numbers leave no gap to a feed.
    let mut tx = store.write().unwrap();
    let gallery = tx
        .create_gallery("app", "kept", MODEL, DIM as u32, 0)
        .unwrap();
    let seq = tx.insert_template(gallery.id, &record("kept", 2)).unwrap();
    if let Some(position) = tx.feed_position() {
        assert_eq!(position.last, seq);
        assert_eq!(position.before + 1, seq);
    }
    tx.commit().unwrap();
}

fn a_read_sees_one_snapshot(store: Arc<dyn TemplateStore>, _: &Path) {
    let mut tx = store.write().unwrap();
    let gallery = tx.create_gallery("app", "g", MODEL, DIM as u32, 0).unwrap();
    tx.insert_template(gallery.id, &record("g", 1)).unwrap();
    tx.commit().unwrap();
    let read = store.read().unwrap();
    assert_eq!(read.gallery_extent(gallery.id).unwrap().0, 1);
    let mut tx = store.write().unwrap();
    tx.insert_template(gallery.id, &record("g", 2)).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        read.gallery_extent(gallery.id).unwrap().0,
        1,
        "the snapshot stays"
    );
    drop(read);
    assert_eq!(
        store.read().unwrap().gallery_extent(gallery.id).unwrap().0,
        2
    );
}

fn writers_take_turns(store: Arc<dyn TemplateStore>, _: &Path) {
    let mut tx = store.write().unwrap();
    let gallery = tx.create_gallery("app", "g", MODEL, DIM as u32, 0).unwrap();
    tx.commit().unwrap();
    let r = record("g", 7);
    let mut first = store.write().unwrap();
    first.insert_template(gallery.id, &r).unwrap();
    let (other, id) = (store.clone(), r.id);
    let second = std::thread::spawn(move || {
        let started = Instant::now();
        let tx = other.write().unwrap();
        // The second writer starts after the first committed, and sees its row.
        let seen = tx.find_seq(gallery.id, id).unwrap();
        (started.elapsed(), seen)
    });
    std::thread::sleep(Duration::from_millis(300));
    first.commit().unwrap();
    let (waited, seen) = second.join().unwrap();
    assert!(waited >= Duration::from_millis(250), "waited {waited:?}");
    assert!(seen.is_some());
}

fn deleting_a_gallery_removes_its_templates(store: Arc<dyn TemplateStore>, _: &Path) {
    let mut tx = store.write().unwrap();
    let a = tx.create_gallery("app", "a", MODEL, DIM as u32, 0).unwrap();
    let b = tx.create_gallery("app", "b", MODEL, DIM as u32, 0).unwrap();
    for i in 0..5 {
        tx.insert_template(a.id, &record("a", i)).unwrap();
    }
    tx.insert_template(b.id, &record("b", 9)).unwrap();
    tx.commit().unwrap();
    let mut tx = store.write().unwrap();
    assert_eq!(tx.delete_gallery(a.id).unwrap(), 5);
    tx.commit().unwrap();
    let read = store.read().unwrap();
    assert_eq!(read.galleries().unwrap(), vec![b.clone()]);
    assert_eq!(read.gallery_extent(a.id).unwrap(), (0, 0));
    assert_eq!(read.gallery_extent(b.id).unwrap().0, 1);
    drop(read);
    // The name can be used again, for a new gallery.
    let mut tx = store.write().unwrap();
    let again = tx.create_gallery("app", "a", MODEL, DIM as u32, 0).unwrap();
    assert_ne!(again.id, a.id);
    tx.commit().unwrap();
}

fn stored_models_and_retagging(store: Arc<dyn TemplateStore>, _: &Path) {
    let mut tx = store.write().unwrap();
    let full = tx
        .create_gallery("app", "full", MODEL, DIM as u32, 0)
        .unwrap();
    tx.create_gallery("app", "empty", "old_model", 128, 0)
        .unwrap();
    tx.insert_template(full.id, &record("full", 1)).unwrap();
    tx.insert_template(full.id, &record("full", 2)).unwrap();
    let models = tx.stored_models().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(
        (
            models[0].model.as_str(),
            models[0].dimension,
            models[0].templates
        ),
        (MODEL, DIM as u32, 2)
    );
    assert_eq!(tx.retag_empty_galleries(MODEL, DIM as u32).unwrap(), 1);
    tx.commit().unwrap();
    let empty = store
        .read()
        .unwrap()
        .find_gallery("app", "empty")
        .unwrap()
        .unwrap();
    assert_eq!((empty.model.as_str(), empty.dimension), (MODEL, DIM as u32));
}

fn applications_and_keys(store: Arc<dyn TemplateStore>, _: &Path) {
    let apps = store.apps();
    // (How another process's change moves `version` is each store's own test: SQLite's data_version in the server's
    // registry tests, PostgreSQL's announcement in postgres_feed.rs.)
    assert!(apps.create_app("door", "hash-1", "lobby").unwrap());
    assert!(
        !apps.create_app("door", "hash-x", "").unwrap(),
        "ids are unique"
    );
    assert!(apps.create_app("gate", "hash-2", "").unwrap());
    assert_eq!(apps.active_key_hashes().unwrap().len(), 2);
    assert!(apps.replace_key("door", "hash-3").unwrap());
    assert!(!apps.replace_key("nobody", "h").unwrap());
    assert_eq!(apps.revoke_app("gate").unwrap(), RevokeOutcome::Revoked);
    assert_eq!(
        apps.revoke_app("gate").unwrap(),
        RevokeOutcome::AlreadyRevoked
    );
    assert_eq!(apps.revoke_app("nobody").unwrap(), RevokeOutcome::NoSuchApp);
    assert_eq!(
        apps.active_key_hashes().unwrap(),
        vec![("door".to_string(), "hash-3".to_string())]
    );
    let listed = apps.list_apps().unwrap();
    assert_eq!(
        listed.iter().map(|a| a.app_id.as_str()).collect::<Vec<_>>(),
        ["door", "gate"]
    );
    assert_eq!(listed[0].note, "lobby");
    assert!(listed[1].revoked_at_ms.is_some() && listed[0].revoked_at_ms.is_none());
    // Replacing a key lifts a revocation.
    assert!(apps.replace_key("gate", "hash-4").unwrap());
    assert_eq!(apps.active_key_hashes().unwrap().len(), 2);
}

fn the_engine_on_the_store(store: Arc<dyn TemplateStore>, dir: &Path) {
    let engine = GalleryEngine::open_with_store(config(dir), store).unwrap();
    let mut rng = Rng::new(3);
    let mut stored = Vec::new();
    for _ in 0..200 {
        let r = engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
        stored.push((r.id, r.embedding));
    }
    engine
        .add(template("other-app", "g", rng.unit_vector(DIM)))
        .unwrap();
    for _ in 0..10 {
        let query = rng.unit_vector(DIM);
        let hits = engine.search("", "g", &query, 5).unwrap();
        let expected = naive_ranking(&stored, &query);
        let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
        let want: Vec<Uuid> = expected.iter().take(5).map(|(id, _)| *id).collect();
        assert_eq!(ids, want);
    }
    assert_eq!(engine.stats("", "g").unwrap().template_count, 200);
    assert_eq!(engine.stats("other-app", "g").unwrap().template_count, 1);
    let id = stored[7].0;
    let again = with_id(template("", "g", rng.unit_vector(DIM)), id);
    assert!(matches!(
        engine.add(again.clone()),
        Err(GalleryError::TemplateExists { .. })
    ));
    let mut replacing = again;
    replacing.replace = true;
    let replaced = engine.add(replacing).unwrap();
    assert_eq!(
        engine.get("", "g", id).unwrap().embedding,
        replaced.embedding
    );
    let top = engine.search("", "g", &replaced.embedding, 1).unwrap();
    assert_eq!(top[0].id, id);
    assert!(top[0].similarity > 0.999);
    engine.delete("", "g", id).unwrap();
    assert!(
        engine
            .search("", "g", &replaced.embedding, 3)
            .unwrap()
            .iter()
            .all(|h| h.id != id)
    );
    assert!(matches!(
        engine.get("", "g", id),
        Err(GalleryError::TemplateNotFound { .. })
    ));
    let (page, next) = engine.list("", "g", None, 150).unwrap();
    let (rest, end) = engine.list("", "g", next.as_deref(), 150).unwrap();
    assert_eq!((page.len(), rest.len(), end), (150, 49, None));
    assert_eq!(engine.total_templates(), 200);
    assert_eq!(engine.delete_gallery("", "g").unwrap(), 199);
    assert!(matches!(
        engine.search("", "g", &replaced.embedding, 1),
        Err(GalleryError::GalleryNotFound { .. })
    ));
    assert_eq!(engine.total_templates(), 1);
    assert!(
        engine
            .verify_index("other-app", "g")
            .unwrap()
            .is_consistent()
    );
}

fn a_reopened_engine_on_the_store_answers_the_same(store: Arc<dyn TemplateStore>, dir: &Path) {
    let mut rng = Rng::new(4);
    let queries: Vec<Vec<f32>> = (0..10).map(|_| rng.unit_vector(DIM)).collect();
    let answers: Vec<_> = {
        let engine = GalleryEngine::open_with_store(config(dir), store.clone()).unwrap();
        for _ in 0..300 {
            engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
        }
        queries
            .iter()
            .map(|q| engine.search("", "g", q, 5).unwrap())
            .collect()
    };
    let engine = GalleryEngine::open_with_store(config(dir), store).unwrap();
    assert_eq!(engine.total_templates(), 300);
    for (query, expected) in queries.iter().zip(&answers) {
        assert_eq!(&engine.search("", "g", query, 5).unwrap(), expected);
    }
}
