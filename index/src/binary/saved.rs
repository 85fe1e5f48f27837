//! A binary index on disk: `<basename>.codes` (the sign bits, little-endian words), `<basename>.rows` (keys and
//! tombstone bits), the f32 copies as `<basename>.f32.<n>`, and `<basename>.binary.json`, which names the rest
//! and is checked against them on restore. Every file is new and synced; the gallery manifest written after them
//! is what makes a save current.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::hamming::words_for;
use crate::index_files::{self, bytes_to_u64s, sync_dir, u64s_to_bytes, write_new};
use crate::row_keys::RowKeys;
use crate::vector_file::VectorFile;
use crate::vector_index::{IndexFileError, SavedFiles};

const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct BinaryMeta {
    format: u32,
    dimension: usize,
    rows: usize,
    /// File name and row count of each f32 segment, in row order.
    vectors: Vec<(String, usize)>,
}

pub(super) fn write(
    dir: &Path,
    basename: &str,
    dimension: usize,
    codes: &[u64],
    rows: &RowKeys,
    vectors: &VectorFile,
) -> Result<SavedFiles, IndexFileError> {
    let codes_file = format!("{basename}.codes");
    let rows_file = format!("{basename}.rows");
    let meta_file = format!("{basename}.binary.json");
    write_new(&dir.join(&codes_file), &u64s_to_bytes(codes))?;
    write_new(&dir.join(&rows_file), &rows.encode())?;
    let segments = vectors
        .save(dir, &format!("{basename}.f32"))
        .map_err(|e| IndexFileError(format!("saving the f32 copies in {}: {e}", dir.display())))?;
    let meta = BinaryMeta {
        format: FORMAT,
        dimension,
        rows: rows.held(),
        vectors: segments.clone(),
    };
    let json = serde_json::to_vec(&meta).expect("the metadata always serialises");
    write_new(&dir.join(&meta_file), &json)?;
    sync_dir(dir)?;
    let mut files = vec![codes_file, rows_file, meta_file];
    files.extend(segments.into_iter().map(|(name, _)| name));
    Ok(SavedFiles {
        basename: basename.to_string(),
        files,
    })
}

pub(super) fn read(
    dir: &Path,
    basename: &str,
    dimension: usize,
) -> Result<(Vec<u64>, RowKeys, VectorFile), IndexFileError> {
    let meta_path = dir.join(format!("{basename}.binary.json"));
    let meta: BinaryMeta =
        serde_json::from_slice(&index_files::read(&meta_path)?).map_err(|e| {
            IndexFileError(format!(
                "{} is not binary index metadata: {e}",
                meta_path.display()
            ))
        })?;
    if meta.format != FORMAT || meta.dimension != dimension {
        return Err(IndexFileError(format!(
            "{} is format {} of {}-dimensional vectors; expected format {FORMAT}, {dimension}",
            meta_path.display(),
            meta.format,
            meta.dimension
        )));
    }
    let codes_path = dir.join(format!("{basename}.codes"));
    let codes = bytes_to_u64s(&index_files::read(&codes_path)?, &codes_path)?;
    let rows = RowKeys::decode(&index_files::read(&dir.join(format!("{basename}.rows")))?)?;
    let segment_rows: usize = meta.vectors.iter().map(|(_, n)| n).sum();
    if codes.len() != meta.rows * words_for(dimension)
        || rows.held() != meta.rows
        || segment_rows != meta.rows
    {
        return Err(IndexFileError(format!(
            "the saved binary index {basename} is incomplete: {} code words, {} keys and {segment_rows} vectors \
             for {} rows",
            codes.len(),
            rows.held(),
            meta.rows
        )));
    }
    let segments: Vec<_> = meta
        .vectors
        .iter()
        .map(|(name, n)| (dir.join(name), *n))
        .collect();
    let vectors = VectorFile::open_saved(dir, dimension, &segments)
        .map_err(|e| IndexFileError(format!("opening the f32 copies of {basename}: {e}")))?;
    Ok((codes, rows, vectors))
}
