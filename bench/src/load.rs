//! `faceserve-bench load`: load on a running server. Closed loop by default: `--concurrency` clients each send one
//! request, wait for the answer and send the next, for `--duration` seconds, cycling over the photos of `--images`.
//! With `--rate` the load is open: requests start at that rate whatever the answers (at most `--concurrency` in
//! flight), which is how a soak offers twice the server's capacity. Reports goodput (answered requests per
//! second), the answered requests' latency percentiles, the refused (RESOURCE_EXHAUSTED) and expired
//! (DEADLINE_EXCEEDED) counts, the average batch of each model from the server's /metrics (items / executions,
//! as Triton reports it) and, with `--server-pid`, the server's memory and file descriptors over the run.

mod process;
mod request;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use tonic::transport::Channel;

use crate::metrics_text::{ModelCounters, scrape};
use crate::photos::load_photos;
use request::{Outcome, Sample};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Rpc {
    /// Identify against a gallery the bench fills first with `--gallery-size` of the photos.
    Identify,
    /// Add into a scratch gallery, deleted at the end.
    Add,
    /// Detection only, one AnalyzeStream per client (a camera each).
    Detect,
    /// Verify two photos.
    Verify,
    /// List a page of the gallery (no model).
    List,
    /// A soak's mix: identify 3 of 6, add (then delete what was added), verify, list.
    Mixed,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// gRPC address of the server.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// Metrics endpoint of the server, for batch sizes.
    #[arg(long, default_value = "http://127.0.0.1:9464/metrics")]
    pub metrics: String,
    /// Folder of photos (searched recursively for .jpg/.jpeg/.png).
    #[arg(long)]
    pub images: PathBuf,
    /// At most this many photos are loaded.
    #[arg(long, default_value_t = 400)]
    pub max_images: usize,
    /// Closed-loop clients; with `--rate`, the most requests in flight.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds of measured load (after a short warm-up).
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    #[arg(long, value_enum, default_value = "identify")]
    pub rpc: Rpc,
    /// Templates enrolled before an identify run.
    #[arg(long, default_value_t = 50)]
    pub gallery_size: usize,
    /// Open loop: start this many requests per second (not with `detect`).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Each request's gRPC deadline (`grpc-timeout`), in milliseconds.
    #[arg(long)]
    pub deadline_ms: Option<u64>,
    /// The server's process id: its memory and file descriptors are sampled during the run.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seconds between two samples of the server process.
    #[arg(long, default_value_t = 60.0)]
    pub sample_secs: f64,
}

pub(crate) const GALLERY: &str = "faceserve-bench-load";

async fn connect(addr: &str) -> anyhow::Result<FaceServiceClient<Channel>> {
    let channel = Channel::from_shared(addr.to_string())?
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    Ok(FaceServiceClient::new(channel).max_encoding_message_size(64 << 20))
}

fn image(bytes: &[u8]) -> Option<pb::Image> {
    Some(pb::Image {
        source: Some(pb::image::Source::Encoded(bytes.to_vec())),
    })
}

/// Runs one closed-loop client until `until`, returning its samples.
async fn client_loop(
    mut client: FaceServiceClient<Channel>,
    args: Arc<LoadArgs>,
    photos: Arc<Vec<Vec<u8>>>,
    first: usize,
    until: Instant,
) -> Vec<Sample> {
    if args.rpc == Rpc::Detect {
        return detect_loop(client, photos, first, until).await;
    }
    let deadline = args.deadline_ms.map(Duration::from_millis);
    let mut samples = Vec::new();
    let mut i = first;
    while Instant::now() < until {
        samples.push(request::send(&mut client, args.rpc, &photos, i, deadline).await);
        i += 1;
    }
    samples
}

/// A camera: one AnalyzeStream, the next frame sent when the previous answer arrived.
async fn detect_loop(
    mut client: FaceServiceClient<Channel>,
    photos: Arc<Vec<Vec<u8>>>,
    first: usize,
    until: Instant,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let (frames, rx) = tokio::sync::mpsc::channel::<pb::AnalyzeFrame>(1);
    let Ok(response) = client
        .analyze_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
    else {
        return samples;
    };
    let mut answers = response.into_inner();
    let mut i = first;
    while Instant::now() < until {
        let frame = pb::AnalyzeFrame {
            frame_id: i.to_string(),
            image: image(&photos[i % photos.len()]),
            ..Default::default()
        };
        i += 1;
        let started = Instant::now();
        let sent = frames.send(frame).await.is_ok();
        let (outcome, faces) = match answers.message().await {
            Ok(Some(answer)) if sent && answer.error.is_none() => {
                (Outcome::Answered, answer.faces.len())
            }
            _ => (Outcome::Failed, 0),
        };
        samples.push(Sample {
            latency: started.elapsed(),
            faces,
            outcome,
        });
    }
    samples
}

/// The open loop: a request every 1/`rate` s until `until`, at most `concurrency` in flight (a start that finds
/// them all busy is counted as failed: the client side could not keep up).
async fn open_loop(
    clients: Vec<FaceServiceClient<Channel>>,
    args: Arc<LoadArgs>,
    photos: Arc<Vec<Vec<u8>>>,
    rate: f64,
    until: Instant,
) -> Vec<Sample> {
    let slots = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let deadline = args.deadline_ms.map(Duration::from_millis);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
    let mut samples = Vec::new();
    let mut i = 0;
    while Instant::now() < until {
        ticker.tick().await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            samples.push(Sample {
                latency: Duration::ZERO,
                faces: 0,
                outcome: Outcome::Failed,
            });
            continue;
        };
        let (mut client, photos, done, rpc) = (
            clients[i % clients.len()].clone(),
            photos.clone(),
            done.clone(),
            args.rpc,
        );
        tokio::spawn(async move {
            let sample = request::send(&mut client, rpc, &photos, i, deadline).await;
            let _ = done.send(sample);
            drop(slot);
        });
        i += 1;
        while let Ok(sample) = finished.try_recv() {
            samples.push(sample);
        }
    }
    drop(done);
    while let Some(sample) = finished.recv().await {
        samples.push(sample);
    }
    samples
}

async fn run_clients(
    args: &Arc<LoadArgs>,
    photos: Arc<Vec<Vec<u8>>>,
    seconds: f64,
) -> anyhow::Result<Vec<Sample>> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    // A connection per client, as separate cameras or backends would have.
    let mut clients = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        clients.push(connect(&args.addr).await?);
    }
    if let Some(rate) = args.rate.filter(|_| args.rpc != Rpc::Detect) {
        return Ok(open_loop(clients, args.clone(), photos, rate, until).await);
    }
    let mut tasks = Vec::new();
    for (c, client) in clients.into_iter().enumerate() {
        let first = c * photos.len() / args.concurrency.max(1);
        tasks.push(tokio::spawn(client_loop(
            client,
            args.clone(),
            photos.clone(),
            first,
            until,
        )));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await?);
    }
    Ok(samples)
}

async fn prepare(args: &LoadArgs, photos: &[Vec<u8>]) -> anyhow::Result<()> {
    let mut client = connect(&args.addr).await?;
    for gallery in [GALLERY.to_string(), format!("{GALLERY}-add")] {
        let _ = client
            .delete_gallery(pb::DeleteGalleryRequest { gallery })
            .await;
    }
    if matches!(args.rpc, Rpc::Identify | Rpc::Mixed | Rpc::List) {
        let mut enrolled = 0;
        for photo in photos {
            if enrolled == args.gallery_size {
                break;
            }
            let req = pb::AddRequest {
                image: image(photo),
                gallery: GALLERY.into(),
                face_policy: pb::FacePolicy::Largest as i32,
                ..Default::default()
            };
            enrolled += usize::from(client.add(req).await.is_ok());
        }
        anyhow::ensure!(
            enrolled > 0,
            "no photo of {} could be enrolled",
            args.images.display()
        );
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let photos = Arc::new(load_photos(&args.images, args.max_images)?);
    prepare(&args, &photos).await?;
    // Warm-up: connections, allocator, ONNX Runtime's first-run paths.
    run_clients(&args, photos.clone(), 2.0).await?;

    let before = scrape(&args.metrics).await.ok();
    let started = Instant::now();
    let sampler = args.server_pid.map(|pid| {
        let (every, until) = (
            Duration::from_secs_f64(args.sample_secs),
            started + Duration::from_secs_f64(args.duration),
        );
        tokio::task::spawn_blocking(move || process::sample_until(pid, every, until))
    });
    let samples = run_clients(&args, photos.clone(), args.duration).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let after = scrape(&args.metrics).await.ok();
    let process_samples = match sampler {
        Some(task) => task.await?,
        None => Vec::new(),
    };

    let count = |outcome| samples.iter().filter(|s| s.outcome == outcome).count();
    let mut latencies: Vec<Duration> = samples
        .iter()
        .filter(|s| s.outcome == Outcome::Answered)
        .map(|s| s.latency)
        .collect();
    latencies.sort();
    let (ok, refused, expired, failed) = (
        latencies.len(),
        count(Outcome::Refused),
        count(Outcome::Expired),
        count(Outcome::Failed),
    );
    let faces: usize = samples.iter().map(|s| s.faces).sum();
    let batch = |model: &str| match (&before, &after) {
        (Some(b), Some(a)) => ModelCounters::average_batch(b, a, model),
        _ => f64::NAN,
    };
    let (fps, faces_per_s) = (ok as f64 / elapsed, faces as f64 / elapsed);
    let (p50, p95, p99) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
    );
    let (det_batch, rec_batch) = (batch("detector"), batch("recognizer"));
    println!(
        "rpc {:?}, concurrency {}, rate {:?}, {:.1} s, {} photos from {}",
        args.rpc,
        args.concurrency,
        args.rate,
        elapsed,
        photos.len(),
        args.images.display()
    );
    println!(
        "goodput/s {fps:.2}  faces/s {faces_per_s:.2}  refused {refused}  expired {expired}  failed {failed}"
    );
    println!("answered latency ms: p50 {p50:.1}  p95 {p95:.1}  p99 {p99:.1}");
    println!("average batch: detector {det_batch:.2}  recognizer {rec_batch:.2}");
    for sample in &process_samples {
        println!(
            "server at {:>6.0} s: rss {:.0} MiB, {} fds",
            sample.at.as_secs_f64(),
            sample.rss_mib,
            sample.fds
        );
    }

    let mut client = connect(&args.addr).await?;
    for gallery in [GALLERY.to_string(), format!("{GALLERY}-add")] {
        let _ = client
            .delete_gallery(pb::DeleteGalleryRequest { gallery })
            .await;
    }
    println!(
        "rpc={:?} concurrency={} rate={} goodput_per_s={fps:.2} faces_per_s={faces_per_s:.2} p50_ms={p50:.1} \
         p95_ms={p95:.1} p99_ms={p99:.1} answered={ok} refused={refused} expired={expired} failed={failed} \
         detector_batch={det_batch:.2} recognizer_batch={rec_batch:.2} {}",
        args.rpc,
        args.concurrency,
        args.rate.unwrap_or(0.0),
        process::summary(&process_samples)
    );
    Ok(())
}
