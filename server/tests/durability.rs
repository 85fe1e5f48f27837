//! An acknowledged template survives a crash: enrol, SIGKILL the server, start it again on the same data folder,
//! and the face is still found.

mod common;

use common::{TestServer, encoded, photo};
use faceserve_proto::v1 as pb;

#[tokio::test]
async fn enrolled_template_survives_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = TestServer::start_with_data(&data, &[]).await;
    let mut client = server.client().await;
    let added = client
        .add(pb::AddRequest {
            image: encoded(photo("faceapi_js_images/examples/images/penny/penny1.png")),
            gallery: "durable".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    server.kill();

    let server = TestServer::start_with_data(&data, &[]).await;
    let mut client = server.client().await;
    let found = client
        .identify(pb::IdentifyRequest {
            image: encoded(photo("faceapi_js_images/examples/images/penny/penny3.png")),
            gallery: "durable".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(found.matched, "{found:?}");
    assert_eq!(found.template_id, added.template_id);
    let stats = client
        .get_gallery_stats(pb::GetGalleryStatsRequest {
            gallery: "durable".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.template_count, 1);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut server = TestServer::start(&[]).await;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
}

#[test]
fn asking_for_a_gpu_without_one_is_a_start_up_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faceserve"))
        .args([
            "serve",
            "--execution-provider",
            "cuda",
            "--grpc-addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .arg("--models-dir")
        .arg(common::workspace_root().join("models"))
        .arg("--data-dir")
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // This test binary is built without the `cuda` feature; with it, the missing provider library is named instead.
    assert!(
        stderr.contains("--features cuda") || stderr.contains("libonnxruntime_providers_cuda.so"),
        "{stderr}"
    );
}
