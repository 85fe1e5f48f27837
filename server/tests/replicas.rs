//! Three `faceserve` replicas on one PostgreSQL database: an enrolment on one is identified on another (read your
//! writes with faceserve-seq / faceserve-min-seq), a deletion on one is never returned by another, a gallery deleted
//! on one disappears everywhere, and two replicas enrolling the same template id at once agree on one winner.

mod common;
mod replicas_support;

use common::engine_code;
use faceserve_index::store::postgres::throwaway;
use faceserve_proto::v1 as pb;
use replicas_support::{PEOPLE, add_request, at_least, identify_request, replica, seq_of};

#[tokio::test]
async fn three_replicas_share_one_gallery() {
    let Some(postgres) = throwaway::shared() else {
        return;
    };
    let url = postgres.create_database("replicas").unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut replicas = Vec::new();
    for dir in &dirs {
        replicas.push(replica(&url, dir.path(), &["--store-min-seq-wait-ms", "500"]).await);
    }
    let (mut a, mut b, mut c) = (
        replicas[0].client().await,
        replicas[1].client().await,
        replicas[2].client().await,
    );

    // Added on A, identified on B: with faceserve-min-seq B waits for the change if it has not applied it yet.
    let mut ids = std::collections::HashMap::new();
    for (i, person) in PEOPLE.iter().enumerate() {
        let mut client = [&a, &b, &c][i % 3].clone();
        let added = client.add(add_request(person, 1, "cast")).await.unwrap();
        let seq = seq_of(&added);
        let mut reader = [&a, &b, &c][(i + 1) % 3].clone();
        let found = reader
            .identify(at_least(identify_request(person, 3, "cast"), seq))
            .await
            .unwrap();
        assert!(seq_of(&found) >= seq);
        let found = found.into_inner();
        assert!(found.matched, "{person}: {found:?}");
        assert_eq!(found.template_id, added.get_ref().template_id);
        assert_eq!(found.matches[0].metadata["name"], *person);
        ids.insert(*person, added.into_inner().template_id);
    }

    // Deleted on B: never returned by A, not even before A has applied the deletion.
    b.delete_template(pb::DeleteTemplateRequest {
        gallery: "cast".into(),
        template_id: ids["penny"].clone(),
    })
    .await
    .unwrap();
    let after = a
        .identify(identify_request("penny", 3, "cast"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        after.matches.iter().all(|m| m.template_id != ids["penny"]),
        "{after:?}"
    );

    // A gallery deleted on C disappears everywhere.
    let deleted = c
        .delete_gallery(pb::DeleteGalleryRequest {
            gallery: "cast".into(),
        })
        .await
        .unwrap();
    let seq = seq_of(&deleted);
    assert_eq!(
        deleted.into_inner().deleted_templates,
        PEOPLE.len() as u64 - 1
    );
    for client in [&mut a, &mut b, &mut c] {
        let status = client
            .get_gallery_stats(at_least(
                pb::GetGalleryStatsRequest {
                    gallery: "cast".into(),
                },
                seq,
            ))
            .await
            .unwrap_err();
        assert_eq!(engine_code(&status), pb::ErrorCode::GalleryNotFound);
        let listed = client
            .list_galleries(at_least(pb::ListGalleriesRequest {}, seq))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.galleries.is_empty());
    }

    // A change no replica has: UNAVAILABLE after the wait bound, with its own engine code.
    let status = a
        .get_gallery_stats(at_least(
            pb::GetGalleryStatsRequest {
                gallery: "x".into(),
            },
            seq + 1_000_000,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert_eq!(engine_code(&status), pb::ErrorCode::ReplicaBehind);
}

#[tokio::test]
async fn two_replicas_enrol_the_same_template_id_at_once() {
    let Some(postgres) = throwaway::shared() else {
        return;
    };
    let url = postgres.create_database("duplicates").unwrap();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ra, rb) = (
        replica(&url, da.path(), &[]).await,
        replica(&url, db.path(), &[]).await,
    );
    let (mut a, mut b) = (ra.client().await, rb.client().await);
    for (round, person) in PEOPLE.iter().enumerate() {
        let id = uuid::Uuid::new_v4().to_string();
        let request = |n| pb::AddRequest {
            template_id: id.clone(),
            ..add_request(person, n, "race")
        };
        let (on_a, on_b) = tokio::join!(a.add(request(1)), b.add(request(2)));
        let (won, lost) = match (on_a, on_b) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
            other => panic!("round {round}: exactly one must win: {other:?}"),
        };
        assert_eq!(won.get_ref().template_id, id);
        assert_eq!(lost.code(), tonic::Code::AlreadyExists);
        assert_eq!(engine_code(&lost), pb::ErrorCode::TemplateExists);
        let seq = seq_of(&won);
        for client in [&mut a, &mut b] {
            let found = client
                .identify(at_least(identify_request(person, 3, "race"), seq))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(found.template_id, id, "{person}");
        }
    }
    let stats = a
        .get_gallery_stats(pb::GetGalleryStatsRequest {
            gallery: "race".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.template_count, PEOPLE.len() as u64);
}
