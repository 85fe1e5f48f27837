//! Exact re-ranking shared by the engines that search a compressed form of the vectors: the candidates they
//! find are scored against the f32 copies, so every similarity an engine returns is the exact cosine.

use crate::row_keys::RowKeys;
use crate::simd::DotKernel;
use crate::vector_file::VectorFile;
use crate::vector_index::{Scored, TopK};

/// The `k` best of `candidate_rows` (live rows) by exact dot product with `query`, best first.
pub(crate) fn rerank(
    vectors: &VectorFile,
    rows: &RowKeys,
    kernel: DotKernel,
    query: &[f32],
    candidate_rows: impl IntoIterator<Item = usize>,
    k: usize,
) -> Vec<Scored> {
    let mut top = TopK::new(k);
    let mut bytes = Vec::with_capacity(query.len() * 4);
    let mut vector = vec![0f32; query.len()];
    for row in candidate_rows {
        // The rows are the index's own files; failing to read them is a broken disk, not a search result.
        vectors
            .read_row(row, &mut bytes, &mut vector)
            .unwrap_or_else(|e| panic!("reading the f32 copy of row {row}: {e}"));
        top.push(Scored {
            key: rows.key(row),
            similarity: kernel.dot(query, &vector),
        });
    }
    top.into_sorted()
}
