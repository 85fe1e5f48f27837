//! faceserve-bench: benchmarks and measurement tools for faceserve. Each subcommand prints its figures and ends with
//! one line of `key=value` pairs.

mod attributes;
mod calibrate;
mod ceiling;
mod crash;
mod embed;
mod identify;
mod index_bench;
mod load;
mod metrics_text;
mod npy;
mod pairs;
mod photos;
mod pipeline;
mod replicas;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "faceserve-bench",
    version,
    about = "faceserve benchmarks and measurements"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed a folder-per-identity photo set with the in-process pipeline (for calibration and index statistics).
    Embed(embed::EmbedArgs),
    /// Build a recognizer's calibration table from `embed` output.
    Calibrate(calibrate::CalibrateArgs),
    /// 1:N search at scale: the HNSW index's build rate, memory, dump/reload, recall and latency on face-like or
    /// isotropic vectors (compare with bench/python/index_compare.py).
    Index(index_bench::IndexArgs),
    /// Closed-loop load on a running server: frames/s, faces/s, latency percentiles, batch sizes.
    Load(load::LoadArgs),
    /// Crash harness: enrol over gRPC and HTTP, kill -9 at a random moment, restart, check every acknowledged
    /// write and delete.
    Crash(crash::CrashArgs),
    /// The models alone in a tight in-process loop: the ceiling for `load`.
    Ceiling(ceiling::CeilingArgs),
    /// 1:1 verification accuracy of a running server on an LFW pairs file: accuracy, TAR at FAR, ROC.
    Pairs(pairs::PairsArgs),
    /// 1:N identification on a running server: rank-1/rank-5 rates, FNIR at FPIR 1e-2.
    Identify(identify::IdentifyArgs),
    /// Galleries shared on PostgreSQL between two servers: propagation delay, write cost against SQLite, catch-up.
    Replicas(replicas::ReplicasArgs),
    /// The Image API estimators of a running server on the labelled testdata sets (age, gender, emotion, ...).
    Attributes(attributes::AttributesArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match Cli::parse().command {
        Command::Embed(args) => runtime.block_on(embed::run(args)),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Load(args) => runtime.block_on(load::run(args)),
        Command::Ceiling(args) => ceiling::run(args),
        Command::Crash(args) => runtime.block_on(crash::run(args)),
        Command::Index(args) => index_bench::run(args),
        Command::Pairs(args) => runtime.block_on(pairs::run(args)),
        Command::Identify(args) => runtime.block_on(identify::run(args)),
        Command::Attributes(args) => runtime.block_on(attributes::run(args)),
        Command::Replicas(args) => runtime.block_on(replicas::run(args)),
    }
}
