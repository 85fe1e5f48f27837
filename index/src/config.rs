//! Engine and index settings, with defaults chosen from `faceserve-bench index` (see docs/PERFORMANCE.md).

use std::path::PathBuf;
use std::time::Duration;

/// Settings of a [`crate::GalleryEngine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Holds `faceserve.db` (the template store) and `indexes/` (index dumps).
    pub data_dir: PathBuf,
    /// The recognizer whose templates this server stores and compares, e.g. "w600k_mbf".
    pub model: String,
    /// Its embedding dimension.
    pub dimension: usize,
    pub index: IndexConfig,
}

impl EngineConfig {
    /// A configuration with the default index settings.
    pub fn new(data_dir: impl Into<PathBuf>, model: impl Into<String>, dimension: usize) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            model: model.into(),
            dimension,
            index: IndexConfig::default(),
        }
    }
}

/// How galleries are indexed and maintained.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    /// Galleries with up to this many templates are searched by an exact scan; larger ones by HNSW.
    pub exact_max_templates: usize,
    pub hnsw: HnswParams,
    /// An HNSW index is rebuilt once this fraction of its entries are deleted templates.
    pub rebuild_tombstone_fraction: f32,
    /// Threads an index build may use (0: all cores).
    pub build_threads: usize,
    /// How often the background thread looks for indexes to build, rebuild or dump. None: no background
    /// thread; the owner calls [`crate::GalleryEngine::run_maintenance`] itself.
    pub maintenance_interval: Option<Duration>,
    /// An HNSW index is dumped once it has this many changes that are not in its dump yet...
    pub checkpoint_after_changes: u64,
    /// ...or once its oldest such change is this old.
    pub checkpoint_after: Duration,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            exact_max_templates: 20_000,
            hnsw: HnswParams::default(),
            rebuild_tombstone_fraction: 0.1,
            build_threads: 0,
            maintenance_interval: Some(Duration::from_secs(5)),
            checkpoint_after_changes: 10_000,
            checkpoint_after: Duration::from_secs(600),
        }
    }
}

impl IndexConfig {
    /// Why these settings can not be used, if they can not.
    pub fn check(&self) -> Result<(), String> {
        let hnsw = &self.hnsw;
        // hnsw_rs ends the process on more than 256 links per node; refuse such settings instead.
        if !(2..=256).contains(&hnsw.max_connections)
            || hnsw.ef_construction == 0
            || hnsw.ef_search == 0
        {
            return Err(format!(
                "HNSW parameters out of range (M 2..=256, ef_construction and ef_search >= 1): {hnsw:?}"
            ));
        }
        if !(self.rebuild_tombstone_fraction > 0.0 && self.rebuild_tombstone_fraction <= 1.0) {
            return Err(format!(
                "rebuild_tombstone_fraction must be in (0, 1], not {}",
                self.rebuild_tombstone_fraction
            ));
        }
        Ok(())
    }
}

/// HNSW graph parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswParams {
    /// Links per node and layer (M); the bottom layer keeps twice as many.
    pub max_connections: usize,
    /// Candidate list size while inserting.
    pub ef_construction: usize,
    /// Candidate list size while searching; every candidate is re-ranked exactly.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            max_connections: 16,
            ef_construction: 200,
            // Recall@1 of enrolled faces 0.998 at 100k face-like templates (0.989 at 64), p50 2.7 ms.
            ef_search: 128,
        }
    }
}
