//! Helpers of the Image API tests: a server with the models mirror, an `EstimateService` client, requests, and the
//! `/metrics` counter of a model.
// Each test binary that includes this module uses part of it.
#![allow(dead_code)]

use faceserve_proto::v1 as pb;
use faceserve_proto::v1::estimate_service_client::EstimateServiceClient;
use pb::Estimator as E;
use tonic::transport::Channel;

use crate::common::{TestServer, photo, workspace_root};

/// The server with the models mirror of `../shared/models`, so mirror-only estimator models are found.
pub async fn start(extra: &[&str]) -> TestServer {
    let mirror = workspace_root().join("../shared/models");
    let mut args = vec!["--models-mirror", mirror.to_str().unwrap()];
    args.extend_from_slice(extra);
    TestServer::start(&args).await
}

pub async fn client(addr: &str) -> EstimateServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    EstimateServiceClient::new(channel).max_decoding_message_size(64 << 20)
}

pub fn request(image: Option<pb::Image>, estimators: &[E]) -> pb::EstimateRequest {
    pb::EstimateRequest {
        image,
        estimators: estimators.iter().map(|&e| e as i32).collect(),
        ..Default::default()
    }
}

pub async fn estimate(
    server: &TestServer,
    req: pb::EstimateRequest,
) -> Result<pb::EstimateResponse, tonic::Status> {
    estimate_at(&server.grpc_addr, req).await
}

pub async fn estimate_at(
    addr: &str,
    req: pb::EstimateRequest,
) -> Result<pb::EstimateResponse, tonic::Status> {
    client(addr)
        .await
        .estimate(req)
        .await
        .map(|r| r.into_inner())
}

/// A `faceserve serve` started with exactly `args` (TestServer always names the shared models folder), killed
/// when dropped.
pub struct BareServer(std::process::Child, pub String);

impl BareServer {
    pub async fn start(args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let data = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_faceserve"))
            .envs(faceserve_testkit::SERVER_ENV.iter().copied())
            .args([
                "serve",
                "--grpc-addr",
                &addr,
                "--metrics-addr",
                &format!("127.0.0.1:{metrics}"),
            ])
            .arg("--data-dir")
            .arg(data.keep())
            .args(args)
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        let mut server = Self(child, addr);
        for _ in 0..600 {
            assert!(
                server.0.try_wait().unwrap().is_none(),
                "faceserve exited during start-up"
            );
            if Channel::from_shared(format!("http://{}", server.1))
                .unwrap()
                .connect()
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("faceserve did not start");
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The photo flipped left to right, sent as raw RGB pixels.
pub fn mirrored(relative: &str) -> Option<pb::Image> {
    let img = image::load_from_memory(&photo(relative)).unwrap().to_rgb8();
    let flipped = image::imageops::flip_horizontal(&img);
    Some(pb::Image {
        source: Some(pb::image::Source::Raw(pb::RawImage {
            width: flipped.width(),
            height: flipped.height(),
            format: pb::PixelFormat::Rgb8 as i32,
            pixels: flipped.into_raw(),
        })),
    })
}

/// `faceserve_inference_items_total` of `model` from the server's /metrics (0 when the model never ran).
pub fn inference_items(server: &TestServer, model: &str) -> f64 {
    let text = ureq::get(&format!("http://{}/metrics", server.metrics_addr))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let prefix = format!("faceserve_inference_items_total{{model=\"{model}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}
