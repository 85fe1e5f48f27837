//! Recognition on real photos over gRPC: 1:N identification of the face-api.js cast and 1:1 verification of the
//! deepface pairs, at the server's default threshold.

mod common;

use common::{TestServer, encoded, photo, testdata};
use faceserve_proto::v1 as pb;
use futures::StreamExt;

const CAST: [&str; 8] = [
    "amy",
    "bernadette",
    "howard",
    "leonard",
    "penny",
    "raj",
    "sheldon",
    "stuart",
];

#[tokio::test]
async fn identifies_every_cast_member_and_no_stranger() {
    let server = TestServer::start(&[]).await;
    let mut client = server.client().await;
    let mut enrolled = std::collections::HashMap::new();
    for name in CAST {
        let add = client
            .add(pb::AddRequest {
                image: encoded(photo(&format!(
                    "faceapi_js_images/examples/images/{name}/{name}1.png"
                ))),
                gallery: "cast".into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("enrolling {name}: {s:?}"))
            .into_inner();
        enrolled.insert(add.template_id, name);
    }
    let mut wrong = Vec::new();
    for name in CAST {
        for i in 2..=5 {
            let file = format!("faceapi_js_images/examples/images/{name}/{name}{i}.png");
            let answer = client
                .identify(pb::IdentifyRequest {
                    image: encoded(photo(&file)),
                    gallery: "cast".into(),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|s| panic!("identifying {file}: {s:?}"))
                .into_inner();
            let found = enrolled.get(&answer.template_id).copied();
            if !answer.matched || found != Some(name) {
                wrong.push(format!(
                    "{file}: matched={} as {found:?} ({})",
                    answer.matched, answer.best_similarity
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "misidentified: {wrong:#?}");

    let stranger = client
        .identify(pb::IdentifyRequest {
            image: encoded(photo(
                "face_recognition_examples/examples/knn_examples/test/obama1.jpg",
            )),
            gallery: "cast".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!stranger.matched, "a stranger matched: {stranger:?}");
    assert!(stranger.template_id.is_empty() && stranger.matches.is_empty());
    assert!(stranger.best_similarity < stranger.threshold);
}

#[tokio::test]
async fn verifies_the_deepface_pairs_with_at_most_two_errors() {
    let server = TestServer::start(&[]).await;
    let client = server.client().await;
    let csv = std::fs::read_to_string(testdata().join("deepface_unit_dataset/master.csv")).unwrap();
    let pairs: Vec<(String, String, bool)> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.trim().split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2] == "Yes")
        })
        .collect();
    assert_eq!(pairs.len(), 300);
    let image = |file: &str| {
        Some(pb::FaceInput {
            source: Some(pb::face_input::Source::Image(pb::Image {
                source: Some(pb::image::Source::Encoded(photo(&format!(
                    "deepface_unit_dataset/{file}"
                )))),
            })),
        })
    };
    let results: Vec<_> = futures::stream::iter(pairs.iter().cloned())
        .map(|(x, y, same)| {
            let mut client = client.clone();
            let request = pb::VerifyRequest {
                a: image(&x),
                b: image(&y),
                face_policy: pb::FacePolicy::Largest as i32,
                ..Default::default()
            };
            async move { (x, y, same, client.verify(request).await) }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut errors = Vec::new();
    for (x, y, same, result) in &results {
        match result {
            Ok(answer) if answer.get_ref().verified == *same => {}
            Ok(answer) => errors.push(format!(
                "{x} {y} same={same} similarity={}",
                answer.get_ref().similarity
            )),
            Err(status) => errors.push(format!("{x} {y}: {status:?}")),
        }
    }
    let accuracy = 1.0 - errors.len() as f64 / pairs.len() as f64;
    println!(
        "deepface pairs: accuracy {accuracy:.4} at the default threshold, errors: {errors:#?}"
    );
    assert!(errors.len() <= 2, "{} errors: {errors:#?}", errors.len());
}
