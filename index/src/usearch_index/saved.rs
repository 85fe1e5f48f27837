//! A usearch index on disk: `<basename>.usearch` (usearch's own save of the graph and its quantised vectors),
//! `<basename>.rows` (keys and tombstone bits), the f32 copies as `<basename>.f32.<n>`, and
//! `<basename>.usearch.json`, which names the rest, records what shaped the graph (connectivity, vectors, i8
//! scale) and is checked against them on restore. Every file is new and synced; the gallery manifest written
//! after them is what makes a save current.

use std::path::{Path, PathBuf};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use usearch::Index;

use super::quantize::I8Scale;
use crate::index_files::{self, sync, sync_dir, write_new};
use crate::row_keys::RowKeys;
use crate::vector_file::VectorFile;
use crate::vector_index::{IndexFileError, SavedFiles};
use crate::{UsearchParams, UsearchVectors};

const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct UsearchMeta {
    format: u32,
    dimension: usize,
    rows: usize,
    connectivity: usize,
    /// `UsearchVectors::as_str`.
    vectors: String,
    i8_scale: Option<f32>,
    /// File name and row count of each f32 segment, in row order.
    f32_segments: Vec<(String, usize)>,
}

/// What a save reads of the index.
pub(super) struct State<'a> {
    pub graph: &'a Index,
    /// Taken exclusively around usearch's save.
    pub alone: &'a RwLock<()>,
    pub dimension: usize,
    pub params: &'a UsearchParams,
    pub scale: Option<I8Scale>,
    pub rows: &'a RowKeys,
    pub vectors: &'a VectorFile,
}

/// What a restore needs from a save.
pub(super) struct Saved {
    pub graph_path: String,
    pub connectivity: usize,
    pub vectors: UsearchVectors,
    pub scale: Option<I8Scale>,
    pub rows: RowKeys,
    pub vectors_file: VectorFile,
}

pub(super) fn write(
    dir: &Path,
    basename: &str,
    state: &State<'_>,
) -> Result<SavedFiles, IndexFileError> {
    let graph_file = format!("{basename}.usearch");
    let rows_file = format!("{basename}.rows");
    let meta_file = format!("{basename}.usearch.json");
    let graph_path = utf8(&dir.join(&graph_file))?;
    {
        // usearch's save must not run beside an add or a search of the same graph.
        let _alone = state.alone.write();
        state
            .graph
            .save(&graph_path)
            .map_err(|e| IndexFileError(format!("saving {graph_path}: {e}")))?;
    }
    sync(Path::new(&graph_path))?;
    write_new(&dir.join(&rows_file), &state.rows.encode())?;
    let segments = state
        .vectors
        .save(dir, &format!("{basename}.f32"))
        .map_err(|e| IndexFileError(format!("saving the f32 copies in {}: {e}", dir.display())))?;
    let meta = UsearchMeta {
        format: FORMAT,
        dimension: state.dimension,
        rows: state.rows.held(),
        connectivity: state.params.connectivity,
        vectors: state.params.vectors.as_str().to_string(),
        i8_scale: state.scale.map(|s| s.0),
        f32_segments: segments.clone(),
    };
    let json = serde_json::to_vec(&meta).expect("the metadata always serialises");
    write_new(&dir.join(&meta_file), &json)?;
    sync_dir(dir)?;
    let mut files = vec![graph_file, rows_file, meta_file];
    files.extend(segments.into_iter().map(|(name, _)| name));
    Ok(SavedFiles {
        basename: basename.to_string(),
        files,
    })
}

pub(super) fn read(dir: &Path, basename: &str, dimension: usize) -> Result<Saved, IndexFileError> {
    let meta_path = dir.join(format!("{basename}.usearch.json"));
    let meta: UsearchMeta =
        serde_json::from_slice(&index_files::read(&meta_path)?).map_err(|e| {
            IndexFileError(format!(
                "{} is not usearch index metadata: {e}",
                meta_path.display()
            ))
        })?;
    let vectors = UsearchVectors::parse(&meta.vectors);
    if meta.format != FORMAT || meta.dimension != dimension || vectors.is_none() {
        return Err(IndexFileError(format!(
            "{} is format {} of {}-dimensional {} vectors; expected format {FORMAT}, {dimension}",
            meta_path.display(),
            meta.format,
            meta.dimension,
            meta.vectors
        )));
    }
    let rows = RowKeys::decode(&index_files::read(&dir.join(format!("{basename}.rows")))?)?;
    let segment_rows: usize = meta.f32_segments.iter().map(|(_, n)| n).sum();
    if rows.held() != meta.rows || segment_rows != meta.rows {
        return Err(IndexFileError(format!(
            "the saved usearch index {basename} is incomplete: {} keys and {segment_rows} vectors for {} rows",
            rows.held(),
            meta.rows
        )));
    }
    let segments: Vec<(PathBuf, usize)> = meta
        .f32_segments
        .iter()
        .map(|(name, n)| (dir.join(name), *n))
        .collect();
    let vectors_file = VectorFile::open_saved(dir, dimension, &segments)
        .map_err(|e| IndexFileError(format!("opening the f32 copies of {basename}: {e}")))?;
    Ok(Saved {
        graph_path: utf8(&dir.join(format!("{basename}.usearch")))?,
        connectivity: meta.connectivity,
        vectors: vectors.expect("checked above"),
        scale: meta.i8_scale.map(I8Scale),
        rows,
        vectors_file,
    })
}

/// usearch takes paths as UTF-8 strings.
fn utf8(path: &Path) -> Result<String, IndexFileError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| IndexFileError(format!("{} is not a UTF-8 path", path.display())))
}
