//! The index engines a gallery can use, in one place: which one serves a gallery of a given size, and how each is
//! made empty or restored from the files it saved. Adding an engine is a file implementing [`VectorIndex`] and an
//! arm in each function here.

use std::path::Path;

use crate::IndexConfig;
use crate::exact::ExactIndex;
use crate::hnsw::HnswIndex;
use crate::vector_index::{IndexFileError, IndexKind, VectorIndex};

/// The engine for a gallery of `templates`: an exact scan up to the configured size, the approximate engine above.
pub fn kind_for(config: &IndexConfig, templates: usize) -> IndexKind {
    if templates > config.exact_max_templates {
        IndexKind::Hnsw
    } else {
        IndexKind::Exact
    }
}

/// An empty index of `kind`, with room for `capacity` vectors.
pub fn new_index(
    kind: IndexKind,
    dimension: usize,
    config: &IndexConfig,
    capacity: usize,
) -> Box<dyn VectorIndex> {
    match kind {
        IndexKind::Exact => Box::new(ExactIndex::with_capacity(dimension, capacity)),
        IndexKind::Hnsw => Box::new(HnswIndex::new(dimension, config.hnsw, capacity)),
    }
}

/// The index of `kind` that [`VectorIndex::persist`] saved in `dir` under `basename`.
pub fn restore(
    kind: IndexKind,
    dir: &Path,
    basename: &str,
    dimension: usize,
    config: &IndexConfig,
) -> Result<Box<dyn VectorIndex>, IndexFileError> {
    match kind {
        IndexKind::Exact => Err(IndexFileError(
            "an exact index is never saved; it is read from the store".into(),
        )),
        IndexKind::Hnsw => Ok(Box::new(HnswIndex::restore(
            dir,
            basename,
            dimension,
            config.hnsw.ef_search,
        )?)),
    }
}
