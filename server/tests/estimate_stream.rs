//! `EstimateStream`: one answer per request, in request order, a photo without a face answered with its own error
//! (code 5) while the stream goes on.

mod common;
mod estimate_support;

use common::{encoded, photo};
use estimate_support::{client, request, start};
use faceserve_proto::v1 as pb;
use futures::StreamExt;
use pb::Estimator as E;
use pb::estimate_stream_response::Result as Answer;

#[tokio::test]
async fn answers_come_in_order_with_per_photo_errors() {
    let server = start(&[]).await;
    let photos = [
        "faceapi_js_images/examples/images/happy.jpg",
        "faceapi_js_images/test/images/white.png",
        "faceapi_js_images/examples/images/bbt1.jpg",
    ];
    let requests: Vec<_> = photos
        .iter()
        .enumerate()
        .map(|(i, p)| pb::EstimateStreamRequest {
            request_id: format!("r{i}"),
            request: Some(request(encoded(photo(p)), &[E::Emotion])),
        })
        .collect();
    let answers: Vec<_> = client(&server.grpc_addr)
        .await
        .estimate_stream(futures::stream::iter(requests))
        .await
        .unwrap()
        .into_inner()
        .map(|a| a.unwrap())
        .collect()
        .await;
    let ids: Vec<_> = answers.iter().map(|a| a.request_id.as_str()).collect();
    assert_eq!(ids, ["r0", "r1", "r2"]);
    match &answers[0].result {
        Some(Answer::Ok(ok)) => assert_eq!(ok.faces[0].emotion, pb::Emotion::Happy as i32),
        other => panic!("{other:?}"),
    }
    match &answers[1].result {
        Some(Answer::Error(e)) => assert_eq!(e.code(), pb::ErrorCode::NoFace),
        other => panic!("{other:?}"),
    }
    match &answers[2].result {
        Some(Answer::Ok(ok)) => assert_eq!(ok.faces.len(), 4, "the four faces of bbt1"),
        other => panic!("{other:?}"),
    }
}
