//! `faceserve-bench index`: 1:N search at scale. Generates face-like vectors from the statistics of real
//! embeddings (or isotropic ones, the worst case), computes the exact answers, then measures the engine's HNSW
//! index: build rate, memory per template, dump and reload time, recall@1 / @10 / above the match threshold,
//! single-thread latency and all-core throughput for several ef_search. The vectors and exact answers are
//! saved as .npy for `bench/python/index_compare.py` (hnswlib, FAISS).

mod generate;
mod linalg;
mod measure;
mod stats;
mod truth;

use std::path::PathBuf;
use std::time::Instant;

use faceserve_index::HnswParams;

use generate::{Dataset, FaceLike};
use measure::percentile;
use stats::EmbeddingStats;
use truth::Truth;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VectorKind {
    /// Identities with several photos each, drawn from the spectra of real embeddings.
    FaceLike,
    /// Uniform on the sphere: no structure, the worst case for graph search.
    Isotropic,
}

#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// Vectors to index.
    #[arg(long, value_enum, default_value = "face-like")]
    pub kind: VectorKind,
    /// Gallery size.
    #[arg(long, default_value_t = 100_000)]
    pub templates: usize,
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// Output of `faceserve-bench embed` (embeddings.npy, identities.npy): the statistics face-like vectors follow.
    #[arg(long, default_value = "data/embed-stats")]
    pub stats: PathBuf,
    /// Photos per identity in a face-like gallery.
    #[arg(long, default_value_t = 4)]
    pub per_identity: usize,
    /// Share of face-like queries that are new photos of enrolled people (the rest are strangers).
    #[arg(long, default_value_t = 0.9)]
    pub enrolled_share: f64,
    /// Multiplies the measured within-identity spread.
    #[arg(long, default_value_t = 1.0)]
    pub within_scale: f64,
    /// Vectors and exact answers are kept in <data>/<kind>-<templates>/ and reused.
    #[arg(long, default_value = "data/index-bench")]
    pub data: PathBuf,
    /// HNSW links per node (M).
    #[arg(long, default_value_t = HnswParams::default().max_connections)]
    pub m: usize,
    #[arg(long, default_value_t = HnswParams::default().ef_construction)]
    pub ef_construction: usize,
    /// ef_search values to measure.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    pub ef: Vec<usize>,
    /// Similarity at which a gallery entry counts as a match, for the recall of entries above it.
    #[arg(long, default_value_t = 0.3)]
    pub threshold: f32,
    /// Threads for building and for the throughput runs (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Also time exact scans against HNSW at these gallery sizes (to choose the exact-search limit).
    #[arg(long, value_delimiter = ',')]
    pub crossover: Vec<usize>,
    /// Stop after writing the vectors and exact answers.
    #[arg(long)]
    pub generate_only: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub fn run(args: IndexArgs) -> anyhow::Result<()> {
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let kind = match args.kind {
        VectorKind::FaceLike => "face-like",
        VectorKind::Isotropic => "isotropic",
    };
    let dir = args.data.join(format!("{kind}-{}", args.templates));
    let dataset = prepare_vectors(&args, &dir, &pool)?;
    let cosines = dataset.cosines(4000);
    println!(
        "{kind} vectors: {} x {}, {} queries; cosines among the first 4000: genuine {:.3} ± {:.3}, impostor {:.3} ± {:.3}",
        dataset.len(),
        dataset.dim,
        dataset.query_count(),
        cosines.genuine_mean,
        cosines.genuine_std,
        cosines.impostor_mean,
        cosines.impostor_std
    );
    let truth = match Truth::load(&dir) {
        Ok(truth) if truth.ids.len() == dataset.query_count() * truth.k => truth,
        _ => {
            let started = Instant::now();
            let truth = pool.install(|| Truth::compute(&dataset, 10, &pool));
            truth.save(&dir)?;
            eprintln!(
                "exact answers computed in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            truth
        }
    };
    let exact_p50 = percentile(&truth.exact_ms, 0.5);
    println!("exact scan, one thread: p50 {exact_p50:.2} ms per query");
    if args.generate_only {
        println!(
            "kind={kind} templates={} dim={} exact_p50_ms={exact_p50:.3}",
            dataset.len(),
            dataset.dim
        );
        return Ok(());
    }

    let params = HnswParams {
        max_connections: args.m,
        ef_construction: args.ef_construction,
        ef_search: args.ef.first().copied().unwrap_or(64),
    };
    let figures = measure::measure_hnsw(
        &dataset,
        &truth,
        params,
        &args.ef,
        args.threshold,
        &pool,
        &dir.join("dump"),
    )?;
    println!(
        "\nfaceserve (hnsw_rs 0.3.5, M {}, ef_construction {}, {threads} threads): build {:.0} s = {:.0} inserts/s, \
         {:.0} bytes/template resident, dump {:.1} s ({:.0} MiB), reload {:.1} s",
        args.m,
        args.ef_construction,
        figures.build_s,
        figures.inserts_per_s,
        figures.bytes_per_template,
        figures.dump_s,
        figures.dump_bytes as f64 / (1 << 20) as f64,
        figures.load_s
    );
    println!(
        "\n| ef | recall@1 | recall@1 enrolled | recall@10 | recall ≥{} | p50 ms | p99 ms | queries/s ({threads} threads) |",
        args.threshold
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &figures.rows {
        println!(
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3} | {:.3} | {:.0} |",
            row.ef,
            row.recall_at_1,
            row.recall_at_1_enrolled,
            row.recall_at_10,
            row.recall_above_threshold,
            row.p50_ms,
            row.p99_ms,
            row.queries_per_s
        );
    }
    let mut summary = format!(
        "kind={kind} templates={} dim={} m={} ef_construction={} threads={threads} inserts_per_s={:.0} \
         bytes_per_template={:.0} dump_s={:.2} load_s={:.2} exact_p50_ms={exact_p50:.3}",
        dataset.len(),
        dataset.dim,
        args.m,
        args.ef_construction,
        figures.inserts_per_s,
        figures.bytes_per_template,
        figures.dump_s,
        figures.load_s
    );
    for row in &figures.rows {
        summary.push_str(&format!(
            " recall1_ef{ef}={:.4} recall1_enrolled_ef{ef}={:.4} recall10_ef{ef}={:.4} p50_ms_ef{ef}={:.3} \
             p99_ms_ef{ef}={:.3} qps_ef{ef}={:.0}",
            row.recall_at_1,
            row.recall_at_1_enrolled,
            row.recall_at_10,
            row.p50_ms,
            row.p99_ms,
            row.queries_per_s,
            ef = row.ef
        ));
    }
    // After the main run, so its memory figure is not blurred by these builds' freed memory.
    if !args.crossover.is_empty() {
        println!(
            "\n| templates | exact p50 ms | HNSW p50 ms (ef {}) | HNSW recall@1 |",
            params.ef_search
        );
        println!("|---:|---:|---:|---:|");
        for row in measure::crossover(&dataset, &args.crossover, params, &pool) {
            println!(
                "| {} | {:.3} | {:.3} | {:.4} |",
                row.size, row.exact_p50_ms, row.hnsw_p50_ms, row.hnsw_recall_at_1
            );
        }
    }

    println!("{summary}");
    Ok(())
}

/// The saved vectors of this configuration, or new ones (saved for the next run and for the Python script).
fn prepare_vectors(
    args: &IndexArgs,
    dir: &std::path::Path,
    pool: &rayon::ThreadPool,
) -> anyhow::Result<Dataset> {
    if let Ok(dataset) = Dataset::load(dir)
        && dataset.len() == args.templates
        && dataset.query_count() == args.queries
    {
        return Ok(dataset);
    }
    let started = Instant::now();
    let dataset = match args.kind {
        VectorKind::FaceLike => {
            let stats = EmbeddingStats::load(&args.stats)?;
            println!("{}", stats.describe());
            let settings = FaceLike {
                templates: args.templates,
                per_identity: args.per_identity,
                queries: args.queries,
                enrolled_share: args.enrolled_share,
                within_scale: args.within_scale,
                seed: args.seed,
            };
            println!(
                "generator: {} identities x {} photos, {:.0}% of queries from enrolled identities, within-identity \
                 spread x{}, seed {}",
                args.templates.div_ceil(args.per_identity),
                args.per_identity,
                args.enrolled_share * 100.0,
                args.within_scale,
                args.seed
            );
            pool.install(|| generate::face_like(&stats, &settings))
        }
        VectorKind::Isotropic => {
            pool.install(|| generate::isotropic(512, args.templates, args.queries, args.seed))
        }
    };
    dataset.save(dir)?;
    eprintln!(
        "vectors generated in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(dataset)
}
