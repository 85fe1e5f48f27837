//! Exact answers to the benchmark queries, the yardstick for recall; computed once per vector set and saved
//! beside it (ids as i32 [Q*k], similarities as f32 [Q, k]) for the Python comparison too.

use std::path::Path;
use std::time::Instant;

use faceserve_index::VectorIndex;
use faceserve_index::exact::ExactIndex;
use rayon::prelude::*;

use super::generate::Dataset;
use crate::npy;

pub struct Truth {
    pub k: usize,
    /// Gallery row numbers, best first, `k` per query.
    pub ids: Vec<i32>,
    pub similarities: Vec<f32>,
    /// Milliseconds one exact scan took, per query.
    pub exact_ms: Vec<f64>,
}

impl Truth {
    pub fn compute(dataset: &Dataset, k: usize, pool: &rayon::ThreadPool) -> Truth {
        let mut index = ExactIndex::with_capacity(dataset.dim, dataset.len());
        for (row, v) in dataset.gallery.chunks_exact(dataset.dim).enumerate() {
            index.insert(row as u64, v);
        }
        let answers: Vec<(Vec<(i32, f32)>, f64)> = pool.install(|| {
            dataset
                .queries
                .par_chunks_exact(dataset.dim)
                .map(|q| {
                    let started = Instant::now();
                    let hits = index.search(q, k);
                    let ms = started.elapsed().as_secs_f64() * 1e3;
                    (
                        hits.iter().map(|h| (h.key as i32, h.similarity)).collect(),
                        ms,
                    )
                })
                .collect()
        });
        Truth {
            k,
            ids: answers
                .iter()
                .flat_map(|(hits, _)| hits.iter().map(|h| h.0))
                .collect(),
            similarities: answers
                .iter()
                .flat_map(|(hits, _)| hits.iter().map(|h| h.1))
                .collect(),
            exact_ms: answers.iter().map(|(_, ms)| *ms).collect(),
        }
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        npy::write_i32_vector(&dir.join("truth_ids.npy"), &self.ids)?;
        npy::write_f32_matrix(
            &dir.join("truth_similarities.npy"),
            &self.similarities,
            self.k,
        )?;
        let ms: Vec<f32> = self.exact_ms.iter().map(|&x| x as f32).collect();
        npy::write_f32_matrix(&dir.join("truth_exact_ms.npy"), &ms, 1)
    }

    pub fn load(dir: &Path) -> anyhow::Result<Truth> {
        let (similarities, _, k) = npy::read_f32_matrix(&dir.join("truth_similarities.npy"))?;
        let (exact_ms, _, _) = npy::read_f32_matrix(&dir.join("truth_exact_ms.npy"))?;
        Ok(Truth {
            k,
            ids: npy::read_i32_vector(&dir.join("truth_ids.npy"))?,
            similarities,
            exact_ms: exact_ms.into_iter().map(f64::from).collect(),
        })
    }

    pub fn query(&self, q: usize) -> (&[i32], &[f32]) {
        (
            &self.ids[q * self.k..(q + 1) * self.k],
            &self.similarities[q * self.k..(q + 1) * self.k],
        )
    }
}

/// Recall of one query's answer (gallery rows, best first) against the truth.
#[derive(Debug, Default, Clone, Copy)]
pub struct Recall {
    pub at_1: f64,
    pub at_10: f64,
    /// Share of the true top-10 entries at or above the threshold that the answer holds.
    pub above_threshold: f64,
    /// Whether the query had any such entry (otherwise `above_threshold` is not counted).
    pub has_above: bool,
}

pub fn recall(truth: &Truth, q: usize, answer: &[u64], threshold: f32) -> Recall {
    let (ids, similarities) = truth.query(q);
    let at_10 = ids
        .iter()
        .take(10)
        .filter(|id| answer.iter().take(10).any(|a| *a == **id as u64))
        .count();
    let above: Vec<i32> = ids
        .iter()
        .zip(similarities)
        .filter(|(_, s)| **s >= threshold)
        .map(|(id, _)| *id)
        .collect();
    let found = above
        .iter()
        .filter(|id| answer.iter().take(10).any(|a| *a == **id as u64))
        .count();
    Recall {
        at_1: (answer.first() == ids.first().map(|id| *id as u64).as_ref()) as u8 as f64,
        at_10: at_10 as f64 / ids.len().min(10) as f64,
        above_threshold: if above.is_empty() {
            1.0
        } else {
            found as f64 / above.len() as f64
        },
        has_above: !above.is_empty(),
    }
}
