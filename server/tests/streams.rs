//! Streams and batching end to end: bulk enrolment of 200 real photos with bad ones mixed in, "latest frame wins",
//! the queue bound, and the metrics a user tunes with, scraped and parsed.

mod common;

use std::collections::HashMap;

use common::{TestServer, encoded, photo, testdata};
use faceserve_proto::v1 as pb;
use futures::StreamExt;

/// 200 inputs: LFW photos with every tenth replaced by a bad input, and the engine code each must get (0 = ok).
fn mixed_batch() -> Vec<(Option<pb::Image>, i32)> {
    let lfw = testdata().join("lfw_view1/images");
    let mut people: Vec<_> = std::fs::read_dir(&lfw)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    people.sort();
    let good = people.iter().filter_map(|dir| {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.first().map(|f| std::fs::read(f).unwrap())
    });
    let bad: [(Option<pb::Image>, i32); 4] = [
        (None, pb::ErrorCode::PhotoEmpty as i32),
        (
            encoded(b"not an image at all".to_vec()),
            pb::ErrorCode::WrongMimeType as i32,
        ),
        (
            encoded(photo("faceapi_js_images/test/images/white.png")),
            pb::ErrorCode::NoFace as i32,
        ),
        (
            encoded(photo("deepface_unit_dataset/couple.jpg")),
            pb::ErrorCode::MoreThanOneFace as i32,
        ),
    ];
    good.take(180)
        .enumerate()
        .flat_map(|(i, bytes)| {
            let mut items = vec![(encoded(bytes), 0)];
            if i % 9 == 8 {
                items.push(bad[(i / 9) % bad.len()].clone());
            }
            items
        })
        .take(200)
        .collect()
}

fn metric(text: &str, name: &str, labels: &str) -> f64 {
    let key = if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{labels}}}")
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.strip_prefix(&key)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

async fn scrape(server: &TestServer) -> String {
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
async fn bulk_enrolment_answers_every_photo_in_order() {
    let server = TestServer::start(&["--recognizer-max-batch", "8"]).await;
    let inputs = mixed_batch();
    assert_eq!(inputs.len(), 200);
    let expected: HashMap<String, i32> = inputs
        .iter()
        .enumerate()
        .map(|(i, (_, code))| (i.to_string(), *code))
        .collect();
    let requests: Vec<pb::AddStreamRequest> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, (image, code))| pb::AddStreamRequest {
            request_id: i.to_string(),
            request: Some(pb::AddRequest {
                image,
                gallery: "bulk".into(),
                // LFW photos often show a second person at the edge; the bad inputs keep the strict policy.
                face_policy: if code == 0 {
                    pb::FacePolicy::Largest
                } else {
                    pb::FacePolicy::Single
                } as i32,
                ..Default::default()
            }),
        })
        .collect();
    let mut client = server.client().await;
    let answers: Vec<pb::AddStreamResponse> = client
        .add_stream(futures::stream::iter(requests))
        .await
        .unwrap()
        .into_inner()
        .map(|a| a.expect("the stream never ends on a bad photo"))
        .collect()
        .await;
    assert_eq!(answers.len(), 200);
    let mut enrolled = 0;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(
            answer.request_id,
            i.to_string(),
            "answers come back in request order"
        );
        use pb::add_stream_response::Result as R;
        match (&answer.result, expected[&answer.request_id]) {
            (Some(R::Ok(ok)), 0) => {
                assert!(!ok.template_id.is_empty());
                enrolled += 1;
            }
            (Some(R::Error(e)), code) if code != 0 => assert_eq!(e.code, code, "item {i}: {e:?}"),
            (other, code) => panic!("item {i}: expected code {code}, got {other:?}"),
        }
    }
    let stats = client
        .get_gallery_stats(pb::GetGalleryStatsRequest {
            gallery: "bulk".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.template_count, enrolled);

    let text = scrape(&server).await;
    assert_eq!(
        metric(&text, "faceserve_gallery_templates", ""),
        enrolled as f64
    );
    let ok = metric(
        &text,
        "faceserve_requests_total",
        "code=\"OK\",engine_code=\"0\",rpc=\"AddStream\"",
    );
    assert_eq!(ok, enrolled as f64, "{text}");
    let items = metric(
        &text,
        "faceserve_inference_items_total",
        "model=\"recognizer\"",
    );
    let runs = metric(
        &text,
        "faceserve_inference_executions_total",
        "model=\"recognizer\"",
    );
    assert!(
        items >= enrolled as f64,
        "every enrolled face ran the recognizer"
    );
    assert!(
        runs >= 1.0 && runs <= items,
        "average batch = items / executions is at least 1"
    );
    assert!(text.contains("faceserve_queue_duration_seconds_bucket{model=\"detector\""));
    assert!(text.contains("faceserve_batch_size_bucket{model=\"recognizer\""));
}

#[tokio::test]
async fn latest_frame_wins_skips_waiting_frames_but_never_the_newest() {
    let server = TestServer::start(&["--stream-max-in-flight", "1"]).await;
    let bytes = photo("face_recognition_examples/examples/knn_examples/test/obama_and_biden.jpg");
    let frames: Vec<pb::AnalyzeFrame> = (0..30)
        .map(|i| pb::AnalyzeFrame {
            frame_id: format!("f{i}"),
            image: encoded(bytes.clone()),
            latest_frame_wins: true,
            ..Default::default()
        })
        .collect();
    let mut client = server.client().await;
    let answers: Vec<pb::AnalyzeResult> = client
        .analyze_stream(futures::stream::iter(frames))
        .await
        .unwrap()
        .into_inner()
        .map(|a| a.unwrap())
        .collect()
        .await;
    assert_eq!(answers.len(), 30);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.frame_id, format!("f{i}"));
        if a.skipped {
            assert_eq!(
                a.error.as_ref().unwrap().code,
                pb::ErrorCode::Skipped as i32
            );
            assert!(a.faces.is_empty());
        } else {
            assert_eq!(a.faces.len(), 3, "frame {i}");
        }
    }
    // The first frame may be skipped too: all 30 can arrive before it takes its slot.
    assert!(!answers[29].skipped, "the newest frame always runs");
    let skipped = answers.iter().filter(|a| a.skipped).count();
    assert!(
        skipped > 0,
        "frames that waited behind a newer one were skipped"
    );
    let text = scrape(&server).await;
    assert_eq!(
        metric(&text, "faceserve_skipped_frames_total", ""),
        skipped as f64
    );
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_with_resource_exhausted() {
    let server = TestServer::start(&[
        "--detector-queue-capacity",
        "1",
        "--stream-max-in-flight",
        "64",
    ])
    .await;
    let client = server.client().await;
    let bytes = photo("face_recognition_examples/examples/knn_examples/test/obama_and_biden.jpg");
    let results: Vec<_> = futures::stream::iter(0..40)
        .map(|i| {
            let mut client = client.clone();
            let frame = pb::AnalyzeFrame {
                frame_id: i.to_string(),
                image: encoded(bytes.clone()),
                ..Default::default()
            };
            async move {
                let mut answers = client
                    .analyze_stream(futures::stream::iter([frame]))
                    .await
                    .unwrap()
                    .into_inner();
                answers.message().await.unwrap().unwrap()
            }
        })
        .buffer_unordered(40)
        .collect()
        .await;
    let refused = results
        .iter()
        .filter(|r| {
            r.error
                .as_ref()
                .is_some_and(|e| e.code == pb::ErrorCode::Overloaded as i32)
        })
        .count();
    let served = results.iter().filter(|r| r.error.is_none()).count();
    assert!(refused > 0, "40 frames at once cannot all fit a queue of 1");
    assert!(served > 0);
    assert_eq!(refused + served, 40);
    let text = scrape(&server).await;
    assert_eq!(
        metric(
            &text,
            "faceserve_rejected_requests_total",
            "model=\"detector\""
        ),
        refused as f64
    );
}
