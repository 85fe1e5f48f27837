//! The engine's contract with small (exactly searched) galleries: persistence, search, paging, deletes,
//! application isolation, recognizer checks and replacement.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{DIM, MODEL, Rng, config, naive_ranking, open, template, with_id};
use faceserve_index::{EngineConfig, GalleryEngine, GalleryError};
use uuid::Uuid;

#[test]
fn a_reopened_engine_gives_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(1);
    let queries: Vec<Vec<f32>> = (0..20).map(|_| rng.unit_vector(DIM)).collect();
    let (answers, records) = {
        let engine = open(dir.path());
        let mut records = Vec::new();
        for i in 0..300 {
            let gallery = if i % 3 == 0 { "staff" } else { "visitors" };
            records.push(
                engine
                    .add(template("", gallery, rng.unit_vector(DIM)))
                    .unwrap(),
            );
        }
        let answers: Vec<_> = queries
            .iter()
            .map(|q| engine.search("", "visitors", q, 5).unwrap())
            .collect();
        (answers, records)
    };

    let engine = open(dir.path());
    assert_eq!(engine.total_templates(), 300);
    for (query, expected) in queries.iter().zip(&answers) {
        assert_eq!(&engine.search("", "visitors", query, 5).unwrap(), expected);
    }
    for record in records.iter().step_by(17) {
        assert_eq!(&engine.get("", &record.gallery, record.id).unwrap(), record);
    }
    assert_eq!(engine.stats("", "staff").unwrap().template_count, 100);
}

#[test]
fn exact_search_matches_a_naive_scan() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut rng = Rng::new(2);
    let mut stored = Vec::new();
    for _ in 0..1500 {
        let record = engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
        stored.push((record.id, record.embedding));
    }
    for _ in 0..40 {
        let query = rng.unit_vector(DIM);
        let hits = engine.search("", "g", &query, 10).unwrap();
        let expected = naive_ranking(&stored, &query);
        assert_eq!(hits.len(), 10);
        for (hit, (expected_id, expected_similarity)) in hits.iter().zip(&expected) {
            assert!((hit.similarity as f64 - expected_similarity).abs() < 1e-5);
            // Only near-ties may come in another order.
            if hit.id != *expected_id {
                let own = expected.iter().find(|(id, _)| *id == hit.id).unwrap().1;
                assert!(
                    (own - expected_similarity).abs() < 1e-5,
                    "{} ranked instead of {}",
                    hit.id,
                    expected_id
                );
            }
        }
        assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    }
    // A query equal to a stored template finds it first, at similarity ~1.
    let (id, embedding) = &stored[123];
    let best = &engine.search("", "g", embedding, 1).unwrap()[0];
    assert_eq!(best.id, *id);
    assert!((best.similarity - 1.0).abs() < 1e-5);
    assert_eq!(
        best.metadata.get("name").map(String::as_str),
        Some("someone")
    );
}

#[test]
fn paging_lists_every_template_once_while_templates_are_added() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut rng = Rng::new(3);
    let mut before: HashSet<Uuid> = HashSet::new();
    for _ in 0..103 {
        before.insert(
            engine
                .add(template("", "g", rng.unit_vector(DIM)))
                .unwrap()
                .id,
        );
    }
    let mut seen: Vec<Uuid> = Vec::new();
    let mut token: Option<String> = None;
    let mut added_while_paging = HashSet::new();
    loop {
        let (page, next) = engine.list("", "g", token.as_deref(), 10).unwrap();
        assert!(page.len() <= 10);
        seen.extend(page.iter().map(|r| r.id));
        added_while_paging.insert(
            engine
                .add(template("", "g", rng.unit_vector(DIM)))
                .unwrap()
                .id,
        );
        match next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a template was listed twice");
    assert!(
        before.is_subset(&unique),
        "a template present throughout was not listed"
    );
    assert!(unique.is_subset(&before.union(&added_while_paging).copied().collect()));

    let (_, token) = engine.list("", "g", None, 5).unwrap();
    let token = token.unwrap();
    assert!(matches!(
        engine.list("", "g", Some("garbage"), 5),
        Err(GalleryError::InvalidArgument(_))
    ));
    engine
        .add(template("", "other", rng.unit_vector(DIM)))
        .unwrap();
    assert!(matches!(
        engine.list("", "other", Some(&token), 5),
        Err(GalleryError::InvalidArgument(_))
    ));
    assert!(matches!(
        engine.list("", "g", None, 0),
        Err(GalleryError::InvalidArgument(_))
    ));
}

#[test]
fn deletes_and_gallery_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut rng = Rng::new(4);
    let kept = engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
    let gone = engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
    assert_eq!(engine.total_templates(), 2);

    engine.delete("", "g", gone.id).unwrap();
    assert!(matches!(
        engine.delete("", "g", gone.id),
        Err(GalleryError::TemplateNotFound { .. })
    ));
    assert!(matches!(
        engine.get("", "g", gone.id),
        Err(GalleryError::TemplateNotFound { .. })
    ));
    let hits = engine.search("", "g", &gone.embedding, 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![kept.id]);
    assert_eq!(engine.total_templates(), 1);

    // Deleting the last template leaves an empty gallery.
    engine.delete("", "g", kept.id).unwrap();
    let stats = engine.stats("", "g").unwrap();
    assert_eq!(
        (stats.template_count, stats.index_kind, stats.model.as_str()),
        (0, "exact", MODEL)
    );
    assert_eq!(stats.dimension as usize, DIM);
    assert!(
        engine
            .search("", "g", &kept.embedding, 3)
            .unwrap()
            .is_empty()
    );
    assert!(engine.list("", "g", None, 10).unwrap().0.is_empty());

    for _ in 0..5 {
        engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
    }
    engine.add(template("", "h", rng.unit_vector(DIM))).unwrap();
    let names: Vec<String> = engine
        .galleries("")
        .unwrap()
        .into_iter()
        .map(|s| s.gallery)
        .collect();
    assert_eq!(names, vec!["g", "h"]);
    assert_eq!(engine.delete_gallery("", "g").unwrap(), 5);
    assert_eq!(engine.total_templates(), 1);
    let missing =
        |r: Result<(), GalleryError>| matches!(r, Err(GalleryError::GalleryNotFound { .. }));
    assert!(missing(engine.stats("", "g").map(drop)));
    assert!(missing(
        engine.search("", "g", &kept.embedding, 1).map(drop)
    ));
    assert!(missing(engine.list("", "g", None, 1).map(drop)));
    assert!(missing(engine.get("", "g", kept.id).map(drop)));
    assert!(missing(engine.delete("", "g", kept.id)));
    assert!(missing(engine.delete_gallery("", "g").map(drop)));
    drop(engine);

    let engine = open(dir.path());
    let names: Vec<String> = engine
        .galleries("")
        .unwrap()
        .into_iter()
        .map(|s| s.gallery)
        .collect();
    assert_eq!(names, vec!["h"]);
    assert_eq!(engine.total_templates(), 1);
}

#[test]
fn applications_cannot_see_or_touch_each_others_templates() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut rng = Rng::new(5);
    let shared_id = Uuid::new_v4();
    let a = engine
        .add(with_id(
            template("app-a", "people", rng.unit_vector(DIM)),
            shared_id,
        ))
        .unwrap();
    let b = engine
        .add(with_id(
            template("app-b", "people", rng.unit_vector(DIM)),
            shared_id,
        ))
        .unwrap();
    let only_b = engine
        .add(template("app-b", "people", rng.unit_vector(DIM)))
        .unwrap();

    assert_eq!(
        engine.get("app-a", "people", shared_id).unwrap().embedding,
        a.embedding
    );
    assert_eq!(
        engine.get("app-b", "people", shared_id).unwrap().embedding,
        b.embedding
    );
    assert!(matches!(
        engine.get("app-a", "people", only_b.id),
        Err(GalleryError::TemplateNotFound { .. })
    ));
    assert!(matches!(
        engine.delete("app-a", "people", only_b.id),
        Err(GalleryError::TemplateNotFound { .. })
    ));
    let hits = engine
        .search("app-a", "people", &only_b.embedding, 10)
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![shared_id]
    );
    assert!(matches!(
        engine.stats("", "people"),
        Err(GalleryError::GalleryNotFound { .. })
    ));
    assert_eq!(engine.galleries("app-a").unwrap()[0].template_count, 1);
    assert!(engine.galleries("app-c").unwrap().is_empty());

    engine.delete("app-a", "people", shared_id).unwrap();
    assert!(engine.get("app-b", "people", shared_id).is_ok());
    assert_eq!(engine.delete_gallery("app-a", "people").unwrap(), 0);
    assert_eq!(engine.stats("app-b", "people").unwrap().template_count, 2);
}

#[test]
fn a_store_of_another_recognizer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = open(dir.path());
        engine
            .add(template("", "g", Rng::new(6).unit_vector(DIM)))
            .unwrap();
        let empty = engine
            .add(template("", "empty", Rng::new(7).unit_vector(DIM)))
            .unwrap();
        engine.delete("", "empty", empty.id).unwrap();
    }
    let other_model = EngineConfig::new(dir.path(), "glint360k_r100", DIM);
    match GalleryEngine::open(other_model) {
        Err(GalleryError::ModelMismatch { stored, configured }) => {
            assert_eq!(
                (stored.as_str(), configured.as_str()),
                (MODEL, "glint360k_r100")
            );
        }
        other => panic!("expected ModelMismatch, got {:?}", other.map(|_| ())),
    }
    let other_dimension = EngineConfig::new(dir.path(), MODEL, DIM * 2);
    assert!(matches!(
        GalleryEngine::open(other_dimension),
        Err(GalleryError::DimensionMismatch { .. })
    ));

    // Still usable with the right recognizer; an empty store takes any recognizer, and an empty gallery
    // adopts the configured one.
    assert_eq!(open(dir.path()).total_templates(), 1);
    let fresh = tempfile::tempdir().unwrap();
    assert!(GalleryEngine::open(EngineConfig::new(fresh.path(), "glint360k_r100", 512)).is_ok());
    let engine = open(dir.path());
    engine.delete_gallery("", "g").unwrap();
    drop(engine);
    let mut retargeted = config(dir.path());
    retargeted.model = "glint360k_r100".into();
    retargeted.dimension = 512;
    let engine = GalleryEngine::open(retargeted).unwrap();
    let stats = engine.stats("", "empty").unwrap();
    assert_eq!(
        (stats.model.as_str(), stats.dimension),
        ("glint360k_r100", 512)
    );
}

#[test]
fn replace_swaps_a_template_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut rng = Rng::new(8);
    let id = Uuid::new_v4();
    let old = engine
        .add(with_id(template("", "g", rng.unit_vector(DIM)), id))
        .unwrap();
    for _ in 0..20 {
        engine.add(template("", "g", rng.unit_vector(DIM))).unwrap();
    }
    let duplicate = with_id(template("", "g", rng.unit_vector(DIM)), id);
    assert!(matches!(
        engine.add(duplicate.clone()),
        Err(GalleryError::TemplateExists { .. })
    ));
    assert_eq!(engine.get("", "g", id).unwrap().embedding, old.embedding);

    let mut replacement = duplicate;
    replacement.replace = true;
    replacement.metadata = BTreeMap::from([("name".to_string(), "renamed".to_string())]);
    let new = engine.add(replacement).unwrap();
    assert_eq!(engine.get("", "g", id).unwrap(), new);
    assert_eq!(engine.stats("", "g").unwrap().template_count, 21);
    assert_eq!(engine.total_templates(), 21);
    let best = &engine.search("", "g", &new.embedding, 1).unwrap()[0];
    assert_eq!((best.id, best.metadata["name"].as_str()), (id, "renamed"));
    let by_old = engine.search("", "g", &old.embedding, 21).unwrap();
    assert_eq!(by_old.iter().filter(|h| h.id == id).count(), 1);
    assert!(
        by_old.iter().all(|h| h.similarity < 0.999),
        "the old embedding is still indexed"
    );

    // replace on a new id simply adds it.
    let mut fresh = template("", "g", rng.unit_vector(DIM));
    fresh.replace = true;
    engine.add(fresh).unwrap();
    assert_eq!(engine.total_templates(), 22);
}

#[test]
fn bad_embeddings_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut unnormalised = vec![0.0; DIM];
    unnormalised[0] = 2.0;
    let mut not_finite = Rng::new(9).unit_vector(DIM);
    not_finite[3] = f32::NAN;
    for (embedding, dimension_error) in [
        (vec![0.1; DIM - 1], true),
        (unnormalised, false),
        (not_finite, false),
        (vec![0.0; DIM], false),
    ] {
        let result = engine.add(template("", "g", embedding));
        if dimension_error {
            assert!(matches!(
                result,
                Err(GalleryError::DimensionMismatch {
                    expected: DIM,
                    actual: 63
                })
            ));
        } else {
            assert!(
                matches!(result, Err(GalleryError::InvalidArgument(_))),
                "{result:?}"
            );
        }
    }
    assert_eq!(engine.total_templates(), 0);
    assert!(engine.galleries("").unwrap().is_empty());

    let stored = engine
        .add(template("", "g", Rng::new(10).unit_vector(DIM)))
        .unwrap();
    assert!(matches!(
        engine.search("", "g", &[1.0], 1),
        Err(GalleryError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        engine.search("", "g", &stored.embedding, 0),
        Err(GalleryError::InvalidArgument(_))
    ));
}
