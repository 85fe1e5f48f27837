//! Shared test harness: starts the real `faceserve` binary on free ports with a temporary data folder and the
//! workspace's model folder (fetched on first use), and finds the real photos of `../shared/testdata`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use tonic::transport::Channel;

#[allow(unused_imports)]
pub use faceserve_testkit::{free_port, photo, testdata, workspace_root};

pub fn encoded(bytes: Vec<u8>) -> Option<pb::Image> {
    Some(pb::Image {
        source: Some(pb::image::Source::Encoded(bytes)),
    })
}

/// A running `faceserve serve` process, killed when dropped.
pub struct TestServer {
    child: Child,
    pub grpc_addr: String,
    pub metrics_addr: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// One server on a fresh data folder for the whole test binary, started by the first test that asks and
    /// killed when the binary exits: test files whose tests need no server of their own share it, so the models
    /// load once per file.
    pub async fn shared(extra_args: &[&str]) -> &'static TestServer {
        static SERVER: tokio::sync::OnceCell<TestServer> = tokio::sync::OnceCell::const_new();
        static PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
        extern "C" fn kill_shared() {
            let pid = PID.load(std::sync::atomic::Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: kill(2) on the child this binary started; no memory is touched.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        SERVER
            .get_or_init(|| async {
                let server = Self::start(extra_args).await;
                PID.store(
                    server.child.id() as i32,
                    std::sync::atomic::Ordering::SeqCst,
                );
                // SAFETY: registers a plain function to run at exit; it only calls kill(2).
                unsafe { libc::atexit(kill_shared) };
                server
            })
            .await
    }

    /// Starts a server on a fresh data folder.
    pub async fn start(extra_args: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let mut server = Self::start_with_data(&data, extra_args).await;
        server._tmp = Some(tmp);
        server
    }

    /// Starts a server on `data_dir` (which may hold a gallery from an earlier run).
    pub async fn start_with_data(data_dir: &Path, extra_args: &[&str]) -> TestServer {
        let (grpc, metrics) = (free_port(), free_port());
        let grpc_addr = format!("127.0.0.1:{grpc}");
        let metrics_addr = format!("127.0.0.1:{metrics}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_faceserve"));
        command
            .arg("serve")
            .args(["--grpc-addr", &grpc_addr, "--metrics-addr", &metrics_addr])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--models-dir")
            .arg(faceserve_testkit::models_dir())
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .envs(faceserve_testkit::SERVER_ENV.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command.spawn().expect("faceserve binary starts");
        let mut server = TestServer {
            child,
            grpc_addr,
            metrics_addr,
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
        };
        server.wait_until_serving().await;
        server
    }

    async fn wait_until_serving(&mut self) {
        // The first start of a test run may fetch the ONNX Runtime library (~24 MB) before it listens.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("faceserve exited during start-up: {status}");
            }
            if let Ok(channel) = Channel::from_shared(format!("http://{}", self.grpc_addr))
                .unwrap()
                .connect()
                .await
            {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                let req = tonic_health::pb::HealthCheckRequest {
                    service: "faceserve.v1.FaceService".into(),
                };
                if let Ok(resp) = health.check(req).await
                    && resp.into_inner().status
                        == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "faceserve did not start serving in time"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn client(&self) -> FaceServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc_addr))
            .unwrap()
            .connect()
            .await
            .expect("connect to faceserve");
        FaceServiceClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// Stops the process the hard way, as a crash or power cut would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit without blocking the test's runtime (its client connections must
    /// keep running to see the server's goodbye).
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The engine code of a failed call.
pub fn engine_code(status: &tonic::Status) -> pb::ErrorCode {
    faceserve_proto::error_detail_from_status(status)
        .unwrap_or_else(|| panic!("status without ErrorDetail: {status:?}"))
        .code()
}
