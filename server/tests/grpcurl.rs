//! The tool people test gRPC servers with: grpcurl (fetched from PyPI by ../shared/tools/get-grpcurl) lists the
//! services through reflection and runs an Identify from JSON, as the README shows.

mod common;

use std::process::Command;

use base64::Engine;
use common::{TestServer, encoded, photo, workspace_root};
use faceserve_proto::v1 as pb;

fn grpcurl() -> std::path::PathBuf {
    let tools = workspace_root().join(".tools");
    let script = workspace_root().join("../shared/tools/get-grpcurl");
    let out = Command::new(&script)
        .arg(&tools)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "get-grpcurl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[tokio::test]
async fn grpcurl_lists_services_and_identifies() {
    let grpcurl = grpcurl();
    let server = TestServer::start(&[]).await;
    let list = Command::new(&grpcurl)
        .args(["-plaintext", &server.grpc_addr, "list"])
        .output()
        .unwrap();
    let services = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    for service in ["faceserve.v1.FaceService", "grpc.health.v1.Health"] {
        assert!(
            services.lines().any(|l| l == service),
            "{service} missing from:\n{services}"
        );
    }

    let mut client = server.client().await;
    let added = client
        .add(pb::AddRequest {
            image: encoded(photo("faceapi_js_images/examples/images/raj/raj1.png")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    let probe = base64::engine::general_purpose::STANDARD
        .encode(photo("faceapi_js_images/examples/images/raj/raj4.png"));
    let body = format!(r#"{{"image": {{"encoded": "{probe}"}}, "top_k": 3}}"#);
    let identify = Command::new(&grpcurl)
        .args([
            "-plaintext",
            "-d",
            &body,
            &server.grpc_addr,
            "faceserve.v1.FaceService/Identify",
        ])
        .output()
        .unwrap();
    assert!(
        identify.status.success(),
        "{}",
        String::from_utf8_lossy(&identify.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&identify.stdout).unwrap();
    assert_eq!(answer["matched"], true, "{answer}");
    assert_eq!(answer["templateId"], added.template_id.as_str(), "{answer}");

    // Errors carry the typed detail, which grpcurl decodes through reflection.
    let bad = Command::new(&grpcurl)
        .args([
            "-plaintext",
            "-d",
            r#"{"image": {"encoded": ""}}"#,
            &server.grpc_addr,
            "faceserve.v1.FaceService/Add",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        stderr.contains("InvalidArgument") && stderr.contains("photo size is 0 bytes"),
        "{stderr}"
    );
}
