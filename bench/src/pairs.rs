//! `faceserve-bench pairs`: 1:1 verification accuracy of a running server on an LFW-format pairs file. Every pair
//! goes through the server's `Verify` with both photos (largest face of each); a pair where a face was not found
//! is an error, never skipped. Reports accuracy (10-fold cross-validated when the file has folds, else at the
//! threshold learnt on `--threshold-from`, else at the server's own threshold), TAR at FAR 1e-2 and 1e-3, the ROC
//! AUC and the failures, and optionally writes the ROC as CSV and SVG.

pub mod client;
mod format;
mod metrics;
mod plot;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use faceserve_proto::v1 as pb;
use futures::StreamExt;

use client::{Outcome, connect, counted, encoded};
use format::{Pair, PairsFile};
use metrics::{CrossValidation, ScoredPair};

#[derive(Debug, clap::Args)]
pub struct PairsArgs {
    /// gRPC address of the server.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// Pairs file in the LFW format (first line `N` or `F N`).
    #[arg(long)]
    pub pairs: PathBuf,
    /// Folder of identity folders: photo i of Name is DIR/Name/Name_%04d.jpg.
    #[arg(long)]
    pub images: PathBuf,
    /// For a single set: learn the accuracy threshold on this other pairs file (e.g. pairsDevTrain.txt),
    /// verified through the server as well.
    #[arg(long)]
    pub threshold_from: Option<PathBuf>,
    /// Write the ROC (threshold, far, tar at every distinct cosine) to this CSV file.
    #[arg(long)]
    pub roc: Option<PathBuf>,
    /// Write an SVG plot of the ROC to this file.
    #[arg(long)]
    pub roc_svg: Option<PathBuf>,
    /// Verify requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Only read the pairs file(s) and check that every photo exists; no server needed.
    #[arg(long)]
    pub parse_only: bool,
}

/// The server's answers for one pairs file.
struct Verified {
    scored: Vec<ScoredPair>,
    /// Pairs the server decided right at its own threshold.
    server_correct: usize,
    server_threshold: Option<f32>,
    failures: Vec<String>,
}

fn face_input(path: &Path) -> anyhow::Result<Option<pb::FaceInput>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(pb::FaceInput {
        source: Some(pb::face_input::Source::Image(encoded(bytes))),
    }))
}

fn describe(pair: &Pair) -> String {
    if pair.same {
        format!("{} {} {}", pair.a.name, pair.a.number, pair.b.number)
    } else {
        format!(
            "{} {} {} {}",
            pair.a.name, pair.a.number, pair.b.name, pair.b.number
        )
    }
}

async fn verify_all(args: &PairsArgs, file: &PairsFile) -> anyhow::Result<Verified> {
    let client = &connect(&args.addr).await?;
    let results: Vec<anyhow::Result<(Pair, Outcome<pb::VerifyResponse>)>> =
        futures::stream::iter(file.pairs.iter().cloned())
            .map(|pair| {
                let images = args.images.clone();
                async move {
                    let request = pb::VerifyRequest {
                        a: face_input(&pair.a.path(&images))?,
                        b: face_input(&pair.b.path(&images))?,
                        face_policy: pb::FacePolicy::Largest as i32,
                        ..Default::default()
                    };
                    let outcome = counted(&describe(&pair), || {
                        let (mut client, request) = (client.clone(), request.clone());
                        async move { client.verify(request).await }
                    })
                    .await?;
                    Ok((pair, outcome))
                }
            })
            .buffered(args.concurrency.max(1))
            .collect()
            .await;
    let mut verified = Verified {
        scored: Vec::with_capacity(results.len()),
        server_correct: 0,
        server_threshold: None,
        failures: Vec::new(),
    };
    for result in results {
        let (pair, outcome) = result?;
        let similarity = match outcome {
            Outcome::Answer(answer) => {
                verified.server_correct += usize::from(answer.verified == pair.same);
                verified.server_threshold = Some(answer.threshold);
                Some(answer.similarity)
            }
            Outcome::NoFace(why) => {
                verified
                    .failures
                    .push(format!("{}: {why}", describe(&pair)));
                None
            }
        };
        verified.scored.push(ScoredPair {
            same: pair.same,
            fold: pair.fold,
            similarity,
        });
    }
    Ok(verified)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn parse_only(args: &PairsArgs, files: &[(PathBuf, PairsFile)]) -> anyhow::Result<()> {
    for (path, file) in files {
        let photos = file.check_photos(&args.images)?;
        let same = file.pairs.iter().filter(|p| p.same).count();
        println!(
            "{}: {} folds of {} + {} pairs, {same} same and {} different, {photos} photos, none missing",
            file_name(path),
            file.folds,
            file.per_fold,
            file.per_fold,
            file.pairs.len() - same
        );
        println!(
            "file={} folds={} pairs={} same={same} different={} photos={photos} missing=0",
            file_name(path),
            file.folds,
            file.pairs.len(),
            file.pairs.len() - same
        );
    }
    Ok(())
}

pub async fn run(args: PairsArgs) -> anyhow::Result<()> {
    let test = PairsFile::read(&args.pairs)?;
    let train = args
        .threshold_from
        .as_ref()
        .map(|p| PairsFile::read(p).map(|f| (p.clone(), f)))
        .transpose()?;
    anyhow::ensure!(
        test.folds == 1 || train.is_none(),
        "--threshold-from is for a single set: {} has {} folds, whose thresholds are cross-validated",
        file_name(&args.pairs),
        test.folds
    );
    if args.parse_only {
        let mut files = vec![(args.pairs.clone(), test)];
        files.extend(train);
        return parse_only(&args, &files);
    }
    test.check_photos(&args.images)?;
    if let Some((_, file)) = &train {
        file.check_photos(&args.images)?;
    }

    let started = Instant::now();
    let verified = verify_all(&args, &test).await?;
    let seconds = started.elapsed().as_secs_f64();
    let pairs = &verified.scored;
    let n = pairs.len();
    let same = pairs.iter().filter(|p| p.same).count();
    println!(
        "{}: {n} pairs ({same} same, {} different) in {} fold(s), verified in {seconds:.1} s ({:.1} pairs/s)",
        file_name(&args.pairs),
        n - same,
        test.folds,
        n as f64 / seconds
    );
    println!(
        "pairs where a face was not found (errors): {}",
        verified.failures.len()
    );
    for failure in verified.failures.iter().take(10) {
        println!("  {failure}");
    }

    // The reported accuracy and where its threshold came from.
    let (accuracy, threshold, source) = if test.folds > 1 {
        let cv = CrossValidation::run(pairs, test.folds);
        println!(
            "accuracy {:.4} +- {:.4} ({}-fold cross-validation, mean threshold {:.3})",
            cv.mean_accuracy(),
            cv.std_accuracy(),
            test.folds,
            cv.mean_threshold()
        );
        (
            cv.mean_accuracy(),
            cv.mean_threshold(),
            format!("{}-fold", test.folds),
        )
    } else if let Some((path, file)) = &train {
        let learnt = verify_all(&args, file).await?;
        let (threshold, train_accuracy) = metrics::best_threshold(&learnt.scored);
        let accuracy = metrics::accuracy_at(pairs, threshold);
        println!(
            "accuracy {accuracy:.4} at cosine {threshold:.3} learnt on {} ({} pairs, {} failures, accuracy there {train_accuracy:.4})",
            file_name(path),
            learnt.scored.len(),
            learnt.failures.len()
        );
        (accuracy, threshold, file_name(path))
    } else {
        let threshold = verified.server_threshold.map_or(f64::NAN, f64::from);
        (
            metrics::accuracy_at(pairs, threshold),
            threshold,
            "server".to_string(),
        )
    };
    let server_threshold = verified.server_threshold.map_or(f64::NAN, f64::from);
    let server_accuracy = verified.server_correct as f64 / n as f64;
    println!("accuracy {server_accuracy:.4} at the server's threshold {server_threshold:.3}");
    let (oracle_threshold, oracle_accuracy) = metrics::best_threshold(pairs);
    println!(
        "best accuracy on this set itself (optimistic): {oracle_accuracy:.4} at cosine {oracle_threshold:.3}"
    );

    let tars = [1e-2, 1e-3].map(|far| metrics::tar_at_far(pairs, far));
    for t in &tars {
        let resolution = if t.allowed_false_accepts == 0 {
            format!(
                "; {} impostor pairs resolve FAR down to {:.1e} only",
                t.impostors,
                1.0 / t.impostors as f64
            )
        } else {
            String::new()
        };
        println!(
            "TAR at FAR {:.0e}: {:.4} (cosine >= {:.3}, {} false accepts allowed of {}{resolution})",
            t.target_far, t.tar, t.threshold, t.allowed_false_accepts, t.impostors
        );
    }
    let auc = metrics::auc(pairs);
    println!("ROC AUC {auc:.5}");

    let curve = metrics::roc(pairs);
    if let Some(path) = &args.roc {
        std::fs::write(path, plot::csv(&curve))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.roc_svg {
        let title = format!(
            "ROC of {} ({n} pairs), AUC {auc:.4}",
            file_name(&args.pairs)
        );
        std::fs::write(path, plot::svg(&curve, n - same, &title))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "accuracy={accuracy:.4} threshold={threshold:.3} threshold_from={source} server_threshold={server_threshold:.3} \
         server_accuracy={server_accuracy:.4} tar_at_far_1e-2={:.4} tar_at_far_1e-3={:.4} auc={auc:.5} \
         failures={} pairs={n} seconds={seconds:.1}",
        tars[0].tar,
        tars[1].tar,
        verified.failures.len()
    );
    Ok(())
}
