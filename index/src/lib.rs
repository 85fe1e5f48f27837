//! faceserve-index: galleries of face templates and 1:N search over them. It owns the template store seam
//! ([`TemplateStore`], SQLite by default), one in-memory index per gallery (an exact SIMD scan for small galleries,
//! an approximate engine with exact re-ranking for large ones, each a [`VectorIndex`] that saves and restores
//! itself), tombstones, rebuilds and the upkeep that keeps indexes in step with the store. It knows embeddings,
//! not images.

pub mod binary;
mod config;
pub mod embedding;
mod engine;
pub mod engines;
mod error;
pub mod exact;
pub mod hnsw;
mod index_files;
mod page_token;
mod rerank;
mod row_keys;
pub mod simd;
pub mod store;
mod types;
pub mod usearch_index;
pub mod vector_file;
pub mod vector_index;

pub use config::{
    BinaryParams, EngineConfig, HnswParams, IndexConfig, IndexEngine, UsearchParams, UsearchVectors,
};
pub use engine::{
    FeedStatus, GalleryEngine, GalleryHandle, GalleryStartup, INDEXES_DIR, IndexCheck, IndexOrigin,
    STORE_FILE, StartupReport, open_sqlite,
};
pub use error::GalleryError;
pub use store::{AppStore, TemplateStore};
pub use types::{FaceGeometry, GalleryStats, Hit, NewTemplate, TemplateRecord};
pub use vector_index::{IndexFileError, IndexKind, SavedFiles, Scored, VectorIndex};
