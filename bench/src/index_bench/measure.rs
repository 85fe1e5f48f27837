//! Timing the engine's HNSW index (hnsw_rs behind `faceserve_index::hnsw::HnswIndex`, with exact re-ranking):
//! build rate, memory, dump and reload, recall, latency on one thread and throughput on all.

use std::path::Path;
use std::time::{Duration, Instant};

use faceserve_index::exact::ExactIndex;
use faceserve_index::hnsw::HnswIndex;
use faceserve_index::{HnswParams, VectorIndex};
use rayon::prelude::*;

use super::generate::Dataset;
use super::truth::{Truth, recall};

/// Insertions per parallel batch while building.
const BUILD_BATCH: usize = 10_000;
/// Throughput runs repeat the query set until they last at least this long.
const THROUGHPUT_RUN: Duration = Duration::from_secs(2);

pub struct EfRow {
    pub ef: usize,
    pub recall_at_1: f64,
    /// Over the queries whose person is enrolled (new photos of gallery identities).
    pub recall_at_1_enrolled: f64,
    pub recall_at_10: f64,
    pub recall_above_threshold: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub queries_per_s: f64,
}

pub struct HnswFigures {
    pub build_s: f64,
    pub inserts_per_s: f64,
    pub bytes_per_template: f64,
    pub dump_s: f64,
    pub dump_bytes: u64,
    pub load_s: f64,
    pub rows: Vec<EfRow>,
}

pub fn measure_hnsw(
    dataset: &Dataset,
    truth: &Truth,
    params: HnswParams,
    efs: &[usize],
    threshold: f32,
    pool: &rayon::ThreadPool,
    work_dir: &Path,
) -> anyhow::Result<HnswFigures> {
    let n = dataset.len();
    let rss_before = resident_bytes();
    let started = Instant::now();
    let mut index = HnswIndex::new(dataset.dim, params, n);
    for (batch_number, batch) in dataset
        .gallery
        .chunks(BUILD_BATCH * dataset.dim)
        .enumerate()
    {
        let first = batch_number * BUILD_BATCH;
        let items: Vec<(u64, &[f32])> = batch
            .chunks_exact(dataset.dim)
            .enumerate()
            .map(|(i, v)| ((first + i) as u64, v))
            .collect();
        pool.install(|| index.insert_batch(&items));
        if (batch_number + 1) % 10 == 0 {
            eprintln!(
                "  built {} of {n} in {:.0} s",
                first + items.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let build_s = started.elapsed().as_secs_f64();
    let bytes_per_template = resident_bytes().saturating_sub(rss_before) as f64 / n as f64;

    std::fs::create_dir_all(work_dir)?;
    let started = Instant::now();
    let saved = index.persist(work_dir, "bench")?;
    let dump_s = started.elapsed().as_secs_f64();
    let dump_bytes = saved
        .files
        .iter()
        .map(|file| std::fs::metadata(work_dir.join(file)).map_or(0, |m| m.len()))
        .sum();
    let started = Instant::now();
    let reloaded = HnswIndex::restore(work_dir, &saved.basename, dataset.dim, params.ef_search)?;
    let load_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        reloaded.len() == n,
        "the reloaded index holds {} of {n}",
        reloaded.len()
    );
    drop(reloaded);
    for file in &saved.files {
        let _ = std::fs::remove_file(work_dir.join(file));
    }

    let rows = efs
        .iter()
        .map(|&ef| {
            let search = |q: &[f32]| index.search_with_ef(q, truth.k, ef);
            let (latencies, answers) = single_thread(dataset, search);
            let mut row = score(truth, &answers, threshold, &enrolled_queries(dataset));
            row.ef = ef;
            row.p50_ms = percentile(&latencies, 0.50);
            row.p99_ms = percentile(&latencies, 0.99);
            row.queries_per_s = throughput(dataset, pool, search);
            eprintln!(
                "  ef {ef}: recall@1 {:.4}, p50 {:.3} ms, {:.0} queries/s",
                row.recall_at_1, row.p50_ms, row.queries_per_s
            );
            row
        })
        .collect();
    Ok(HnswFigures {
        build_s,
        inserts_per_s: n as f64 / build_s,
        bytes_per_template,
        dump_s,
        dump_bytes,
        load_s,
        rows,
    })
}

/// Exact scan against HNSW latency (one thread) for the first `size` templates, to place the switch between them.
pub struct Crossover {
    pub size: usize,
    pub exact_p50_ms: f64,
    pub hnsw_p50_ms: f64,
    pub hnsw_recall_at_1: f64,
}

pub fn crossover(
    dataset: &Dataset,
    sizes: &[usize],
    params: HnswParams,
    pool: &rayon::ThreadPool,
) -> Vec<Crossover> {
    sizes
        .iter()
        .filter(|&&size| size <= dataset.len())
        .map(|&size| {
            let rows = &dataset.gallery[..size * dataset.dim];
            let mut exact = ExactIndex::with_capacity(dataset.dim, size);
            let mut hnsw = HnswIndex::new(dataset.dim, params, size);
            let items: Vec<(u64, &[f32])> = rows
                .chunks_exact(dataset.dim)
                .enumerate()
                .map(|(i, v)| (i as u64, v))
                .collect();
            for (key, v) in &items {
                exact.insert(*key, v);
            }
            pool.install(|| hnsw.insert_batch(&items));
            let (exact_ms, exact_answers) = single_thread(dataset, |q| exact.search(q, 1));
            let (hnsw_ms, hnsw_answers) = single_thread(dataset, |q| hnsw.search(q, 1));
            let agree = exact_answers
                .iter()
                .zip(&hnsw_answers)
                .filter(|(a, b)| a.first() == b.first())
                .count();
            Crossover {
                size,
                exact_p50_ms: percentile(&exact_ms, 0.5),
                hnsw_p50_ms: percentile(&hnsw_ms, 0.5),
                hnsw_recall_at_1: agree as f64 / exact_answers.len() as f64,
            }
        })
        .collect()
}

/// Per-query latencies (ms) and answers (keys), one query at a time on this thread.
fn single_thread(
    dataset: &Dataset,
    search: impl Fn(&[f32]) -> Vec<faceserve_index::Scored>,
) -> (Vec<f64>, Vec<Vec<u64>>) {
    dataset
        .queries
        .chunks_exact(dataset.dim)
        .map(|q| {
            let started = Instant::now();
            let hits = search(q);
            (
                started.elapsed().as_secs_f64() * 1e3,
                hits.iter().map(|h| h.key).collect(),
            )
        })
        .unzip()
}

fn throughput(
    dataset: &Dataset,
    pool: &rayon::ThreadPool,
    search: impl Fn(&[f32]) -> Vec<faceserve_index::Scored> + Sync,
) -> f64 {
    let started = Instant::now();
    let mut answered = 0usize;
    while started.elapsed() < THROUGHPUT_RUN {
        answered += pool.install(|| {
            dataset
                .queries
                .par_chunks_exact(dataset.dim)
                .map(|q| search(q).len().min(1))
                .count()
        });
    }
    answered as f64 / started.elapsed().as_secs_f64()
}

/// Whether each query's identity is in the gallery.
fn enrolled_queries(dataset: &Dataset) -> Vec<bool> {
    let enrolled: std::collections::HashSet<i32> =
        dataset.gallery_identities.iter().copied().collect();
    dataset
        .query_identities
        .iter()
        .map(|id| enrolled.contains(id))
        .collect()
}

fn score(truth: &Truth, answers: &[Vec<u64>], threshold: f32, enrolled: &[bool]) -> EfRow {
    let recalls: Vec<_> = answers
        .iter()
        .enumerate()
        .map(|(q, a)| recall(truth, q, a, threshold))
        .collect();
    let enrolled_at_1: Vec<f64> = recalls
        .iter()
        .zip(enrolled)
        .filter(|(_, e)| **e)
        .map(|(r, _)| r.at_1)
        .collect();
    let mean = |f: &dyn Fn(&super::truth::Recall) -> f64| {
        recalls.iter().map(f).sum::<f64>() / recalls.len() as f64
    };
    let with_above: Vec<_> = recalls.iter().filter(|r| r.has_above).collect();
    EfRow {
        ef: 0,
        recall_at_1: mean(&|r| r.at_1),
        recall_at_1_enrolled: enrolled_at_1.iter().sum::<f64>() / enrolled_at_1.len() as f64,
        recall_at_10: mean(&|r| r.at_10),
        recall_above_threshold: if with_above.is_empty() {
            1.0
        } else {
            with_above.iter().map(|r| r.above_threshold).sum::<f64>() / with_above.len() as f64
        },
        p50_ms: 0.0,
        p99_ms: 0.0,
        queries_per_s: 0.0,
    }
}

pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Resident memory of this process, from /proc (0 where there is none).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|pages| pages.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}
