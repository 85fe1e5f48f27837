//! The engines `faceserve-bench index` measures, each built through the index crate exactly as a gallery builds
//! it, saved and reloaded, then searched at every setting asked for (ef for graphs, rerank for all but hnsw_rs).

use std::path::Path;

use faceserve_index::binary::BinaryIndex;
use faceserve_index::hnsw::HnswIndex;
use faceserve_index::usearch_index::UsearchIndex;
use faceserve_index::{BinaryParams, HnswParams, UsearchParams, UsearchVectors, VectorIndex};

use super::generate::Dataset;
use super::measure::{self, BuildFigures, Row};
use super::truth::Truth;

/// An engine and the parameters that shape what it builds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Engine {
    Binary,
    Usearch(UsearchVectors),
    HnswRs,
}

impl Engine {
    /// "binary", "usearch-i8", "usearch-b1", "usearch-i8_cast" or "hnsw_rs".
    pub fn label(self) -> String {
        match self {
            Engine::Binary => "binary".into(),
            Engine::Usearch(vectors) => format!("usearch-{}", vectors.as_str()),
            Engine::HnswRs => "hnsw_rs".into(),
        }
    }

    pub fn parse(label: &str) -> anyhow::Result<Self> {
        Ok(match label {
            "binary" => Engine::Binary,
            "hnsw_rs" => Engine::HnswRs,
            other => {
                let vectors = other
                    .strip_prefix("usearch-")
                    .and_then(UsearchVectors::parse)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "unknown engine {other:?}: binary, usearch-i8, usearch-b1, usearch-i8_cast or hnsw_rs"
                        )
                    })?;
                Engine::Usearch(vectors)
            }
        })
    }
}

/// What is measured and with which parameters.
pub struct Plan<'a> {
    pub engine: Engine,
    pub hnsw: HnswParams,
    pub usearch: UsearchParams,
    pub efs: &'a [usize],
    pub reranks: &'a [usize],
    pub threshold: f32,
}

pub struct EngineReport {
    pub build: BuildFigures,
    pub rows: Vec<Row>,
    /// The kernel or library details worth printing.
    pub notes: String,
}

pub fn run(
    plan: &Plan<'_>,
    dataset: &Dataset,
    truth: &Truth,
    pool: &rayon::ThreadPool,
    work_dir: &Path,
) -> anyhow::Result<EngineReport> {
    let one_core = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let n = dataset.len();
    let dim = dataset.dim;
    let files = work_dir.join("live");
    let setting =
        |setting: String,
         search: &(dyn Fn(&[f32], usize) -> Vec<faceserve_index::Scored> + Sync)| {
            measure::measure_setting(
                setting,
                dataset,
                truth,
                plan.threshold,
                pool,
                &one_core,
                search,
            )
        };
    let mut rows = Vec::new();
    let (build, notes) = match plan.engine {
        Engine::Binary => {
            let mut index = BinaryIndex::new(dim, BinaryParams::default(), n, &files);
            let build = build_and_reload(dataset, &mut index, pool, work_dir, |dir, name| {
                Ok(Box::new(BinaryIndex::restore(
                    dir,
                    name,
                    dim,
                    BinaryParams::default(),
                )?))
            })?;
            for &rerank in plan.reranks {
                rows.push(setting(format!("rerank {rerank}"), &|q, k| {
                    index.search_with_rerank(q, k, rerank)
                }));
            }
            (
                build,
                format!("popcount kernel {}", index.hamming_kernel().name()),
            )
        }
        Engine::Usearch(vectors) => {
            let params = UsearchParams {
                vectors,
                ..plan.usearch
            };
            let mut index = UsearchIndex::new(dim, params, n, &files);
            let build = build_and_reload(dataset, &mut index, pool, work_dir, |dir, name| {
                Ok(Box::new(UsearchIndex::restore(dir, name, dim, params)?))
            })?;
            for &ef in plan.efs {
                index.set_expansion_search(ef);
                for &rerank in plan.reranks {
                    rows.push(setting(format!("ef {ef}, rerank {rerank}"), &|q, k| {
                        index.search_with_rerank(q, k, rerank)
                    }));
                }
            }
            let notes = format!(
                "M {}, expansion_add {}, {} thread slots, i8 quantile {}, kernels {}",
                params.connectivity,
                params.expansion_add,
                index.thread_slots(),
                params.i8_quantile,
                index.hardware_acceleration()
            );
            (build, notes)
        }
        Engine::HnswRs => {
            let mut index = HnswIndex::new(dim, plan.hnsw, n);
            let ef_search = plan.hnsw.ef_search;
            let build = build_and_reload(dataset, &mut index, pool, work_dir, |dir, name| {
                Ok(Box::new(HnswIndex::restore(dir, name, dim, ef_search)?))
            })?;
            for &ef in plan.efs {
                rows.push(setting(format!("ef {ef}"), &|q, k| {
                    index.search_with_ef(q, k, ef)
                }));
            }
            let notes = format!(
                "M {}, ef_construction {}, every candidate re-ranked",
                plan.hnsw.max_connections, plan.hnsw.ef_construction
            );
            (build, notes)
        }
    };
    let _ = std::fs::remove_dir_all(&files);
    Ok(EngineReport { build, rows, notes })
}

fn build_and_reload(
    dataset: &Dataset,
    index: &mut dyn VectorIndex,
    pool: &rayon::ThreadPool,
    work_dir: &Path,
    restore: impl FnOnce(&Path, &str) -> anyhow::Result<Box<dyn VectorIndex>>,
) -> anyhow::Result<BuildFigures> {
    let (build_s, bytes_per_template) = measure::build(dataset, index, pool);
    let (save_s, save_bytes, load_s) = measure::save_and_reload(index, work_dir, restore)?;
    Ok(BuildFigures {
        build_s,
        inserts_per_s: dataset.len() as f64 / build_s,
        bytes_per_template,
        save_s,
        save_bytes,
        load_s,
    })
}
