//! `faceserve-bench crash --trials N`: the crash harness. Starts the real server on a fresh data folder, then per
//! trial enrols from `--clients` clients at once (gRPC and HTTP, adds and deletes), kills the server with
//! SIGKILL at a random moment, restarts it and checks that every acknowledged write is there and every
//! acknowledged delete stays gone (`trial.rs`). Reports each trial and the totals; exits non-zero on any loss.

pub mod trial;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::photos::load_photos;
use trial::{Ledger, ServerCommand, TrialReport, run_trial};

#[derive(Debug, clap::Args)]
pub struct CrashArgs {
    /// Kill-and-restart trials.
    #[arg(long, default_value_t = 10)]
    pub trials: usize,
    /// Concurrent clients (even ones over gRPC, odd ones over HTTP).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// The faceserve binary [default: `faceserve` beside this program].
    #[arg(long)]
    pub server: Option<PathBuf>,
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// Folder of photos to enrol (one face each, or the largest is taken).
    #[arg(long)]
    pub images: PathBuf,
    /// The kill comes at a random moment between these many milliseconds of traffic.
    #[arg(long, default_value_t = 300)]
    pub min_kill_ms: u64,
    #[arg(long, default_value_t = 3000)]
    pub max_kill_ms: u64,
    /// Seed of the kill moments, so a run can be repeated.
    #[arg(long, default_value_t = 15)]
    pub seed: u64,
    /// Data folder [default: a fresh temporary one].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub async fn run(args: CrashArgs) -> anyhow::Result<()> {
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("faceserve"),
    };
    let scratch = tempfile_dir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| scratch.join("data"));
    let command = ServerCommand {
        binary,
        data_dir,
        models_dir: args.models_dir.clone(),
        grpc_port: free_port()?,
        http_port: free_port()?,
        metrics_port: free_port()?,
    };
    let photos = Arc::new(load_photos(&args.images, 64)?);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (mut server, first_start) = command.start().await?;
    println!("first start {:.2} s", first_start.as_secs_f64());
    let mut reports: Vec<TrialReport> = Vec::new();
    let mut state = args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for index in 0..args.trials {
        // xorshift: a repeatable kill moment per trial.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let span = args.max_kill_ms.saturating_sub(args.min_kill_ms).max(1);
        let kill_after = Duration::from_millis(args.min_kill_ms + state % span);
        let (restarted, report) = run_trial(
            &command,
            server,
            photos.clone(),
            ledger.clone(),
            args.clients,
            kill_after,
        )
        .await?;
        server = restarted;
        println!(
            "trial {index}: killed after {} ms, acknowledged adds {} deletes {}, in doubt {}, lost {}, \
             resurrected {}, restart {:.2} s",
            report.kill_after.as_millis(),
            report.acknowledged_adds,
            report.acknowledged_deletes,
            report.in_doubt,
            report.lost,
            report.resurrected,
            report.restart.as_secs_f64()
        );
        reports.push(report);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
    let total = |f: fn(&TrialReport) -> usize| reports.iter().map(f).sum::<usize>();
    let mut restarts: Vec<f64> = reports.iter().map(|r| r.restart.as_secs_f64()).collect();
    restarts.sort_by(f64::total_cmp);
    let (lost, resurrected) = (total(|r| r.lost), total(|r| r.resurrected));
    println!(
        "trials={} acknowledged_adds={} acknowledged_deletes={} in_doubt={} lost={lost} resurrected={resurrected} \
         restart_min_s={:.2} restart_median_s={:.2} restart_max_s={:.2}",
        reports.len(),
        total(|r| r.acknowledged_adds),
        total(|r| r.acknowledged_deletes),
        total(|r| r.in_doubt),
        restarts.first().copied().unwrap_or(f64::NAN),
        restarts
            .get(restarts.len() / 2)
            .copied()
            .unwrap_or(f64::NAN),
        restarts.last().copied().unwrap_or(f64::NAN),
    );
    anyhow::ensure!(
        lost == 0 && resurrected == 0,
        "{lost} acknowledged writes lost, {resurrected} deletes came back"
    );
    Ok(())
}

/// A fresh folder under the system's temporary folder.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("faceserve-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
