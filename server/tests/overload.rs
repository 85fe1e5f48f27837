//! Overload on the real server: a call whose `grpc-timeout` (or HTTP timeout) passes while it waits for a model is
//! answered DEADLINE_EXCEEDED with its detail and never reaches the model; a queue over its time budget answers
//! RESOURCE_EXHAUSTED (code 120, with when to retry; HTTP 429 with `Retry-After`) at once. What happened is in
//! the metrics. No timing is asserted beyond what the outcome itself shows.

mod common;
mod http_support;

use std::time::Duration;

use common::{TestServer, encoded, photo};
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::ErrorCode;
use http_support::curl;
use tonic::Code;

const AMY1: &str = "faceapi_js_images/examples/images/amy/amy1.png";

fn identify_request() -> pb::IdentifyRequest {
    pb::IdentifyRequest {
        image: encoded(photo(AMY1)),
        ..Default::default()
    }
}

/// The value of a metric line `name{labels} value` of the server's /metrics, 0 when absent.
fn metric(server: &TestServer, name_and_labels: &str) -> f64 {
    let text = ureq::get(&format!("http://{}/metrics", server.metrics_addr))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Sends `count` identifies at once, each with `timeout` as its `grpc-timeout` when given; returns the outcomes.
async fn burst(
    server: &TestServer,
    count: usize,
    timeout: Option<Duration>,
) -> Vec<Result<pb::IdentifyResponse, tonic::Status>> {
    let client = server.client().await;
    let calls = (0..count).map(|_| {
        let mut client = client.clone();
        async move {
            let mut request = tonic::Request::new(identify_request());
            if let Some(timeout) = timeout {
                request.set_timeout(timeout);
            }
            client
                .identify(request)
                .await
                .map(tonic::Response::into_inner)
        }
    });
    futures::future::join_all(calls).await
}

#[tokio::test]
async fn calls_whose_deadline_passes_in_the_queue_never_reach_the_model() {
    // One detection at a time and no time budget: only the deadlines bound the wait.
    let server =
        TestServer::start(&["--detector-max-batch", "1", "--detector-max-queue-ms", "0"]).await;
    let add = pb::AddRequest {
        image: encoded(photo(AMY1)),
        ..Default::default()
    };
    server.client().await.add(add).await.unwrap();
    let outcomes = burst(&server, 32, Some(Duration::from_millis(250))).await;
    let expired: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        !expired.is_empty(),
        "32 detections at once do not fit in 250 ms"
    );
    let mut with_detail = 0;
    for status in &expired {
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        // The server answers before the deadline; on a loaded machine the client's own timer may still win.
        if let Some(detail) = faceserve_proto::error_detail_from_status(status) {
            assert_eq!(detail.code(), ErrorCode::Cancelled);
            with_detail += 1;
        }
    }
    assert!(
        with_detail > 0,
        "the server answered the expired calls itself"
    );
    let expired_in_queue = metric(
        &server,
        "faceserve_expired_requests_total{model=\"detector\"}",
    );
    assert!(expired_in_queue >= 1.0, "{expired_in_queue}");
    // The add, the answered identifies, and nothing of the expired ones, ran through the detector (each photo
    // runs once; a miss at full scale would run again at half scale, which amy1 does not need).
    let detected = metric(
        &server,
        "faceserve_inference_items_total{model=\"detector\"}",
    );
    let answered = outcomes.iter().filter(|o| o.is_ok()).count() as f64;
    assert!(
        detected < 1.0 + 32.0 && detected >= 1.0 + answered,
        "detector ran {detected} items for 1 add and {answered} answers"
    );
}

// Multi-threaded: curl blocks the test's thread, and the gRPC load must go on meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_over_its_time_budget_answers_resource_exhausted_at_once() {
    let (server, base) =
        http_support::start_http(&["--detector-max-batch", "1", "--detector-max-queue-ms", "50"])
            .await;
    // The first detection measures the service time the admission estimates with.
    let add = pb::AddRequest {
        image: encoded(photo(AMY1)),
        ..Default::default()
    };
    server.client().await.add(add).await.unwrap();
    let outcomes = burst(&server, 32, None).await;
    let refused: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .filter(|s| s.code() == Code::ResourceExhausted)
        .collect();
    assert!(
        !refused.is_empty(),
        "32 detections at once exceed a 50 ms budget"
    );
    for status in &refused {
        let detail = faceserve_proto::error_detail_from_status(status).unwrap();
        assert_eq!(detail.code(), ErrorCode::Overloaded, "{status:?}");
        assert!(detail.info.contains("budget 50 ms"), "{}", detail.info);
        assert!(faceserve_proto::retry_delay_from_status(status).is_some());
    }
    let counted = metric(
        &server,
        "faceserve_budget_rejected_requests_total{model=\"detector\"}",
    );
    assert!(counted >= refused.len() as f64, "{counted}");

    // Over HTTP: 429 with the spec's body and Retry-After, while waves of gRPC calls keep the queue over its budget
    // (refused calls leave the queue at once, so one wave alone may drain before curl asks).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let server_addr = server.grpc_addr.clone();
        let stop = stop.clone();
        async move {
            let channel = tonic::transport::Channel::from_shared(format!("http://{server_addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let client = pb::face_service_client::FaceServiceClient::new(channel);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let calls = (0..16).map(|_| {
                    let mut client = client.clone();
                    async move { client.identify(identify_request()).await.is_ok() }
                });
                futures::future::join_all(calls).await;
            }
        }
    });
    let mut saw_429 = false;
    for _ in 0..40 {
        let answer = curl(&[
            "-i",
            "-X",
            "POST",
            &format!("{base}/api/v1.0/identify"),
            "-F",
            &format!("photo=@{}", common::testdata().join(AMY1).display()),
        ]);
        if answer.status == 429 {
            assert!(
                answer.text.to_ascii_lowercase().contains("retry-after: "),
                "{}",
                answer.text
            );
            assert!(answer.text.contains("\"code\":120"), "{}", answer.text);
            saw_429 = true;
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    assert!(
        saw_429,
        "an HTTP identify during the burst was refused by the budget"
    );
}

#[tokio::test]
async fn an_http_timeout_answers_504_with_the_error_body() {
    let (_server, base) = http_support::start_http(&[]).await;
    let answer = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/add"),
        "-H",
        "X-Request-Timeout-Ms: 1",
        "-F",
        &format!("photo=@{}", common::testdata().join(AMY1).display()),
    ]);
    assert_eq!(answer.status, 504, "{}", answer.text);
    assert_eq!(answer.body["result"]["code"], 121, "{}", answer.text);
    let malformed = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/add"),
        "-H",
        "X-Request-Timeout-Ms: soon",
    ]);
    assert_eq!(malformed.body["result"]["code"], 110, "{}", malformed.text);
}
