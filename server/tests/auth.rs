//! Applications and keys: with `--auth`, application A can not read, identify against or delete B's templates over
//! gRPC or HTTP; missing or wrong keys are refused (UNAUTHENTICATED / 401, code 130) and counted; health stays open;
//! a revocation by `faceserve apps revoke` on the running server's data folder takes effect on the next call; and
//! the server refuses to serve a non-loopback address without authentication.

mod common;
mod http_support;

use std::time::{Duration, Instant};

use common::{encoded, engine_code, photo, testdata};
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::ErrorCode;
use http_support::{
    create_app, curl, faceserve, free_port, run_apps, shell_curl, spec, spec_curl,
    start_http_with_data,
};
use tonic::{Code, Request};

const AMY1: &str = "faceapi_js_images/examples/images/amy/amy1.png";
const AMY4: &str = "faceapi_js_images/examples/images/amy/amy4.png";
const RAJ1: &str = "faceapi_js_images/examples/images/raj/raj1.png";

/// A request carrying an application's credentials as gRPC metadata.
fn as_app<T>(message: T, app: &str, key: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("app-id", app.parse().unwrap());
    request
        .metadata_mut()
        .insert("app-key", key.parse().unwrap());
    request
}

fn add_request(relative: &str) -> pb::AddRequest {
    pb::AddRequest {
        image: encoded(photo(relative)),
        ..Default::default()
    }
}

#[tokio::test]
async fn applications_see_only_their_own_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let key_a = create_app(&data, "app-a");
    let (server, base) = start_http_with_data(&data, &["--auth"]).await;
    // Made while the server runs: picked up on the next call.
    let key_b = create_app(&data, "app-b");
    let mut client = server.client().await;

    // No credentials, a wrong key, an unknown application: UNAUTHENTICATED with code 130, before any model runs.
    for request in [
        Request::new(add_request(AMY1)),
        as_app(add_request(AMY1), "app-a", "fsk_wrong"),
        as_app(add_request(AMY1), "nobody", &key_a),
    ] {
        let status = client.add(request).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(engine_code(&status), ErrorCode::Unauthenticated);
    }

    let a_template = client
        .add(as_app(add_request(AMY1), "app-a", &key_a))
        .await
        .unwrap()
        .into_inner()
        .template_id;
    client
        .add(as_app(add_request(RAJ1), "app-b", &key_b))
        .await
        .unwrap();

    // B can not read A's template, find it, or delete it.
    let get = |app: &str, key: &str| {
        as_app(
            pb::GetTemplateRequest {
                template_id: a_template.clone(),
                ..Default::default()
            },
            app,
            key,
        )
    };
    let status = client.get_template(get("app-b", &key_b)).await.unwrap_err();
    assert_eq!(engine_code(&status), ErrorCode::TemplateNotFound);
    let identify = pb::IdentifyRequest {
        image: encoded(photo(AMY4)),
        top_k: 5,
        threshold: Some(pb::Threshold {
            kind: Some(pb::threshold::Kind::Cosine(-1.0)),
        }),
        ..Default::default()
    };
    let seen_by_b = client
        .identify(as_app(identify.clone(), "app-b", &key_b))
        .await
        .unwrap()
        .into_inner();
    assert!(
        seen_by_b
            .matches
            .iter()
            .all(|m| m.template_id != a_template),
        "B's search saw A's template: {seen_by_b:?}"
    );
    assert_eq!(seen_by_b.matches.len(), 1, "B sees only its own template");
    let delete = pb::DeleteTemplateRequest {
        template_id: a_template.clone(),
        ..Default::default()
    };
    let status = client
        .delete_template(as_app(delete.clone(), "app-b", &key_b))
        .await
        .unwrap_err();
    assert_eq!(engine_code(&status), ErrorCode::TemplateNotFound);
    // A still has it, and finds it.
    client.get_template(get("app-a", &key_a)).await.unwrap();
    let seen_by_a = client
        .identify(as_app(identify, "app-a", &key_a))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_by_a.matches[0].template_id, a_template);

    // The same over HTTP, with the spec's headers.
    let amy4 = format!("photo=@{}", testdata().join(AMY4).display());
    let identify_as = |app: &str, key: &str| {
        curl(&[
            "-X",
            "POST",
            &format!("{base}/api/v1.0/identify"),
            "--header",
            &format!("APP-ID: {app}"),
            "--header",
            &format!("APP-KEY: {key}"),
            "--form",
            &amy4,
        ])
    };
    let by_a = identify_as("app-a", &key_a);
    assert_eq!(
        by_a.body["result"]["templateId"],
        a_template.as_str(),
        "{}",
        by_a.text
    );
    // The spec's own command line, with the application's credentials where it says to put them.
    let spec_command = spec_curl(&spec("001_"))
        .replace("https://cloud.ooto-ai.com", &base)
        .replace("<put_app_id_here>", "app-a")
        .replace("<put_app_key_here>", &key_a)
        .replace("/path/to/photo", &testdata().join(AMY4).to_string_lossy());
    let by_spec = shell_curl(&spec_command);
    assert_eq!(by_spec.status, 200, "{}", by_spec.text);
    assert_eq!(by_spec.body["result"]["templateId"], a_template.as_str());
    let by_b = identify_as("app-b", &key_b);
    assert_eq!(by_b.status, 200, "{}", by_b.text);
    assert_ne!(by_b.body["result"]["templateId"], a_template.as_str());
    let delete_by_b = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/delete"),
        "-H",
        "APP-ID: app-b",
        "-H",
        &format!("APP-KEY: {key_b}"),
        "-F",
        &format!("templateId={a_template}"),
    ]);
    assert_eq!(
        (
            delete_by_b.status,
            delete_by_b.body["result"]["code"].as_i64()
        ),
        (404, Some(111))
    );
    let no_key = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/identify"),
        "-F",
        &amy4,
    ]);
    assert_eq!(no_key.status, 401, "{}", no_key.text);
    assert_eq!(no_key.body["result"]["code"], 130);
    assert_eq!(no_key.body["result"]["status"], "error");
    // The Image API refuses in its own shape.
    let image_api = curl(&[
        "-X",
        "POST",
        &format!("{base}/v2/age-estimator"),
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"_image": {"blob": "", "format": "IMAGE"}}"#,
    ]);
    assert_eq!(image_api.status, 401, "{}", image_api.text);
    assert!(
        image_api.body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("unauthenticated")),
        "{}",
        image_api.text
    );
    let wrong = identify_as("app-a", &key_b);
    assert_eq!(
        (wrong.status, wrong.body["result"]["code"].as_i64()),
        (401, Some(130))
    );

    // Health and the API document need no key.
    assert_eq!(curl(&[&format!("{base}/health")]).status, 200);
    assert_eq!(curl(&[&format!("{base}/openapi.json")]).status, 200);

    // Refusals are counted, by surface and reason.
    let metrics = curl(&[&format!("http://{}/metrics", server.metrics_addr)]).text;
    for series in [
        r#"faceserve_auth_failures_total{reason="missing",surface="grpc"} 1"#,
        r#"faceserve_auth_failures_total{reason="wrong_key",surface="grpc"} 1"#,
        r#"faceserve_auth_failures_total{reason="unknown_app",surface="grpc"} 1"#,
        r#"faceserve_auth_failures_total{reason="missing",surface="http"} 2"#,
        r#"faceserve_auth_failures_total{reason="wrong_key",surface="http"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} not in\n{metrics}");
    }

    // A revocation by the CLI on the live data folder beats the verified-key cache: the next call is refused.
    let revoked = run_apps(&data, &["revoke", "app-a"]);
    assert!(revoked.status.success());
    let after = identify_as("app-a", &key_a);
    assert_eq!(after.status, 401, "{}", after.text);
    let status = client.get_template(get("app-a", &key_a)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let listed = String::from_utf8(run_apps(&data, &["list"]).stdout).unwrap();
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("app-a") && l.contains("revoked")),
        "{listed}"
    );
    assert!(!listed.contains(&key_b), "list never shows keys");
}

#[test]
fn an_open_api_on_a_public_address_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let public = format!("0.0.0.0:{}", free_port());
    let mut child = faceserve()
        .args(["serve", "--grpc-addr", &public, "--no-fetch", "--data-dir"])
        .arg(tmp.path())
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The refusal comes before any model loads; a server that starts instead is killed and the test fails.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("faceserve started on {public} without authentication");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("refusing to serve the API on") && stderr.contains(&public),
        "{stderr}"
    );
}
