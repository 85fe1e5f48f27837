//! A replica killed with SIGKILL in the middle of enrolments loses no acknowledged template, and once started again
//! it catches up with what the other replica enrolled meanwhile (SERVING only once it has).

mod common;
mod replicas_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faceserve_index::store::postgres::throwaway;
use faceserve_proto::v1 as pb;
use replicas_support::{PEOPLE, add_request, at_least, identify_request, replica, seq_of};

#[tokio::test]
async fn a_replica_killed_mid_enrolment_loses_nothing_acknowledged_and_catches_up() {
    let Some(postgres) = throwaway::shared() else {
        return;
    };
    let url = postgres.create_database("crash").unwrap();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = replica(&url, da.path(), &[]).await;
    let b = replica(&url, db.path(), &[]).await;
    let (mut a_client, mut b_client) = (a.client().await, b.client().await);

    // Enrolments on A, as fast as it answers, until it dies.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let load = {
        let (acknowledged, mut client) = (acknowledged.clone(), a_client.clone());
        tokio::spawn(async move {
            for i in 0.. {
                let person = PEOPLE[i % PEOPLE.len()];
                match client
                    .add(add_request(person, 1 + (i % 5) as u32, "door"))
                    .await
                {
                    Ok(answer) => acknowledged
                        .lock()
                        .unwrap()
                        .push(answer.into_inner().template_id),
                    Err(_) => return i,
                }
            }
            unreachable!()
        })
    };
    while acknowledged.lock().unwrap().len() < 6 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill();
    load.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();

    // While A is down, B enrols.
    let mut last_seq = 0;
    let mut on_b = Vec::new();
    for person in ["howard", "raj", "stuart"] {
        let added = b_client.add(add_request(person, 2, "door")).await.unwrap();
        last_seq = seq_of(&added);
        on_b.push(added.into_inner().template_id);
    }

    let a = replica(&url, da.path(), &[]).await;
    a_client = a.client().await;
    for id in acknowledged.iter().chain(&on_b) {
        for client in [&mut a_client, &mut b_client] {
            client
                .get_template(pb::GetTemplateRequest {
                    gallery: "door".into(),
                    template_id: id.clone(),
                    include_embedding: false,
                })
                .await
                .unwrap_or_else(|e| panic!("acknowledged template {id} lost: {e}"));
        }
    }
    // SERVING meant caught up: B's enrolments are in A's index without waiting.
    let stats = a_client
        .get_gallery_stats(pb::GetGalleryStatsRequest {
            gallery: "door".into(),
        })
        .await
        .unwrap();
    assert!(seq_of(&stats) >= last_seq);
    assert!(stats.into_inner().template_count >= (acknowledged.len() + on_b.len()) as u64);
    let found = a_client
        .identify(at_least(identify_request("raj", 4, "door"), last_seq))
        .await
        .unwrap()
        .into_inner();
    assert!(found.matched, "{found:?}");
}
