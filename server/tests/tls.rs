//! TLS from PEM files: with `--tls-cert` / `--tls-key` (a CA and a server certificate made by the test with rcgen),
//! gRPC and HTTP both complete a TLS handshake that a client verifies against the CA, carry authenticated calls,
//! and refuse plaintext. Keys never reach the logs. A key that does not match the certificate stops the start-up.

mod common;
mod http_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{encoded, photo, testdata, workspace_root};
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use http_support::{create_app, curl, faceserve, free_port};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const AMY1: &str = "faceapi_js_images/examples/images/amy/amy1.png";
const AMY4: &str = "faceapi_js_images/examples/images/amy/amy4.png";

struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A test CA and a certificate for localhost / 127.0.0.1 signed by it, as PEM files in `dir`.
fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "faceserve test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&pki.ca, ca_cert.pem()).unwrap();
    std::fs::write(&pki.cert, server_cert.pem()).unwrap();
    std::fs::write(&pki.key, server_key.serialize_pem()).unwrap();
    pki
}

/// The server process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn tls_channel(addr: &str, ca: &Path) -> Result<Channel, tonic::transport::Error> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()))
        .domain_name("localhost");
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

fn with_app<T>(message: T, app: &str, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("app-id", app.parse().unwrap());
    request
        .metadata_mut()
        .insert("app-key", key.parse().unwrap());
    request
}

#[tokio::test]
async fn grpc_and_http_speak_tls_with_the_configured_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = make_pki(tmp.path());
    let data = tmp.path().join("data");
    let key = create_app(&data, "tls-app");
    let (grpc_port, http_port) = (free_port(), free_port());
    let grpc_addr = format!("127.0.0.1:{grpc_port}");
    let log = tmp.path().join("server.log");
    let child = faceserve()
        .arg("serve")
        .args(["--grpc-addr", &grpc_addr])
        .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(&data)
        .arg("--models-dir")
        .arg(workspace_root().join("models"))
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(&pki.key)
        .arg("--auth")
        // Debug logs of our own code: the authentication path logs refusals, and must not log keys.
        .env("RUST_LOG", "warn,faceserve=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut server = Running(child);

    // Ready once the health service answers over TLS (it needs no credentials).
    let deadline = Instant::now() + Duration::from_secs(600);
    let channel = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "faceserve exited: {status}\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        if let Ok(channel) = tls_channel(&grpc_addr, &pki.ca).await {
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
            let probe = tonic_health::pb::HealthCheckRequest {
                service: "faceserve.v1.FaceService".into(),
            };
            if health.check(probe).await.is_ok() {
                break channel;
            }
        }
        assert!(Instant::now() < deadline, "no TLS health answer in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let mut client = FaceServiceClient::new(channel).max_decoding_message_size(64 << 20);
    let add = pb::AddRequest {
        image: encoded(photo(AMY1)),
        ..Default::default()
    };
    let added = client
        .add(with_app(add.clone(), "tls-app", &key))
        .await
        .unwrap()
        .into_inner();
    let refused = client
        .add(with_app(add, "tls-app", "fsk_wrong-key-never-logged"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    // Plaintext gRPC on the TLS port gets nowhere.
    let plain = async {
        let channel = Channel::from_shared(format!("http://{grpc_addr}"))
            .unwrap()
            .connect()
            .await?;
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .map_err(|e| -> Box<dyn std::error::Error> { Box::new(e) })?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(20), plain)
            .await
            .map_or(true, |r| r.is_err()),
        "a plaintext call succeeded on the TLS port"
    );

    // HTTPS, verified against the test CA, with the spec's headers.
    let resolve = format!("localhost:{http_port}:127.0.0.1");
    let https = format!("https://localhost:{http_port}");
    let ca = pki.ca.to_string_lossy().into_owned();
    let health = curl(&[
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        &format!("{https}/health"),
    ]);
    assert_eq!(health.status, 200, "{}", health.text);
    let found = curl(&[
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "-X",
        "POST",
        &format!("{https}/api/v1.0/identify"),
        "-H",
        "APP-ID: tls-app",
        "-H",
        &format!("APP-KEY: {key}"),
        "-F",
        &format!("photo=@{}", testdata().join(AMY4).display()),
    ]);
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(
        found.body["result"]["templateId"],
        added.template_id.as_str()
    );
    // Without the CA the certificate is not trusted; plain HTTP on the TLS port gets no answer.
    assert_eq!(
        curl(&["--resolve", &resolve, &format!("{https}/health")]).status,
        0
    );
    assert_eq!(
        curl(&[&format!("http://127.0.0.1:{http_port}/health")]).status,
        0
    );

    drop(client);
    let _ = server.0.kill();
    let _ = server.0.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("authentication failed"),
        "the refusal is logged at debug level:\n{logged}"
    );
    for secret in [key.as_str(), "fsk_wrong-key-never-logged"] {
        assert!(!logged.contains(secret), "a key reached the log");
    }
}

#[test]
fn a_key_that_does_not_match_the_certificate_stops_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let first = make_pki(&folder(tmp.path().join("a")));
    let second = make_pki(&folder(tmp.path().join("b")));
    let out = faceserve()
        .args(["serve", "--no-fetch", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args(["--grpc-addr", &format!("127.0.0.1:{}", free_port())])
        .arg("--tls-cert")
        .arg(&first.cert)
        .arg("--tls-key")
        .arg(&second.key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("do not form a usable identity"), "{stderr}");

    let out = faceserve()
        .args(["serve", "--no-fetch", "--tls-cert"])
        .arg(&first.cert)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS needs both"));
}

fn folder(path: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&path).unwrap();
    path
}
