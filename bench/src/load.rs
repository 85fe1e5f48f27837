//! `faceserve-bench load`: closed-loop load on a running server. `--concurrency` clients each send one request,
//! wait for the answer and send the next, for `--duration` seconds, cycling over the photos of `--images`. Reports
//! frames/s, faces/s, latency percentiles, errors, and the average batch size of each model read from the server's
//! /metrics (items / executions over the run, as Triton reports it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use tonic::transport::Channel;

use crate::metrics_text::{ModelCounters, scrape};
use crate::photos::load_photos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Rpc {
    /// Identify against a gallery the bench fills first with `--gallery-size` of the photos.
    Identify,
    /// Add into a scratch gallery, deleted at the end.
    Add,
    /// Detection only, one AnalyzeStream per client (a camera each).
    Detect,
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
}

const GALLERY: &str = "faceserve-bench-load";

/// One finished request.
struct Sample {
    latency: Duration,
    faces: usize,
    ok: bool,
}

fn image(bytes: &[u8]) -> Option<pb::Image> {
    Some(pb::Image {
        source: Some(pb::image::Source::Encoded(bytes.to_vec())),
    })
}

async fn connect(addr: &str) -> anyhow::Result<FaceServiceClient<Channel>> {
    let channel = Channel::from_shared(addr.to_string())?
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    Ok(FaceServiceClient::new(channel).max_encoding_message_size(64 << 20))
}

/// Runs one client until `until`, returning its samples.
async fn client_loop(
    mut client: FaceServiceClient<Channel>,
    rpc: Rpc,
    photos: Arc<Vec<Vec<u8>>>,
    first: usize,
    until: Instant,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut i = first;
    // Detection clients hold one stream each and send the next frame when the previous answer arrived.
    let (frames, mut answers) = if rpc == Rpc::Detect {
        let (tx, rx) = tokio::sync::mpsc::channel::<pb::AnalyzeFrame>(1);
        match client
            .analyze_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
        {
            Ok(response) => (Some(tx), Some(response.into_inner())),
            Err(_) => return samples,
        }
    } else {
        (None, None)
    };
    while Instant::now() < until {
        let photo = &photos[i % photos.len()];
        i += 1;
        let started = Instant::now();
        let (ok, faces) = match rpc {
            Rpc::Identify => {
                let req = pb::IdentifyRequest {
                    image: image(photo),
                    gallery: GALLERY.into(),
                    face_policy: pb::FacePolicy::Largest as i32,
                    ..Default::default()
                };
                (client.identify(req).await.is_ok(), 1)
            }
            Rpc::Add => {
                let req = pb::AddRequest {
                    image: image(photo),
                    gallery: format!("{GALLERY}-add"),
                    face_policy: pb::FacePolicy::Largest as i32,
                    ..Default::default()
                };
                (client.add(req).await.is_ok(), 1)
            }
            Rpc::Detect => {
                let frame = pb::AnalyzeFrame {
                    frame_id: i.to_string(),
                    image: image(photo),
                    ..Default::default()
                };
                let sent = frames.as_ref().expect("stream").send(frame).await.is_ok();
                match answers.as_mut().expect("stream").message().await {
                    Ok(Some(answer)) if sent => (answer.error.is_none(), answer.faces.len()),
                    _ => (false, 0),
                }
            }
        };
        samples.push(Sample {
            latency: started.elapsed(),
            faces: if ok { faces } else { 0 },
            ok,
        });
    }
    samples
}

async fn run_clients(
    args: &LoadArgs,
    photos: Arc<Vec<Vec<u8>>>,
    seconds: f64,
) -> anyhow::Result<Vec<Sample>> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for c in 0..args.concurrency {
        // A connection per client, as separate cameras or backends would have.
        let client = connect(&args.addr).await?;
        let first = c * photos.len() / args.concurrency.max(1);
        tasks.push(tokio::spawn(client_loop(
            client,
            args.rpc,
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
    if args.rpc == Rpc::Identify {
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
    let photos = Arc::new(load_photos(&args.images, args.max_images)?);
    prepare(&args, &photos).await?;
    // Warm-up: connections, allocator, ONNX Runtime's first-run paths.
    run_clients(&args, photos.clone(), 2.0).await?;

    let before = scrape(&args.metrics).await.ok();
    let started = Instant::now();
    let samples = run_clients(&args, photos.clone(), args.duration).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let after = scrape(&args.metrics).await.ok();

    let mut latencies: Vec<Duration> = samples.iter().filter(|s| s.ok).map(|s| s.latency).collect();
    latencies.sort();
    let ok = latencies.len();
    let errors = samples.len() - ok;
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
        "rpc {:?}, concurrency {}, {:.1} s, {} photos from {}",
        args.rpc,
        args.concurrency,
        elapsed,
        photos.len(),
        args.images.display()
    );
    println!("frames/s {fps:.2}  faces/s {faces_per_s:.2}  errors {errors}");
    println!("latency ms: p50 {p50:.1}  p95 {p95:.1}  p99 {p99:.1}");
    println!("average batch: detector {det_batch:.2}  recognizer {rec_batch:.2}");

    let mut client = connect(&args.addr).await?;
    for gallery in [GALLERY.to_string(), format!("{GALLERY}-add")] {
        let _ = client
            .delete_gallery(pb::DeleteGalleryRequest { gallery })
            .await;
    }
    println!(
        "rpc={:?} concurrency={} frames_per_s={fps:.2} faces_per_s={faces_per_s:.2} p50_ms={p50:.1} p95_ms={p95:.1} \
         p99_ms={p99:.1} errors={errors} detector_batch={det_batch:.2} recognizer_batch={rec_batch:.2}",
        args.rpc, args.concurrency
    );
    Ok(())
}
