//! `faceserve-bench attributes`: the Image API estimators of a running server measured on the labelled sets of
//! `../shared/testdata`, through `EstimateStream`, so the figures are what a client gets:
//!
//! - `utkface`: gender accuracy and age MAE (overall, under 18, from 18) on `utkface/labels.csv`;
//! - `fer2013`: emotion accuracy and the confusion matrix on `fer2013/labels.csv`;
//! - `mask`: faces judged masked on the masked-face photos and on unmasked photo sets;
//! - `liveness`: the verdict on the three anti-spoofing samples and how the live faces of three other sets score;
//! - `bodies`: persons found against people counted on labelled and group photos, and faces without a person.
//!
//! `--faces detect` (default) lets the server's detector find the face (photos where it finds none are counted as
//! `no_face` and left out of the figures); `--faces whole` gives the whole photo as the face region, as a client
//! holding face crops would. Each run ends with one line of `key=value` pairs.

mod bodies;
mod client;
mod liveness;
mod sets;

use std::path::PathBuf;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Task {
    Utkface,
    Fer2013,
    Mask,
    Liveness,
    Bodies,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Faces {
    /// The server's detector finds the faces (the largest is scored).
    Detect,
    /// The whole photo is the face region.
    Whole,
}

#[derive(Debug, clap::Args)]
pub struct AttributesArgs {
    /// gRPC address of the server.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    #[arg(long, value_enum)]
    pub task: Task,
    /// The testdata folder [default: $FACESERVE_TESTDATA or ../shared/testdata].
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "detect")]
    pub faces: Faces,
    /// Use every n-th labelled photo (1 = all).
    #[arg(long, default_value_t = 1)]
    pub every: usize,
    /// utkface: also write each photo's labels and answer (estimated age, male probability) to this CSV file.
    #[arg(long)]
    pub answers: Option<PathBuf>,
}

pub async fn run(args: AttributesArgs) -> anyhow::Result<()> {
    let data = args
        .data
        .clone()
        .or_else(|| std::env::var_os("FACESERVE_TESTDATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/testdata"));
    anyhow::ensure!(
        data.is_dir(),
        "testdata not found at {}: pass --data or set FACESERVE_TESTDATA",
        data.display()
    );
    let client = client::Client::connect(&args.addr, args.faces).await?;
    match args.task {
        Task::Utkface => {
            sets::utkface(&client, &data, args.every.max(1), args.answers.as_deref()).await
        }
        Task::Fer2013 => sets::fer2013(&client, &data, args.every.max(1)).await,
        Task::Mask => sets::mask(&client, &data).await,
        Task::Liveness => liveness::liveness(&client, &data).await,
        Task::Bodies => bodies::bodies(&client, &data).await,
    }
}
