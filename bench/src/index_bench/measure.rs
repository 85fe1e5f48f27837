//! Timing one index the same way whatever its engine: build rate and resident memory, save and reload, and per
//! search setting recall, latency on one thread and throughput on all.

use std::path::Path;
use std::time::{Duration, Instant};

use faceserve_index::{SavedFiles, Scored, VectorIndex};
use rayon::prelude::*;

use super::generate::Dataset;
use super::truth::{Truth, recall};

/// Insertions per parallel batch while building.
const BUILD_BATCH: usize = 10_000;
/// Throughput runs repeat the query set until they last at least this long.
const THROUGHPUT_RUN: Duration = Duration::from_secs(2);

/// One search setting of one index.
pub struct Row {
    /// "ef 128, rerank 32" and the like.
    pub setting: String,
    pub recall_at_1: f64,
    /// Over the queries whose person is enrolled (new photos of gallery identities).
    pub recall_at_1_enrolled: f64,
    pub recall_at_10: f64,
    pub recall_above_threshold: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// p50 with the search kept to one core (an engine that splits a query over the pool does not here).
    pub p50_one_core_ms: f64,
    pub queries_per_s: f64,
}

/// What building and reloading one index cost.
pub struct BuildFigures {
    pub build_s: f64,
    pub inserts_per_s: f64,
    pub bytes_per_template: f64,
    pub save_s: f64,
    pub save_bytes: u64,
    pub load_s: f64,
}

/// Inserts the gallery into `index` on `pool` in batches; returns the seconds taken and the growth of resident
/// memory per template (the gallery itself was resident before).
pub fn build(
    dataset: &Dataset,
    index: &mut dyn VectorIndex,
    pool: &rayon::ThreadPool,
) -> (f64, f64) {
    let n = dataset.len();
    let rss_before = resident_bytes();
    let started = Instant::now();
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
    (build_s, bytes_per_template)
}

/// Saves `index` into `work_dir`, restores it with `restore` and checks it holds every template; returns (save
/// seconds, bytes written, load seconds). The files are removed again.
pub fn save_and_reload(
    index: &dyn VectorIndex,
    work_dir: &Path,
    restore: impl FnOnce(&Path, &str) -> anyhow::Result<Box<dyn VectorIndex>>,
) -> anyhow::Result<(f64, u64, f64)> {
    std::fs::create_dir_all(work_dir)?;
    let started = Instant::now();
    let saved: SavedFiles = index.persist(work_dir, "bench")?;
    let save_s = started.elapsed().as_secs_f64();
    let save_bytes = saved
        .files
        .iter()
        .map(|file| std::fs::metadata(work_dir.join(file)).map_or(0, |m| m.len()))
        .sum();
    let started = Instant::now();
    let reloaded = restore(work_dir, &saved.basename)?;
    let load_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        reloaded.len() == index.len(),
        "the reloaded index holds {} of {}",
        reloaded.len(),
        index.len()
    );
    drop(reloaded);
    for file in &saved.files {
        let _ = std::fs::remove_file(work_dir.join(file));
    }
    Ok((save_s, save_bytes, load_s))
}

/// Recall, latency and throughput of `search` (the truth's k answers per query).
pub fn measure_setting(
    setting: String,
    dataset: &Dataset,
    truth: &Truth,
    threshold: f32,
    pool: &rayon::ThreadPool,
    one_core: &rayon::ThreadPool,
    search: impl Fn(&[f32], usize) -> Vec<Scored> + Sync,
) -> Row {
    let k = truth.k;
    let (latencies, answers) = single_thread(dataset, |q| search(q, k));
    let mut row = score(truth, &answers, threshold, &enrolled_queries(dataset));
    row.setting = setting;
    row.p50_ms = percentile(&latencies, 0.50);
    row.p99_ms = percentile(&latencies, 0.99);
    let (one_core_latencies, _) = one_core.install(|| single_thread(dataset, |q| search(q, k)));
    row.p50_one_core_ms = percentile(&one_core_latencies, 0.50);
    row.queries_per_s = throughput(dataset, pool, |q| search(q, k));
    eprintln!(
        "  {}: recall@1 {:.4}, enrolled {:.4}, p50 {:.3} ms, {:.0} queries/s",
        row.setting, row.recall_at_1, row.recall_at_1_enrolled, row.p50_ms, row.queries_per_s
    );
    row
}

/// Per-query latencies (ms) and answers (keys), one query at a time on this thread.
pub fn single_thread(
    dataset: &Dataset,
    search: impl Fn(&[f32]) -> Vec<Scored>,
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
    search: impl Fn(&[f32]) -> Vec<Scored> + Sync,
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

fn score(truth: &Truth, answers: &[Vec<u64>], threshold: f32, enrolled: &[bool]) -> Row {
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
    Row {
        setting: String::new(),
        recall_at_1: mean(&|r| r.at_1),
        recall_at_1_enrolled: if enrolled_at_1.is_empty() {
            f64::NAN
        } else {
            enrolled_at_1.iter().sum::<f64>() / enrolled_at_1.len() as f64
        },
        recall_at_10: mean(&|r| r.at_10),
        recall_above_threshold: if with_above.is_empty() {
            1.0
        } else {
            with_above.iter().map(|r| r.above_threshold).sum::<f64>() / with_above.len() as f64
        },
        p50_ms: 0.0,
        p99_ms: 0.0,
        p50_one_core_ms: 0.0,
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
