//! How galleries are searched: the `[index]` settings over the index crate's defaults. The engine of a gallery is
//! chosen by its size unless `engine` names one; graph shapes (M, ef_construction, the usearch vector type) apply to
//! indexes built from now on (a save keeps what it was built with until its next rebuild), search settings (ef,
//! rerank) to every gallery at start-up.

use faceserve_index::{
    BinaryParams, HnswParams, IndexConfig, IndexEngine, UsearchParams, UsearchVectors,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The engine of galleries above `exact_max_templates` (see docs/PERFORMANCE.md for the figures behind `auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineChoice {
    /// By gallery size: exact scan, flat sign-bit scan up to binary_max_templates, then usearch.
    Auto,
    /// Every gallery scanned exactly.
    Exact,
    /// Flat sign-bit scan with exact re-rank.
    Binary,
    /// usearch graph over i8 vectors with exact re-rank.
    Usearch,
    /// hnsw_rs graph over f32 vectors with exact re-rank (slower; kept for comparison).
    HnswRs,
}

impl From<EngineChoice> for IndexEngine {
    fn from(choice: EngineChoice) -> Self {
        match choice {
            EngineChoice::Auto => IndexEngine::Auto,
            EngineChoice::Exact => IndexEngine::Exact,
            EngineChoice::Binary => IndexEngine::Binary,
            EngineChoice::Usearch => IndexEngine::Usearch,
            EngineChoice::HnswRs => IndexEngine::HnswRs,
        }
    }
}

/// What a usearch graph stores per template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsearchVectorChoice {
    /// i8 quantised by faceserve (512 B per 512-d template).
    I8,
    /// i8 by usearch's own truncating cast (comparison only).
    I8Cast,
    /// one sign bit per dimension, Hamming distance (64 B).
    B1,
}

impl From<UsearchVectorChoice> for UsearchVectors {
    fn from(choice: UsearchVectorChoice) -> Self {
        match choice {
            UsearchVectorChoice::I8 => UsearchVectors::I8,
            UsearchVectorChoice::I8Cast => UsearchVectors::I8LibraryCast,
            UsearchVectorChoice::B1 => UsearchVectors::B1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct IndexSettings {
    /// Galleries up to this size are scanned exactly; larger ones by `engine`.
    pub exact_max_templates: usize,
    /// The engine of larger galleries: auto, exact, binary, usearch or hnsw_rs.
    pub engine: EngineChoice,
    /// With engine auto: galleries up to this size use the flat sign-bit scan, larger ones usearch.
    pub binary_max_templates: usize,
    /// Flat sign-bit scan: the nearest this many codes are re-scored exactly.
    pub binary_rerank: usize,
    /// usearch links per node (M), for graphs built from now on.
    pub usearch_m: usize,
    /// usearch candidate list while inserting.
    pub usearch_ef_construction: usize,
    /// usearch candidates per search.
    pub usearch_ef_search: usize,
    /// usearch: the best this many graph answers are re-scored exactly.
    pub usearch_rerank: usize,
    /// usearch vector type for graphs built from now on: i8, i8_cast or b1.
    pub usearch_vectors: UsearchVectorChoice,
    /// hnsw_rs links per node, for graphs built from now on (M; 32 for ~1M templates).
    pub hnsw_m: usize,
    /// hnsw_rs candidate list while inserting.
    pub hnsw_ef_construction: usize,
    /// hnsw_rs candidates per search, all re-ranked exactly (256 for ~1M templates).
    pub hnsw_ef_search: usize,
    /// Share of deleted entries past which an index is rebuilt in the background.
    pub rebuild_tombstone_fraction: f32,
}

impl Default for IndexSettings {
    fn default() -> Self {
        let engine = IndexConfig::default();
        let usearch = engine.usearch;
        Self {
            exact_max_templates: engine.exact_max_templates,
            engine: EngineChoice::Auto,
            binary_max_templates: engine.binary_max_templates,
            binary_rerank: engine.binary.rerank,
            usearch_m: usearch.connectivity,
            usearch_ef_construction: usearch.expansion_add,
            usearch_ef_search: usearch.expansion_search,
            usearch_rerank: usearch.rerank,
            usearch_vectors: UsearchVectorChoice::I8,
            hnsw_m: engine.hnsw.max_connections,
            hnsw_ef_construction: engine.hnsw.ef_construction,
            hnsw_ef_search: engine.hnsw.ef_search,
            rebuild_tombstone_fraction: engine.rebuild_tombstone_fraction,
        }
    }
}

impl IndexSettings {
    /// The index configuration: these settings over the index crate's defaults.
    pub fn engine_config(&self) -> IndexConfig {
        let defaults = IndexConfig::default();
        IndexConfig {
            exact_max_templates: self.exact_max_templates,
            engine: self.engine.into(),
            binary_max_templates: self.binary_max_templates,
            binary: BinaryParams {
                rerank: self.binary_rerank,
            },
            usearch: UsearchParams {
                connectivity: self.usearch_m,
                expansion_add: self.usearch_ef_construction,
                expansion_search: self.usearch_ef_search,
                rerank: self.usearch_rerank,
                vectors: self.usearch_vectors.into(),
                ..defaults.usearch
            },
            hnsw: HnswParams {
                max_connections: self.hnsw_m,
                ef_construction: self.hnsw_ef_construction,
                ef_search: self.hnsw_ef_search,
            },
            rebuild_tombstone_fraction: self.rebuild_tombstone_fraction,
            ..defaults
        }
    }
}
