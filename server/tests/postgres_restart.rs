//! PostgreSQL restarted under load: writes answer UNAVAILABLE (engine code 123) while it is down, identification goes
//! on from memory (the stale gauge says so), no acknowledged template is lost, and both replicas resume writing by
//! themselves once it is back. This binary's one PostgreSQL server is its own, since the test stops it.

mod common;
mod replicas_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::engine_code;
use faceserve_index::store::postgres::throwaway::{self, ThrowawayPostgres};
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use replicas_support::{PEOPLE, add_request, identify_request, replica};
use tonic::transport::Channel;

#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<String>,
    unavailable: usize,
    other_errors: Vec<String>,
}

fn enrol_forever(mut client: FaceServiceClient<Channel>, outcomes: Arc<Mutex<Outcomes>>) {
    tokio::spawn(async move {
        for i in 0.. {
            let person = PEOPLE[i % PEOPLE.len()];
            let result = client
                .add(add_request(person, 1 + (i % 5) as u32, "lobby"))
                .await;
            {
                let mut outcomes = outcomes.lock().unwrap();
                match result {
                    Ok(answer) => outcomes.acknowledged.push(answer.into_inner().template_id),
                    Err(status) if status.code() == tonic::Code::Unavailable => {
                        assert_eq!(engine_code(&status), pb::ErrorCode::StoreUnavailable);
                        assert!(
                            status.message().contains("unavailable"),
                            "{}",
                            status.message()
                        );
                        outcomes.unavailable += 1;
                    }
                    Err(status) => outcomes.other_errors.push(format!("{status:?}")),
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

async fn metrics(server: &common::TestServer) -> String {
    let url = format!("http://{}/metrics", server.metrics_addr);
    tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_postgres_restart_under_load_loses_nothing_and_replicas_resume() {
    if throwaway::binaries().is_none() {
        // The loud message and the CI check.
        let _ = throwaway::shared();
        return;
    }
    let postgres = ThrowawayPostgres::launch().unwrap();
    let url = postgres.create_database("restart").unwrap();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let quick = ["--store-query-timeout-secs", "3"];
    let (a, b) = (
        replica(&url, da.path(), &quick).await,
        replica(&url, db.path(), &quick).await,
    );
    let mut a_client = a.client().await;
    let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
    enrol_forever(a_client.clone(), outcomes.clone());
    enrol_forever(b.client().await, outcomes.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;

    postgres.stop().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = outcomes.lock().unwrap().acknowledged.len();
    let found = a_client
        .identify(identify_request("penny", 3, "lobby"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        found.matched,
        "identification goes on from memory: {found:?}"
    );
    let text = metrics(&a).await;
    assert!(text.contains("faceserve_gallery_stale 1"), "{text}");
    assert!(
        !text.contains("faceserve_searches_from_memory_total 0"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        outcomes.lock().unwrap().acknowledged.len(),
        during,
        "no write is acknowledged while it is down"
    );

    postgres.start_again().unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    assert!(
        outcomes.unavailable > 0,
        "writes during the gap were refused"
    );
    assert!(
        outcomes.acknowledged.len() > during + 2,
        "writes resume by themselves"
    );
    assert!(
        outcomes.other_errors.is_empty(),
        "{:?}",
        outcomes.other_errors
    );
    let text = metrics(&a).await;
    assert!(text.contains("faceserve_gallery_stale 0"), "{text}");

    let mut b_client = b.client().await;
    for id in &outcomes.acknowledged {
        for client in [&mut a_client, &mut b_client] {
            client
                .get_template(pb::GetTemplateRequest {
                    gallery: "lobby".into(),
                    template_id: id.clone(),
                    include_embedding: false,
                })
                .await
                .unwrap_or_else(|e| panic!("acknowledged template {id} lost: {e}"));
        }
    }
}
