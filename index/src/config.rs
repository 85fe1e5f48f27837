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
    /// Galleries with up to this many templates are searched by an exact scan; larger ones by `engine`.
    pub exact_max_templates: usize,
    /// The engine of galleries above `exact_max_templates`.
    pub engine: IndexEngine,
    /// With [`IndexEngine::Auto`]: galleries up to this size use the flat binary scan, larger ones usearch.
    pub binary_max_templates: usize,
    /// The hnsw_rs graph ([`IndexEngine::HnswRs`]).
    pub hnsw: HnswParams,
    /// The usearch graph ([`IndexEngine::Usearch`]).
    pub usearch: UsearchParams,
    /// The flat sign-bit scan ([`IndexEngine::Binary`]).
    pub binary: BinaryParams,
    /// An approximate index is rebuilt once this fraction of its entries are deleted templates.
    pub rebuild_tombstone_fraction: f32,
    /// Threads an index build may use (0: all cores).
    pub build_threads: usize,
    /// How often the background thread looks for indexes to build, rebuild or dump. None: no background
    /// thread; the owner calls [`crate::GalleryEngine::run_maintenance`] itself.
    pub maintenance_interval: Option<Duration>,
    /// An approximate index is dumped once it has this many changes that are not in its dump yet...
    pub checkpoint_after_changes: u64,
    /// ...or once its oldest such change is this old.
    pub checkpoint_after: Duration,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            exact_max_templates: 20_000,
            engine: IndexEngine::Auto,
            binary_max_templates: 2_000_000,
            hnsw: HnswParams::default(),
            usearch: UsearchParams::default(),
            binary: BinaryParams::default(),
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
        let usearch = &self.usearch;
        if !(2..=MAX_USEARCH_CONNECTIVITY).contains(&usearch.connectivity)
            || usearch.expansion_add == 0
            || usearch.expansion_search == 0
            || !(1..=MAX_RERANK).contains(&usearch.rerank)
            || !(usearch.i8_quantile > 0.5 && usearch.i8_quantile <= 1.0)
        {
            return Err(format!(
                "usearch parameters out of range (M 2..={MAX_USEARCH_CONNECTIVITY}, expansions >= 1, rerank \
                 1..={MAX_RERANK}, i8 quantile in (0.5, 1]): {usearch:?}"
            ));
        }
        if !(1..=MAX_RERANK).contains(&self.binary.rerank) {
            return Err(format!(
                "binary rerank must be in 1..={MAX_RERANK}, not {}",
                self.binary.rerank
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

/// More exactly re-ranked candidates than this cost more than an exact scan would save.
const MAX_RERANK: usize = 4096;
/// usearch stores neighbour counts in 16 bits; far beyond any useful graph.
const MAX_USEARCH_CONNECTIVITY: usize = 256;

/// The engine that searches galleries too large for the exact scan. Parsed from and shown as
/// `auto | exact | binary | usearch | hnsw_rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexEngine {
    /// By gallery size: exact, then the flat binary scan up to `binary_max_templates`, then usearch.
    #[default]
    Auto,
    /// Every gallery is scanned exactly, whatever its size.
    Exact,
    /// A flat scan over sign bits with exact re-ranking ([`crate::binary::BinaryIndex`]).
    Binary,
    /// A usearch graph over i8 (or binary) vectors with exact re-ranking ([`crate::usearch_index::UsearchIndex`]).
    Usearch,
    /// An hnsw_rs graph over f32 vectors ([`crate::hnsw::HnswIndex`]).
    HnswRs,
}

impl IndexEngine {
    pub const ALL: [IndexEngine; 5] = [
        IndexEngine::Auto,
        IndexEngine::Exact,
        IndexEngine::Binary,
        IndexEngine::Usearch,
        IndexEngine::HnswRs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IndexEngine::Auto => "auto",
            IndexEngine::Exact => "exact",
            IndexEngine::Binary => "binary",
            IndexEngine::Usearch => "usearch",
            IndexEngine::HnswRs => "hnsw_rs",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|engine| engine.as_str() == name)
    }
}

impl std::fmt::Display for IndexEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IndexEngine {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::parse(name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|e| e.as_str()).collect();
            format!("unknown index engine {name:?}; one of {}", names.join(", "))
        })
    }
}

/// What a usearch graph stores per template; every candidate is re-ranked against the f32 vector either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsearchVectors {
    /// i8, quantised by faceserve: one global scale, rounded and clamped to ±127 (512 B per template at 512-d).
    #[default]
    I8,
    /// i8 as usearch's own cast makes it from f32 (x·127/|x|, truncated): for comparison only, it loses precision.
    I8LibraryCast,
    /// One sign bit per dimension, compared by Hamming distance (64 B per template at 512-d).
    B1,
}

impl UsearchVectors {
    pub const ALL: [UsearchVectors; 3] = [
        UsearchVectors::I8,
        UsearchVectors::I8LibraryCast,
        UsearchVectors::B1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UsearchVectors::I8 => "i8",
            UsearchVectors::I8LibraryCast => "i8_cast",
            UsearchVectors::B1 => "b1",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == name)
    }
}

/// usearch graph parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsearchParams {
    /// Links per node and layer (M).
    pub connectivity: usize,
    /// Candidate list size while inserting.
    pub expansion_add: usize,
    /// Candidate list size while searching.
    pub expansion_search: usize,
    /// The best this many graph answers are re-scored exactly against the f32 vectors.
    pub rerank: usize,
    pub vectors: UsearchVectors,
    /// With i8 vectors: the quantile of |component| that maps to ±127 (larger components are clamped).
    pub i8_quantile: f32,
}

impl Default for UsearchParams {
    fn default() -> Self {
        UsearchParams {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 128,
            rerank: 32,
            vectors: UsearchVectors::I8,
            i8_quantile: 0.9999,
        }
    }
}

/// Flat binary scan parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryParams {
    /// The this many nearest codes by Hamming distance are re-scored exactly against the f32 vectors.
    pub rerank: usize,
}

impl Default for BinaryParams {
    fn default() -> Self {
        BinaryParams { rerank: 32 }
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
