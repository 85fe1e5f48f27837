//! `faceserve-bench index`: 1:N search at scale. Generates face-like vectors from the statistics of real
//! embeddings (or isotropic ones, the worst case), computes the exact answers, then measures each engine asked
//! for (the flat binary scan, usearch over i8 or sign bits, hnsw_rs): build rate, memory per template, save and
//! reload time, recall@1 / enrolled recall@1 / @10 / above the match threshold, single-thread latency and
//! all-core throughput for every setting. Each engine runs in a process of its own, so its memory figure is not
//! blurred by another's freed memory. The vectors and exact answers are saved as .npy for
//! `bench/python/index_compare.py` (hnswlib, FAISS).

mod crossover;
mod generate;
mod linalg;
mod measure;
mod report;
mod stats;
mod truth;
mod under_test;

use std::path::PathBuf;
use std::time::Instant;

use faceserve_index::{HnswParams, UsearchParams};

use generate::{Dataset, FaceLike};
pub(crate) use measure::percentile;
use stats::EmbeddingStats;
use truth::Truth;
use under_test::{Engine, Plan};

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
    /// Engines to measure: binary, usearch-i8, usearch-b1, usearch-i8_cast (usearch's own cast), hnsw_rs.
    #[arg(long, value_delimiter = ',', default_value = "binary,usearch-i8")]
    pub engines: Vec<String>,
    /// hnsw_rs links per node (M).
    #[arg(long, default_value_t = HnswParams::default().max_connections)]
    pub m: usize,
    /// hnsw_rs candidate list while inserting.
    #[arg(long, default_value_t = HnswParams::default().ef_construction)]
    pub ef_construction: usize,
    /// usearch links per node (M).
    #[arg(long, default_value_t = UsearchParams::default().connectivity)]
    pub usearch_m: usize,
    /// usearch candidate list while inserting.
    #[arg(long, default_value_t = UsearchParams::default().expansion_add)]
    pub usearch_ef_add: usize,
    /// The quantile of |component| faceserve's i8 quantisation maps to 127.
    #[arg(long, default_value_t = UsearchParams::default().i8_quantile)]
    pub i8_quantile: f32,
    /// Search candidate lists to measure (usearch and hnsw_rs).
    #[arg(long, value_delimiter = ',', default_value = "64,128,256")]
    pub ef: Vec<usize>,
    /// Exactly re-ranked candidates to measure (binary and usearch).
    #[arg(long, value_delimiter = ',', default_value = "16,32")]
    pub rerank: Vec<usize>,
    /// Similarity at which a gallery entry counts as a match, for the recall of entries above it.
    #[arg(long, default_value_t = 0.3)]
    pub threshold: f32,
    /// Threads for building and for the throughput runs (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Also time exact scans against the binary scan at these gallery sizes (to choose the exact-search limit).
    #[arg(long, value_delimiter = ',')]
    pub crossover: Vec<usize>,
    /// Stop after writing the vectors and exact answers.
    #[arg(long)]
    pub generate_only: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Internal: this process measures the one engine it is given and prints only its figures.
    #[arg(long, hide = true)]
    pub child: bool,
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
    let engines: Vec<Engine> = args
        .engines
        .iter()
        .map(|label| Engine::parse(label))
        .collect::<anyhow::Result<_>>()?;
    let dir = args.data.join(format!("{kind}-{}", args.templates));
    let dataset = prepare_vectors(&args, &dir, &pool)?;
    let truth = prepare_truth(&dataset, &dir, &pool)?;
    let exact_p50 = percentile(&truth.exact_ms, 0.5);
    let head = format!(
        "kind={kind} templates={} dim={} threads={threads} exact_p50_ms={exact_p50:.3}",
        dataset.len(),
        dataset.dim
    );
    if !args.child {
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
        println!("exact scan, one thread: p50 {exact_p50:.2} ms per query");
    }
    if args.generate_only {
        println!("{head}");
        return Ok(());
    }

    if engines.len() > 1 && !args.child {
        // One process per engine: resident memory is measured as growth, which freed memory would blur.
        let mut summary = head;
        for engine in &engines {
            let pairs = report::run_child(&engine.label())?;
            summary.push(' ');
            summary.push_str(&pairs);
        }
        if !args.crossover.is_empty() {
            crossover::print(&dataset, &args.crossover, &pool);
        }
        println!("{summary}");
        return Ok(());
    }

    let plan = Plan {
        engine: engines[0],
        hnsw: HnswParams {
            max_connections: args.m,
            ef_construction: args.ef_construction,
            ef_search: args.ef.first().copied().unwrap_or(64),
        },
        usearch: UsearchParams {
            connectivity: args.usearch_m,
            expansion_add: args.usearch_ef_add,
            i8_quantile: args.i8_quantile,
            ..UsearchParams::default()
        },
        efs: &args.ef,
        reranks: &args.rerank,
        threshold: args.threshold,
    };
    let report = under_test::run(&plan, &dataset, &truth, &pool, &dir.join("work"))?;
    let pairs = report::print_engine(&plan.engine.label(), &report, threads, args.threshold);
    if !args.child && !args.crossover.is_empty() {
        crossover::print(&dataset, &args.crossover, &pool);
    }
    if args.child {
        println!("{pairs}");
    } else {
        println!("{head} {pairs}");
    }
    Ok(())
}

/// The saved exact answers of this vector set, or new ones.
fn prepare_truth(
    dataset: &Dataset,
    dir: &std::path::Path,
    pool: &rayon::ThreadPool,
) -> anyhow::Result<Truth> {
    if let Ok(truth) = Truth::load(dir)
        && truth.ids.len() == dataset.query_count() * truth.k
    {
        return Ok(truth);
    }
    let started = Instant::now();
    let truth = pool.install(|| Truth::compute(dataset, 10, pool));
    truth.save(dir)?;
    eprintln!(
        "exact answers computed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(truth)
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
