//! `faceserve-bench replicas`: galleries shared on PostgreSQL, measured between real servers on one throwaway
//! PostgreSQL (Debian's binaries, as the tests start it). Enrolments carry templates, so no model runs and the
//! figures are the store's and the feed's:
//! - propagation: from an `Add` acknowledged by server A until server B has applied it, read by a request to B with
//!   `faceserve-min-seq` set to the answer's `faceserve-seq` (B answers as soon as it has applied that change);
//! - write cost: enrolments/s on PostgreSQL against the same server on SQLite, one client and `--clients` at once;
//! - catch-up: B is stopped (SIGSTOP) while A enrols `--missed` templates, then resumed; the rate at which it applies
//!   the changes it missed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use faceserve_index::store::postgres::throwaway::ThrowawayPostgres;
use faceserve_proto::v1 as pb;
use pb::face_service_client::FaceServiceClient;
use tonic::transport::Channel;

use crate::index_bench::percentile;

const SEQ_HEADER: &str = "faceserve-seq";
const MIN_SEQ_HEADER: &str = "faceserve-min-seq";

#[derive(Debug, clap::Args)]
pub struct ReplicasArgs {
    /// Enrolments timed from A to B.
    #[arg(long, default_value_t = 1000)]
    pub enrolments: usize,
    /// Changes B misses while stopped, for the catch-up rate.
    #[arg(long, default_value_t = 100_000)]
    pub missed: usize,
    /// Concurrent clients of the write-cost run.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Enrolments of each write-cost run.
    #[arg(long, default_value_t = 5000)]
    pub writes: usize,
    /// The faceserve binary [default: `faceserve` beside this program].
    #[arg(long)]
    pub server: Option<PathBuf>,
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// The recognizer the servers run (templates are made for it).
    #[arg(long, default_value = "w600k_mbf")]
    pub recognizer: String,
    #[arg(long, default_value_t = 512)]
    pub dimension: usize,
}

/// One faceserve process, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start(args: &ReplicasArgs, binary: &Path, store: Option<&str>) -> anyhow::Result<Server> {
    let data = tempfile::tempdir()?;
    let addr = format!("127.0.0.1:{}", free_port()?);
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .args(["--grpc-addr", &addr])
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port()?)])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--models-dir")
        .arg(&args.models_dir)
        .args(["--recognizer-model", &args.recognizer])
        // The catch-up run waits for B for as long as it takes.
        .args(["--store-min-seq-wait-ms", "600000"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = store {
        command.args(["--store", url]);
    }
    let child = command.spawn()?;
    let server = Server {
        child,
        addr,
        _data: data,
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while client(&server).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "faceserve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(server)
}

async fn client(server: &Server) -> anyhow::Result<FaceServiceClient<Channel>> {
    let channel = Channel::from_shared(format!("http://{}", server.addr))?
        .connect()
        .await?;
    let mut client = FaceServiceClient::new(channel);
    client.list_galleries(pb::ListGalleriesRequest {}).await?;
    Ok(client)
}

/// A random unit vector (xorshift; the figures do not depend on the values).
fn template(state: &mut u64, model: &str, dimension: usize) -> pb::Template {
    let mut embedding: Vec<f32> = (0..dimension)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
    embedding.iter_mut().for_each(|x| *x /= norm);
    pb::Template {
        model: model.to_string(),
        embedding,
    }
}

fn add_request(args: &ReplicasArgs, state: &mut u64) -> pb::AddRequest {
    pb::AddRequest {
        gallery: "bench".into(),
        template: Some(template(state, &args.recognizer, args.dimension)),
        ..Default::default()
    }
}

fn seq_of<T>(answer: &tonic::Response<T>) -> anyhow::Result<u64> {
    let value = answer.metadata().get(SEQ_HEADER).ok_or_else(|| {
        anyhow::anyhow!("no {SEQ_HEADER} in the answer: is the server on PostgreSQL?")
    })?;
    Ok(value.to_str()?.parse()?)
}

/// B's answer to a request that must reflect change `seq`.
async fn applied_on(client: &mut FaceServiceClient<Channel>, seq: u64) -> anyhow::Result<()> {
    let mut request = tonic::Request::new(pb::ListGalleriesRequest {});
    request
        .metadata_mut()
        .insert(MIN_SEQ_HEADER, seq.to_string().parse()?);
    client.list_galleries(request).await?;
    Ok(())
}

/// Enrolments/s of `writes` template adds from `clients` clients at once.
async fn write_rate(args: &ReplicasArgs, server: &Server, clients: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let per_client = args.writes / clients;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut client = client(server).await?;
        let requests: Vec<_> = {
            let mut state = 0x9E37_79B9_7F4A_7C15 ^ ((c as u64 + 1) * 7919);
            (0..per_client)
                .map(|_| add_request(args, &mut state))
                .collect()
        };
        tasks.push(tokio::spawn(async move {
            for request in requests {
                client.add(request).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((per_client * clients) as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(args: ReplicasArgs) -> anyhow::Result<()> {
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("faceserve"),
    };
    let postgres = ThrowawayPostgres::launch().map_err(anyhow::Error::msg)?;
    let url = postgres
        .create_database("bench")
        .map_err(anyhow::Error::msg)?;
    let (a, b) = (
        start(&args, &binary, Some(&url)).await?,
        start(&args, &binary, Some(&url)).await?,
    );
    let (mut on_a, mut on_b) = (client(&a).await?, client(&b).await?);

    // Propagation, one enrolment at a time.
    let mut state = 42u64;
    let mut delays = Vec::with_capacity(args.enrolments);
    for _ in 0..args.enrolments {
        let answer = on_a.add(add_request(&args, &mut state)).await?;
        let acknowledged = Instant::now();
        applied_on(&mut on_b, seq_of(&answer)?).await?;
        delays.push(acknowledged.elapsed().as_secs_f64() * 1e3);
    }
    delays.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "propagation A -> B over {} enrolments: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
        delays.len()
    );

    // Write cost against SQLite.
    let sqlite = start(&args, &binary, None).await?;
    let mut rates = Vec::new();
    for clients in [1, args.clients] {
        let on_postgres = write_rate(&args, &a, clients).await?;
        let on_sqlite = write_rate(&args, &sqlite, clients).await?;
        println!(
            "enrolments/s with {clients} client(s): PostgreSQL {on_postgres:.0}, SQLite {on_sqlite:.0}"
        );
        rates.push((clients, on_postgres, on_sqlite));
    }
    drop(sqlite);

    // Catch-up: B misses `missed` changes while stopped.
    let pid = b.child.id().to_string();
    Command::new("kill").args(["-STOP", &pid]).status()?;
    let mut last_seq = 0;
    let writers = args.clients.max(1);
    let mut tasks = Vec::new();
    for c in 0..writers {
        let mut client = client(&a).await?;
        let count = args.missed / writers;
        let mut state = 0xDEAD_BEEF ^ ((c as u64 + 1) * 104_729);
        let requests: Vec<_> = (0..count).map(|_| add_request(&args, &mut state)).collect();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for request in requests {
                last = last.max(seq_of(&client.add(request).await?)?);
            }
            anyhow::Ok(last)
        }));
    }
    for task in tasks {
        last_seq = last_seq.max(task.await??);
    }
    let missed = (args.missed / writers) * writers;
    Command::new("kill").args(["-CONT", &pid]).status()?;
    let resumed = Instant::now();
    applied_on(&mut on_b, last_seq).await?;
    let catch_up = resumed.elapsed().as_secs_f64();
    let rate = missed as f64 / catch_up;
    println!("catch-up: {missed} missed changes applied in {catch_up:.2} s = {rate:.0} changes/s");

    let mut line = format!(
        "enrolments={} propagation_p50_ms={p50:.2} propagation_p99_ms={p99:.2} propagation_max_ms={max:.2}",
        delays.len()
    );
    for (clients, on_postgres, on_sqlite) in rates {
        line += &format!(
            " postgres_adds_per_s_{clients}c={on_postgres:.0} sqlite_adds_per_s_{clients}c={on_sqlite:.0}"
        );
    }
    line += &format!(" missed={missed} catch_up_s={catch_up:.2} catch_up_per_s={rate:.0}");
    println!("{line}");
    Ok(())
}
