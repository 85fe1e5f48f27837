//! The index engines a gallery can use, in one place: which one serves a gallery of a given size (with the
//! hysteresis that keeps a gallery near a limit from flipping back and forth), and how each is made empty or
//! restored from the files it saved. Adding an engine is a file implementing [`VectorIndex`] and an arm in each
//! function here.

use std::path::Path;

use crate::binary::BinaryIndex;
use crate::exact::ExactIndex;
use crate::hnsw::HnswIndex;
use crate::usearch_index::UsearchIndex;
use crate::vector_index::{IndexFileError, IndexKind, VectorIndex};
use crate::{IndexConfig, IndexEngine};

/// The engines a gallery passes through as it grows, each with the largest gallery it serves.
fn ladder(config: &IndexConfig) -> Vec<(IndexKind, usize)> {
    let exact = (IndexKind::Exact, config.exact_max_templates);
    let above = |kind| vec![exact, (kind, usize::MAX)];
    match config.engine {
        IndexEngine::Exact => vec![(IndexKind::Exact, usize::MAX)],
        IndexEngine::Binary => above(IndexKind::Binary),
        IndexEngine::Usearch => above(IndexKind::Usearch),
        IndexEngine::HnswRs => above(IndexKind::Hnsw),
        IndexEngine::Auto => vec![
            exact,
            (IndexKind::Binary, config.binary_max_templates),
            (IndexKind::Usearch, usize::MAX),
        ],
    }
}

/// The engine for a gallery of `templates`, built afresh.
pub fn kind_for(config: &IndexConfig, templates: usize) -> IndexKind {
    ladder(config)
        .into_iter()
        .find(|&(_, largest)| templates <= largest)
        .map_or(IndexKind::Exact, |(kind, _)| kind)
}

/// The engine a gallery of `templates` searched by `current` should use: `current` while the gallery is within
/// its range, which reaches down to half the previous engine's limit (a gallery grows past a limit, but shrinks
/// back only well below it); otherwise [`kind_for`].
pub fn kind_to_keep(config: &IndexConfig, templates: usize, current: IndexKind) -> IndexKind {
    let ladder = ladder(config);
    if let Some(at) = ladder.iter().position(|&(kind, _)| kind == current) {
        let smallest_above = if at == 0 { 0 } else { ladder[at - 1].1 / 2 };
        if templates <= ladder[at].1 && (at == 0 || templates > smallest_above) {
            return current;
        }
    }
    kind_for(config, templates)
}

/// An empty index of `kind`, with room for `capacity` vectors; an engine that keeps files while it runs (the f32
/// copies it re-ranks with) keeps them in `dir`.
pub fn new_index(
    kind: IndexKind,
    dimension: usize,
    config: &IndexConfig,
    capacity: usize,
    dir: &Path,
) -> Box<dyn VectorIndex> {
    match kind {
        IndexKind::Exact => Box::new(ExactIndex::with_capacity(dimension, capacity)),
        IndexKind::Hnsw => Box::new(HnswIndex::new(dimension, config.hnsw, capacity)),
        IndexKind::Binary => Box::new(BinaryIndex::new(dimension, config.binary, capacity, dir)),
        IndexKind::Usearch => Box::new(UsearchIndex::new(dimension, config.usearch, capacity, dir)),
    }
}

/// The index of `kind` that [`VectorIndex::persist`] saved in `dir` under `basename`. Search settings (ef,
/// rerank) come from `config`; what shapes the stored structure (graph links, quantisation) from the save.
pub fn restore(
    kind: IndexKind,
    dir: &Path,
    basename: &str,
    dimension: usize,
    config: &IndexConfig,
) -> Result<Box<dyn VectorIndex>, IndexFileError> {
    Ok(match kind {
        IndexKind::Exact => {
            return Err(IndexFileError(
                "an exact index is never saved; it is read from the store".into(),
            ));
        }
        IndexKind::Hnsw => Box::new(HnswIndex::restore(
            dir,
            basename,
            dimension,
            config.hnsw.ef_search,
        )?),
        IndexKind::Binary => Box::new(BinaryIndex::restore(
            dir,
            basename,
            dimension,
            config.binary,
        )?),
        IndexKind::Usearch => Box::new(UsearchIndex::restore(
            dir,
            basename,
            dimension,
            config.usearch,
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galleries_climb_the_ladder_and_come_down_at_half_the_limit() {
        let config = IndexConfig {
            exact_max_templates: 100,
            binary_max_templates: 1000,
            ..IndexConfig::default()
        };
        assert_eq!(kind_for(&config, 100), IndexKind::Exact);
        assert_eq!(kind_for(&config, 101), IndexKind::Binary);
        assert_eq!(kind_for(&config, 1001), IndexKind::Usearch);
        let keep = |templates, current| kind_to_keep(&config, templates, current);
        assert_eq!(keep(101, IndexKind::Exact), IndexKind::Binary);
        assert_eq!(keep(60, IndexKind::Binary), IndexKind::Binary);
        assert_eq!(keep(50, IndexKind::Binary), IndexKind::Exact);
        assert_eq!(keep(600, IndexKind::Usearch), IndexKind::Usearch);
        assert_eq!(keep(500, IndexKind::Usearch), IndexKind::Binary);
        assert_eq!(keep(20, IndexKind::Usearch), IndexKind::Exact);
        assert_eq!(
            keep(5000, IndexKind::Hnsw),
            IndexKind::Usearch,
            "not an engine of these settings"
        );

        let fixed = IndexConfig {
            engine: IndexEngine::HnswRs,
            ..config.clone()
        };
        assert_eq!(kind_for(&fixed, 10_000_000), IndexKind::Hnsw);
        assert_eq!(kind_to_keep(&fixed, 60, IndexKind::Hnsw), IndexKind::Hnsw);
        assert_eq!(
            kind_to_keep(&fixed, 5000, IndexKind::Binary),
            IndexKind::Hnsw
        );
        let exact = IndexConfig {
            engine: IndexEngine::Exact,
            ..config
        };
        assert_eq!(kind_for(&exact, 10_000_000), IndexKind::Exact);
        assert_eq!(
            kind_to_keep(&exact, 10_000_000, IndexKind::Binary),
            IndexKind::Exact
        );
    }
}
