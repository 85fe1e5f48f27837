//! The flat binary engine: one sign bit per dimension (64 bytes a template at 512-d) in one array, scanned by
//! Hamming distance, the `rerank` nearest codes re-scored exactly against the f32 copies on disk. Removed rows
//! keep their place with a tombstone bit until the gallery engine rebuilds the index past its tombstone fraction.
//!
//! Face embeddings suit it: a genuine pair sits near cosine 0.6 and the best impostor among a million near 0.3,
//! so the sign bits alone separate them by several standard deviations, and a short exact re-rank settles the
//! order (docs/PERFORMANCE.md).

mod hamming;
mod saved;
mod scan;

use std::path::Path;

pub use hamming::HammingKernel;
pub(crate) use hamming::sign_code;
use hamming::words_for;

use crate::BinaryParams;
use crate::rerank::rerank;
use crate::row_keys::RowKeys;
use crate::simd::DotKernel;
use crate::vector_file::VectorFile;
use crate::vector_index::{IndexFileError, IndexKind, SavedFiles, Scored, VectorIndex};

pub struct BinaryIndex {
    dimension: usize,
    words: usize,
    hamming: HammingKernel,
    dot: DotKernel,
    rerank: usize,
    /// `words` per row, row after row.
    codes: Vec<u64>,
    rows: RowKeys,
    vectors: VectorFile,
}

impl BinaryIndex {
    /// An empty index whose f32 copies go into `dir`; `capacity` is a hint for its first allocations.
    pub fn new(dimension: usize, params: BinaryParams, capacity: usize, dir: &Path) -> Self {
        assert!(dimension > 0, "an index needs a dimension of at least 1");
        let words = words_for(dimension);
        BinaryIndex {
            dimension,
            words,
            hamming: HammingKernel::detect(words),
            dot: DotKernel::detect(),
            rerank: params.rerank.max(1),
            codes: Vec::with_capacity(capacity * words),
            rows: RowKeys::with_capacity(capacity),
            vectors: VectorFile::new(dir, dimension),
        }
    }

    /// Restores an index saved by [`VectorIndex::persist`]; its f32 copies are linked into `dir`.
    pub fn restore(
        dir: &Path,
        basename: &str,
        dimension: usize,
        params: BinaryParams,
    ) -> Result<Self, IndexFileError> {
        let (codes, rows, vectors) = saved::read(dir, basename, dimension)?;
        let mut index = BinaryIndex::new(dimension, params, 0, dir);
        (index.codes, index.rows, index.vectors) = (codes, rows, vectors);
        Ok(index)
    }

    /// The popcount kernel the scan uses on this CPU.
    pub fn hamming_kernel(&self) -> HammingKernel {
        self.hamming
    }

    pub fn rerank(&self) -> usize {
        self.rerank
    }

    pub fn set_rerank(&mut self, rerank: usize) {
        self.rerank = rerank.max(1);
    }

    /// The `k` best answers after re-ranking the `rerank` (at least `k`) nearest codes exactly.
    pub fn search_with_rerank(&self, query: &[f32], k: usize, rerank_count: usize) -> Vec<Scored> {
        assert_eq!(query.len(), self.dimension, "query dimension");
        let k = k.min(self.rows.live());
        if k == 0 {
            return Vec::new();
        }
        let mut code = vec![0u64; self.words];
        sign_code(query, &mut code);
        let candidates = scan::nearest_rows(
            self.hamming,
            &code,
            &self.codes,
            &self.rows,
            rerank_count.max(k),
        );
        rerank(&self.vectors, &self.rows, self.dot, query, candidates, k)
    }

    fn append(&mut self, keys_and_vectors: &[(u64, &[f32])]) {
        let mut in_batch = std::collections::HashSet::with_capacity(keys_and_vectors.len());
        let fresh: Vec<&(u64, &[f32])> = keys_and_vectors
            .iter()
            .filter(|(key, _)| !self.rows.has_held(*key) && in_batch.insert(*key))
            .collect();
        if fresh.is_empty() {
            return;
        }
        let vectors: Vec<&[f32]> = fresh.iter().map(|(_, vector)| *vector).collect();
        // The copy first: if the disk refuses it, nothing else has changed and row numbers stay in step.
        let first = self
            .vectors
            .append(&vectors)
            .unwrap_or_else(|e| panic!("writing f32 copies for the binary index: {e}"));
        assert_eq!(first, self.rows.held(), "vector rows and keys out of step");
        for (key, vector) in fresh {
            let row = self
                .rows
                .push(*key)
                .expect("a key new to the index and the batch");
            let start = self.codes.len();
            self.codes.resize(start + self.words, 0);
            sign_code(vector, &mut self.codes[start..]);
            debug_assert_eq!(start / self.words, row);
        }
    }
}

impl VectorIndex for BinaryIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Binary
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn len(&self) -> usize {
        self.rows.live()
    }

    fn tombstones(&self) -> usize {
        self.rows.removed()
    }

    fn contains(&self, key: u64) -> bool {
        self.rows.contains(key)
    }

    fn insert(&mut self, key: u64, vector: &[f32]) -> bool {
        if self.rows.has_held(key) {
            return false;
        }
        self.append(&[(key, vector)]);
        true
    }

    fn remove(&mut self, key: u64) -> bool {
        self.rows.remove(key).is_some()
    }

    fn search(&self, query: &[f32], k: usize) -> Vec<Scored> {
        self.search_with_rerank(query, k, self.rerank)
    }

    fn keys(&self) -> Vec<u64> {
        self.rows.live_keys()
    }

    fn held(&self) -> usize {
        self.rows.held()
    }

    /// Codes are cheap to make; one write of the batch's f32 copies is what counts.
    fn insert_batch(&mut self, items: &[(u64, &[f32])]) {
        self.append(items);
    }

    fn persists(&self) -> bool {
        true
    }

    fn persist(&self, dir: &Path, basename: &str) -> Result<SavedFiles, IndexFileError> {
        saved::write(
            dir,
            basename,
            self.dimension,
            &self.codes,
            &self.rows,
            &self.vectors,
        )
    }
}
