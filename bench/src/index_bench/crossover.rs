//! Exact scan against the flat binary scan (one thread, p50) at growing gallery sizes, to place the switch
//! between them.

use faceserve_index::binary::BinaryIndex;
use faceserve_index::exact::ExactIndex;
use faceserve_index::{BinaryParams, VectorIndex};

use super::generate::Dataset;
use super::measure::{percentile, single_thread};

pub fn print(dataset: &Dataset, sizes: &[usize], pool: &rayon::ThreadPool) {
    println!(
        "\n| templates | exact p50 ms | binary p50 ms (rerank {}) | binary recall@1 |",
        BinaryParams::default().rerank
    );
    println!("|---:|---:|---:|---:|");
    let files = tempfile_dir();
    for &size in sizes.iter().filter(|&&size| size <= dataset.len()) {
        let rows = &dataset.gallery[..size * dataset.dim];
        let items: Vec<(u64, &[f32])> = rows
            .chunks_exact(dataset.dim)
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .collect();
        let mut exact = ExactIndex::with_capacity(dataset.dim, size);
        let mut binary = BinaryIndex::new(dataset.dim, BinaryParams::default(), size, &files);
        exact.insert_batch(&items);
        pool.install(|| binary.insert_batch(&items));
        let (exact_ms, exact_answers) = single_thread(dataset, |q| exact.search(q, 1));
        let (binary_ms, binary_answers) = single_thread(dataset, |q| binary.search(q, 1));
        let agree = exact_answers
            .iter()
            .zip(&binary_answers)
            .filter(|(a, b)| a.first() == b.first())
            .count();
        println!(
            "| {size} | {:.3} | {:.3} | {:.4} |",
            percentile(&exact_ms, 0.5),
            percentile(&binary_ms, 0.5),
            agree as f64 / exact_answers.len() as f64
        );
    }
    let _ = std::fs::remove_dir_all(&files);
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("faceserve-bench-crossover-{}", std::process::id()))
}
