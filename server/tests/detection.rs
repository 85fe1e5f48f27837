//! Face detection on real photos: labelled face counts, EXIF orientation, and the pixel limit.

mod common;

use common::{TestServer, encoded, photo, testdata};
use faceserve_proto::v1 as pb;
use futures::StreamExt;

/// Runs frames through AnalyzeStream (detection only) and returns the answers in order.
async fn detect(server: &TestServer, files: &[String]) -> Vec<pb::AnalyzeResult> {
    let frames: Vec<pb::AnalyzeFrame> = files
        .iter()
        .map(|f| pb::AnalyzeFrame {
            frame_id: f.clone(),
            image: encoded(photo(f)),
            ..Default::default()
        })
        .collect();
    let mut client = server.client().await;
    let answers = client
        .analyze_stream(futures::stream::iter(frames))
        .await
        .expect("stream opens")
        .into_inner();
    answers.map(|a| a.expect("stream item")).collect().await
}

#[tokio::test]
async fn face_counts_match_the_compreface_labels() {
    // The camera photos of person A are 12-36 megapixels, over the spec's default limit of 10.
    let server = TestServer::start(&["--max-image-pixels", "40000000"]).await;
    let csv =
        std::fs::read_to_string(testdata().join("compreface_samples/annotations.csv")).unwrap();
    let mut labelled = Vec::new();
    for line in csv.lines().skip(1) {
        let mut fields = line.split(',');
        let file = fields.next().unwrap().to_string();
        let count: usize = fields.next().unwrap().parse().unwrap();
        labelled.push((format!("compreface_samples/{file}"), count));
    }
    assert_eq!(labelled.len(), 18);
    let files: Vec<String> = labelled.iter().map(|(f, _)| f.clone()).collect();
    let answers = detect(&server, &files).await;
    let mut wrong = Vec::new();
    for ((file, expected), answer) in labelled.iter().zip(&answers) {
        assert_eq!(&answer.frame_id, file, "answers come back in request order");
        assert!(answer.error.is_none(), "{file}: {:?}", answer.error);
        if answer.faces.len() != *expected {
            wrong.push(format!(
                "{file}: {} faces, labelled {expected}",
                answer.faces.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn exif_orientation_is_applied_before_detection() {
    let server = TestServer::start(&[]).await;
    // Stored 640x480 with EXIF orientation 6 (rotate 90 degrees clockwise to view).
    let answers = detect(
        &server,
        &["antispoof_minivision_samples/image_T1.jpg".to_string()],
    )
    .await;
    let answer = &answers[0];
    assert_eq!((answer.image_width, answer.image_height), (480, 640));
    assert_eq!(answer.faces.len(), 1, "{answer:?}");
    let face = answer.faces[0].face.as_ref().unwrap();
    let b = face.r#box.as_ref().unwrap();
    assert!(
        b.x >= 0 && b.x + b.w <= 480 && b.y + b.h <= 640,
        "box {b:?} inside the upright image"
    );
    // Upright face: both eyes above the nose, above the mouth corners.
    let y = |i: usize| face.landmarks[i].y;
    assert!(
        y(0) < y(2) && y(1) < y(2) && y(2) < y(3) && y(2) < y(4),
        "{:?}",
        face.landmarks
    );
}
