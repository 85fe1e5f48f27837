//! `faceserve-bench identify`: 1:N identification on a running server with folder-per-identity sets (see
//! `identify/sets.rs` for what is enrolled and what is searched). Enrols the gallery into a scratch gallery of its
//! own (deleted before and after), searches every probe with `Identify` (largest face, every candidate returned),
//! and reports the rank-1 and rank-5 identification rates, the FNIR at FPIR 1e-2 when there are unknown probes,
//! and both rates at the server's own threshold.

mod metrics;
mod sets;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use futures::StreamExt;
use tonic::transport::Channel;

use crate::pairs::client::{Outcome, connect, counted, encoded};
use metrics::ProbeResult;
use sets::IdentifySet;

#[derive(Debug, clap::Args)]
pub struct IdentifyArgs {
    /// gRPC address of the server.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// Folder of identity folders to enrol.
    #[arg(long)]
    pub gallery: PathBuf,
    /// Folder of probes: identity folders (and loose photos named in --labels). The same folder as --gallery
    /// enrols each identity's first photo and searches the rest.
    #[arg(long)]
    pub probes: PathBuf,
    /// `file,identity` lines for photos loose in the probes folder (`a|b`: any of several people; `-`: unknown).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// The scratch gallery the run enrols into; deleted before and after the run.
    #[arg(long, default_value = "faceserve-bench-identify")]
    pub gallery_name: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Only build the gallery and probe lists and print their sizes; no server needed.
    #[arg(long)]
    pub parse_only: bool,
}

/// Candidates asked for: enough templates to hold the best 5 distinct identities.
const RANKS: usize = 5;

type Client = FaceServiceClient<Channel>;

/// Enrols the gallery; returns template id -> identity and the photos that could not be enrolled.
async fn enrol(
    args: &IdentifyArgs,
    client: &Client,
    set: &IdentifySet,
) -> anyhow::Result<(HashMap<String, String>, Vec<String>)> {
    let results: Vec<anyhow::Result<(String, Outcome<pb::AddResponse>)>> =
        futures::stream::iter(set.gallery.iter().cloned())
            .map(|enrolment| {
                let gallery = args.gallery_name.clone();
                async move {
                    let bytes = std::fs::read(&enrolment.path)
                        .with_context(|| format!("reading {}", enrolment.path.display()))?;
                    let request = pb::AddRequest {
                        image: Some(encoded(bytes)),
                        gallery,
                        face_policy: pb::FacePolicy::Largest as i32,
                        ..Default::default()
                    };
                    let what = format!("enrolling {}", enrolment.path.display());
                    let outcome = counted(&what, || {
                        let (mut client, request) = (client.clone(), request.clone());
                        async move { client.add(request).await }
                    })
                    .await?;
                    Ok((enrolment.identity, outcome))
                }
            })
            .buffered(args.concurrency.max(1))
            .collect()
            .await;
    let (mut templates, mut failed) = (HashMap::new(), Vec::new());
    for (result, enrolment) in results.into_iter().zip(&set.gallery) {
        match result? {
            (identity, Outcome::Answer(added)) => {
                templates.insert(added.template_id, identity);
            }
            (_, Outcome::NoFace(why)) => {
                failed.push(format!("{}: {why}", enrolment.path.display()))
            }
        }
    }
    Ok((templates, failed))
}

/// Searches every probe; candidates are merged per identity (best similarity) in rank order.
async fn search(
    args: &IdentifyArgs,
    client: &Client,
    set: &IdentifySet,
    templates: &HashMap<String, String>,
    top_k: u32,
) -> anyhow::Result<Vec<ProbeResult>> {
    let results: Vec<anyhow::Result<ProbeResult>> =
        futures::stream::iter(set.probes.iter().cloned())
            .map(|probe| {
                let gallery = args.gallery_name.clone();
                async move {
                    let bytes = std::fs::read(&probe.path)
                        .with_context(|| format!("reading {}", probe.path.display()))?;
                    let request = pb::IdentifyRequest {
                        image: Some(encoded(bytes)),
                        gallery,
                        top_k,
                        // Every candidate comes back, whatever its similarity: the thresholds are decided here.
                        threshold: Some(pb::Threshold {
                            kind: Some(pb::threshold::Kind::Cosine(-1.0)),
                        }),
                        face_policy: pb::FacePolicy::Largest as i32,
                        ..Default::default()
                    };
                    let what = format!("identifying {}", probe.path.display());
                    let candidates = match counted(&what, || {
                        let (mut client, request) = (client.clone(), request.clone());
                        async move { client.identify(request).await }
                    })
                    .await?
                    {
                        Outcome::Answer(answer) => {
                            let mut by_identity: Vec<(String, f32)> = Vec::new();
                            for m in answer.matches {
                                let identity =
                                    templates.get(&m.template_id).with_context(|| {
                                        format!("{what}: unknown template {}", m.template_id)
                                    })?;
                                if !by_identity.iter().any(|(id, _)| id == identity) {
                                    by_identity.push((identity.clone(), m.similarity));
                                }
                            }
                            Some(by_identity)
                        }
                        Outcome::NoFace(_) => None,
                    };
                    Ok(ProbeResult {
                        truth: probe.truth,
                        candidates,
                    })
                }
            })
            .buffered(args.concurrency.max(1))
            .collect()
            .await;
    results.into_iter().collect()
}

/// The threshold the server applies when a request names none, read from an answer for the first gallery photo
/// with a usable face.
async fn server_threshold(
    client: &Client,
    args: &IdentifyArgs,
    set: &IdentifySet,
) -> anyhow::Result<f64> {
    for enrolment in &set.gallery {
        let bytes = std::fs::read(&enrolment.path)?;
        let request = pb::IdentifyRequest {
            image: Some(encoded(bytes)),
            gallery: args.gallery_name.clone(),
            face_policy: pb::FacePolicy::Largest as i32,
            ..Default::default()
        };
        let outcome = counted("reading the server's threshold", || {
            let (mut client, request) = (client.clone(), request.clone());
            async move { client.identify(request).await }
        })
        .await?;
        if let Outcome::Answer(answer) = outcome {
            return Ok(f64::from(answer.threshold));
        }
    }
    Ok(f64::NAN)
}

fn print_sizes(set: &IdentifySet) {
    let unknown = set.unknown_probes();
    println!(
        "gallery: {} photos of {} identities; probes: {} of enrolled identities, {unknown} unknown",
        set.gallery.len(),
        set.identities().len(),
        set.probes.len() - unknown
    );
}

pub async fn run(args: IdentifyArgs) -> anyhow::Result<()> {
    let labels = match &args.labels {
        Some(path) => Some(sets::read_labels(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?),
        None => None,
    };
    let set = sets::build(&args.gallery, &args.probes, labels.as_ref())?;
    print_sizes(&set);
    if args.parse_only {
        let unknown = set.unknown_probes();
        println!(
            "enrolments={} identities={} mated_probes={} unknown_probes={unknown}",
            set.gallery.len(),
            set.identities().len(),
            set.probes.len() - unknown
        );
        return Ok(());
    }
    let client = connect(&args.addr).await?;
    let _ = client
        .clone()
        .delete_gallery(pb::DeleteGalleryRequest {
            gallery: args.gallery_name.clone(),
        })
        .await;
    let started = Instant::now();
    let measured = measure(&args, &client, &set).await;
    // The scratch gallery goes whatever happened.
    let _ = client
        .clone()
        .delete_gallery(pb::DeleteGalleryRequest {
            gallery: args.gallery_name.clone(),
        })
        .await;
    let (results, failed_enrolments, server_t) = measured?;
    report(
        &set,
        &results,
        &failed_enrolments,
        server_t,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

async fn measure(
    args: &IdentifyArgs,
    client: &Client,
    set: &IdentifySet,
) -> anyhow::Result<(Vec<ProbeResult>, Vec<String>, f64)> {
    let (templates, failed) = enrol(args, client, set).await?;
    anyhow::ensure!(
        !templates.is_empty(),
        "no gallery photo could be enrolled: {failed:?}"
    );
    let mut per_identity: HashMap<&str, usize> = HashMap::new();
    for identity in templates.values() {
        *per_identity.entry(identity).or_default() += 1;
    }
    let most = per_identity.values().copied().max().unwrap_or(1);
    let top_k = (RANKS * most).min(100) as u32;
    let server_t = server_threshold(client, args, set).await?;
    let results = search(args, client, set, &templates, top_k).await?;
    Ok((results, failed, server_t))
}

fn report(
    set: &IdentifySet,
    results: &[ProbeResult],
    failed_enrolments: &[String],
    server_t: f64,
    seconds: f64,
) {
    let no_face = results.iter().filter(|r| r.candidates.is_none()).count();
    println!(
        "{} enrolments failed, {no_face} probes without a usable face (both counted as misses); {seconds:.1} s",
        failed_enrolments.len()
    );
    for f in failed_enrolments.iter().take(10) {
        println!("  not enrolled: {f}");
    }
    let (rank1, mated) = metrics::rank_rate(results, 1);
    let (rank5, _) = metrics::rank_rate(results, RANKS);
    println!("rank-1 {rank1:.4}, rank-5 {rank5:.4} over {mated} mated probes");
    let at_fpir = metrics::fnir_at_fpir(results, 1e-2);
    match &at_fpir {
        Some(f) => {
            let resolution = if f.allowed_false_positives == 0 {
                " (too few unknown probes to resolve 1e-2)"
            } else {
                ""
            };
            println!(
                "FNIR at FPIR {:.0e}: {:.4} (cosine >= {:.3}; {} false positives allowed of {} unknown probes{resolution})",
                f.target_fpir, f.fnir, f.threshold, f.allowed_false_positives, f.unknown
            );
        }
        None => println!("FNIR at FPIR 1e-2: no unknown probes"),
    }
    let (fpir, fnir) = metrics::rates_at(results, server_t);
    println!("at the server's threshold {server_t:.3}: FPIR {fpir:.4}, FNIR {fnir:.4}");
    let (fnir_at, threshold_at) = at_fpir.map_or((f64::NAN, f64::NAN), |f| (f.fnir, f.threshold));
    println!(
        "rank1={rank1:.4} rank5={rank5:.4} fnir_at_fpir_1e-2={fnir_at:.4} threshold_at_fpir_1e-2={threshold_at:.3} \
         server_threshold={server_t:.3} fpir_at_server_threshold={fpir:.4} fnir_at_server_threshold={fnir:.4} \
         enrolled={} mated_probes={mated} unknown_probes={} failures={} seconds={seconds:.1}",
        set.gallery.len() - failed_enrolments.len(),
        set.unknown_probes(),
        failed_enrolments.len() + no_face
    );
}
