//! One crash trial against the real `faceserve` binary: enrol from several clients at once (gRPC and HTTP, adds
//! and deletes), kill the server with SIGKILL at a random moment, restart it on the same data folder, and check
//! every acknowledged write against what it serves. A write is acknowledged when its answer arrived; one whose
//! answer was cut by the kill may or may not have landed, so it is only checked from the next trial on, in the
//! state the restarted server shows. This file is also compiled into the server's tests (`#[path]`), so it uses
//! only crates both have.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use parking_lot::Mutex;
use tonic::transport::Channel;

/// How to start the server.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
    pub grpc_port: u16,
    pub http_port: u16,
    pub metrics_port: u16,
}

/// A running server process.
pub struct Server {
    child: Child,
    pub grpc: String,
    pub http: String,
}

impl ServerCommand {
    /// Starts the server and waits until its health service answers SERVING; returns it and the time that took.
    pub async fn start(&self) -> anyhow::Result<(Server, Duration)> {
        let started = Instant::now();
        let child = Command::new(&self.binary)
            .arg("serve")
            .args(["--grpc-addr", &format!("127.0.0.1:{}", self.grpc_port)])
            .args(["--http-addr", &format!("127.0.0.1:{}", self.http_port)])
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{}", self.metrics_port),
            ])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--models-dir")
            .arg(&self.models_dir)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", self.binary.display()))?;
        let mut server = Server {
            child,
            grpc: format!("http://127.0.0.1:{}", self.grpc_port),
            http: format!("http://127.0.0.1:{}", self.http_port),
        };
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!("faceserve exited during start-up: {status}");
            }
            if server.serving().await {
                return Ok((server, started.elapsed()));
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(120),
                "faceserve did not serve within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Server {
    async fn serving(&self) -> bool {
        let Ok(channel) = Channel::from_shared(self.grpc.clone())
            .unwrap()
            .connect()
            .await
        else {
            return false;
        };
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let request = tonic_health::pb::HealthCheckRequest {
            service: "faceserve.v1.FaceService".into(),
        };
        matches!(health.check(request).await, Ok(r)
            if r.get_ref().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
    }

    /// SIGKILL: no shutdown code runs, as in a crash or a power cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the clients were told: templates acknowledged as stored or as deleted, and those in doubt.
#[derive(Debug, Default)]
pub struct Ledger {
    pub stored: HashSet<String>,
    pub deleted: HashSet<String>,
    /// Writes whose answer never came (cut by the kill): resolved from the restarted server.
    pub in_doubt: HashSet<String>,
}

/// One trial's outcome.
#[derive(Debug, Clone, Default)]
pub struct TrialReport {
    pub acknowledged_adds: usize,
    pub acknowledged_deletes: usize,
    pub in_doubt: usize,
    /// Acknowledged templates the restarted server does not have.
    pub lost: usize,
    /// Acknowledged deletes the restarted server still has.
    pub resurrected: usize,
    pub kill_after: Duration,
    pub restart: Duration,
}

/// Enrolment traffic: `clients` tasks (even ones gRPC, odd ones HTTP), each adding photos under new ids and
/// deleting about a third of its own acknowledged ones, until `stop`.
async fn client(
    index: usize,
    server_grpc: String,
    server_http: String,
    photos: Arc<Vec<Vec<u8>>>,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) -> (usize, usize) {
    let grpc = index.is_multiple_of(2);
    let mut grpc_client = match Channel::from_shared(server_grpc).unwrap().connect().await {
        Ok(channel) => FaceServiceClient::new(channel),
        Err(_) => return (0, 0),
    };
    let http = ureq::Agent::new_with_defaults();
    let mut mine: Vec<String> = Vec::new();
    let (mut adds, mut deletes) = (0, 0);
    let mut step = index;
    while !stop.load(Ordering::Relaxed) {
        step += 1;
        let delete = step.is_multiple_of(3) && !mine.is_empty();
        let id = if delete {
            mine.swap_remove(step % mine.len())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        ledger.lock().in_doubt.insert(id.clone());
        let photo = photos[step % photos.len()].clone();
        let outcome = match (grpc, delete) {
            (true, false) => grpc_client
                .add(pb::AddRequest {
                    image: Some(pb::Image {
                        source: Some(pb::image::Source::Encoded(photo)),
                    }),
                    template_id: id.clone(),
                    face_policy: pb::FacePolicy::Largest as i32,
                    ..Default::default()
                })
                .await
                .map(drop)
                .map_err(|status| unanswered(&status)),
            (true, true) => grpc_client
                .delete_template(pb::DeleteTemplateRequest {
                    template_id: id.clone(),
                    ..Default::default()
                })
                .await
                .map(drop)
                .map_err(|status| unanswered(&status)),
            (false, delete) => {
                let (agent, url, id) = (http.clone(), server_http.clone(), id.clone());
                tokio::task::spawn_blocking(move || http_write(&agent, &url, &id, delete, &photo))
                    .await
                    .unwrap_or(Err(true))
            }
        };
        let mut book = ledger.lock();
        match outcome {
            Ok(()) => {
                book.in_doubt.remove(&id);
                if delete {
                    book.stored.remove(&id);
                    book.deleted.insert(id);
                    deletes += 1;
                } else {
                    book.stored.insert(id.clone());
                    mine.push(id);
                    adds += 1;
                }
            }
            // A refusal the server answered: nothing changed.
            Err(false) => {
                book.in_doubt.remove(&id);
                if delete {
                    mine.push(id);
                }
            }
            // No answer: the kill cut it; the id stays in doubt.
            Err(true) => break,
        }
    }
    (adds, deletes)
}

/// Whether a failed call got no answer from the server: every answer the server gives carries an `ErrorDetail`,
/// a call cut by the kill (reset stream, refused connection) has none.
fn unanswered(status: &tonic::Status) -> bool {
    faceserve_proto::error_detail_from_status(status).is_none()
}

/// One HTTP add or delete of the cloud API; `Err(true)` when no answer came.
fn http_write(
    agent: &ureq::Agent,
    base: &str,
    id: &str,
    delete: bool,
    photo: &[u8],
) -> Result<(), bool> {
    const BOUNDARY: &str = "crashharnessboundary";
    let mut body = Vec::new();
    let mut field = |name: &str, file: bool, value: &[u8]| {
        let filename = if file { "; filename=\"photo\"" } else { "" };
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    };
    field("templateId", false, id.as_bytes());
    if !delete {
        field("photo", true, photo);
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let route = if delete {
        "delete"
    } else {
        "add?face_policy=largest"
    };
    let answer = agent
        .post(&format!("{base}/api/v1.0/{route}"))
        .config()
        .http_status_as_error(false)
        .build()
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .send(&body[..]);
    match answer {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(_) => Err(false),
        Err(_) => Err(true),
    }
}

/// Runs one trial on `server` (running): traffic, a kill after `kill_after`, a restart, the checks. Returns the
/// restarted server and the report.
pub async fn run_trial(
    command: &ServerCommand,
    mut server: Server,
    photos: Arc<Vec<Vec<u8>>>,
    ledger: Arc<Mutex<Ledger>>,
    clients: usize,
    kill_after: Duration,
) -> anyhow::Result<(Server, TrialReport)> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..clients)
        .map(|index| {
            tokio::spawn(client(
                index,
                server.grpc.clone(),
                server.http.clone(),
                photos.clone(),
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(kill_after).await;
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let mut report = TrialReport {
        kill_after,
        ..TrialReport::default()
    };
    for task in tasks {
        let (adds, deletes) = task.await?;
        report.acknowledged_adds += adds;
        report.acknowledged_deletes += deletes;
    }
    let (server, restart) = command.start().await?;
    report.restart = restart;
    let mut grpc =
        FaceServiceClient::new(Channel::from_shared(server.grpc.clone())?.connect().await?);
    let (stored, deleted, in_doubt) = {
        let book = ledger.lock();
        (
            book.stored.clone(),
            book.deleted.clone(),
            book.in_doubt.clone(),
        )
    };
    report.in_doubt = in_doubt.len();
    let mut present: HashMap<String, bool> = HashMap::new();
    for id in stored.iter().chain(&deleted).chain(&in_doubt) {
        let found = grpc
            .get_template(pb::GetTemplateRequest {
                template_id: id.clone(),
                ..Default::default()
            })
            .await;
        let is_there = match found {
            Ok(_) => true,
            Err(status) if status.code() == tonic::Code::NotFound => false,
            Err(status) => anyhow::bail!("checking {id}: {status:?}"),
        };
        present.insert(id.clone(), is_there);
    }
    let certain = |id: &&String| !in_doubt.contains(*id);
    report.lost = stored
        .iter()
        .filter(certain)
        .filter(|id| !present[*id])
        .count();
    report.resurrected = deleted
        .iter()
        .filter(certain)
        .filter(|id| present[*id])
        .count();
    // Writes in doubt now have the state the server shows; later trials check them like the others.
    let mut book = ledger.lock();
    for id in in_doubt {
        book.in_doubt.remove(&id);
        if present[&id] {
            book.deleted.remove(&id);
            book.stored.insert(id);
        } else {
            book.stored.remove(&id);
            book.deleted.insert(id);
        }
    }
    Ok((server, report))
}
