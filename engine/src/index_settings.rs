//! How galleries are searched: the `[index]` settings over the index crate's defaults. M and ef_construction shape
//! graphs built from now on (a save keeps the graph it was built with until its next rebuild); ef_search applies to
//! every gallery at start-up.

use faceserve_index::{HnswParams, IndexConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct IndexSettings {
    /// Galleries up to this size are scanned exactly; larger ones are searched approximately (HNSW).
    pub exact_max_templates: usize,
    /// HNSW links per node, for graphs built from now on (M; 32 for ~1M templates).
    pub hnsw_m: usize,
    /// HNSW candidate list while inserting.
    pub hnsw_ef_construction: usize,
    /// HNSW candidates per search, all re-ranked exactly (256 for ~1M templates).
    pub hnsw_ef_search: usize,
    /// Share of deleted entries past which an index is rebuilt in the background.
    pub rebuild_tombstone_fraction: f32,
}

impl Default for IndexSettings {
    fn default() -> Self {
        let engine = IndexConfig::default();
        Self {
            exact_max_templates: engine.exact_max_templates,
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
        IndexConfig {
            exact_max_templates: self.exact_max_templates,
            hnsw: HnswParams {
                max_connections: self.hnsw_m,
                ef_construction: self.hnsw_ef_construction,
                ef_search: self.hnsw_ef_search,
            },
            rebuild_tombstone_fraction: self.rebuild_tombstone_fraction,
            ..Default::default()
        }
    }
}
