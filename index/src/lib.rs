//! faceserve-index: galleries of face templates and 1:N search over them. It owns the durable template store
//! (SQLite), one in-memory index per gallery (an exact SIMD scan for small galleries, HNSW with exact re-ranking
//! for large ones), tombstones, rebuilds and index persistence. It knows embeddings, not images.

mod config;
pub mod embedding;
mod engine;
mod error;
pub mod exact;
pub mod hnsw;
mod page_token;
pub mod simd;
mod store;
mod types;
pub mod vector_index;

pub use config::{EngineConfig, HnswParams, IndexConfig};
pub use engine::{
    GalleryEngine, GalleryStartup, INDEXES_DIR, IndexCheck, IndexOrigin, STORE_FILE, StartupReport,
};
pub use error::GalleryError;
pub use types::{FaceGeometry, GalleryStats, Hit, NewTemplate, TemplateRecord};
pub use vector_index::{IndexKind, Scored, VectorIndex};
