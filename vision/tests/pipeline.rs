//! The default pipeline against figures from the reference implementation (InsightFace's Python preprocessing with
//! onnxruntime 1.31.1 on the same photos): detection boxes and scores, and genuine / impostor cosines, which move
//! when colour order, normalisation or the alignment template are wrong even while accuracy does not.

mod support;

use std::sync::Arc;

use faceserve_batcher::NoopObserver;
use faceserve_vision::pipeline::{FacePipeline, FacePolicy, OwnedImage};
use support::{default_pipeline_config, photo, runtime};

async fn pipeline() -> FacePipeline {
    FacePipeline::start(
        &runtime(),
        &default_pipeline_config(),
        Arc::new(NoopObserver),
    )
    .expect("pipeline starts")
}

#[tokio::test]
async fn detections_match_the_reference() {
    let p = pipeline().await;
    let image = p
        .decode(OwnedImage::Encoded(photo(
            "face_recognition_examples/examples/knn_examples/test/obama_and_biden.jpg",
        )))
        .await
        .unwrap();
    let faces = p.detect(image).await.unwrap();
    // Reference: Obama, Biden and the girl in the lower right.
    let reference = [
        ([1142.5, 357.6, 1327.9, 605.0], 0.9025),
        ([760.4, 384.2, 941.0, 646.1], 0.8816),
        ([1628.1, 1030.9, 1787.1, 1220.3], 0.8311),
    ];
    assert_eq!(faces.len(), reference.len(), "{faces:?}");
    for (face, (bbox, score)) in faces.iter().zip(reference) {
        assert!(
            (face.score - score).abs() < 0.01,
            "score {} vs {score}",
            face.score
        );
        for (got, want) in face.bbox.iter().zip(bbox) {
            assert!((got - want).abs() < 4.0, "box {:?} vs {bbox:?}", face.bbox);
        }
    }
}

async fn cosine(p: &FacePipeline, a: &str, b: &str) -> f32 {
    let ea = p
        .embed_one_face(OwnedImage::Encoded(photo(a)), FacePolicy::Largest)
        .await
        .unwrap();
    let eb = p
        .embed_one_face(OwnedImage::Encoded(photo(b)), FacePolicy::Largest)
        .await
        .unwrap();
    ea.embedding
        .vector
        .iter()
        .zip(&eb.embedding.vector)
        .map(|(x, y)| x * y)
        .sum()
}

#[tokio::test]
async fn cosines_match_the_reference() {
    let p = pipeline().await;
    let cases = [
        (
            "face_recognition_examples/examples/knn_examples/test/obama1.jpg",
            "face_recognition_examples/tests/test_images/obama.jpg",
            0.7187,
        ),
        (
            "faceapi_js_images/examples/images/amy/amy1.png",
            "faceapi_js_images/examples/images/amy/amy3.png",
            0.6212,
        ),
        (
            "faceapi_js_images/examples/images/amy/amy1.png",
            "faceapi_js_images/examples/images/raj/raj1.png",
            0.0364,
        ),
    ];
    for (a, b, reference) in cases {
        let c = cosine(&p, a, b).await;
        println!("{a} vs {b}: {c:.4} (reference {reference})");
        assert!(
            (c - reference).abs() < 0.01,
            "{a} vs {b}: cosine {c}, reference {reference}"
        );
    }
}
