//! The usearch engine: a usearch HNSW graph over i8 vectors quantised by faceserve (or sign bits), whose best
//! `rerank` answers are re-scored exactly against the f32 copies on disk, so similarities stay exact cosines.
//!
//! usearch's pitfalls, each handled here and tested in `tests/usearch_index.rs`:
//! - every add and search takes one of the thread slots reserved with `reserve_capacity_and_threads`; a
//!   [`slots::ThreadSlots`] semaphore of that many is held around every call, however many threads call;
//! - capacity is reserved before adds, again after `load` (which leaves none spare), and grown ahead with headroom;
//! - `reserve` and `save` must run alone: they take the exclusive side of a lock every other call shares;
//! - `view()` (memory-mapping a saved graph) is never used: it has open bugs with filtered search (#624) and with
//!   removals; a save is loaded into memory;
//! - `remove` leaves a tombstone whose slot a later add reuses: the graph's key is the row number, never reused,
//!   and the gallery engine rebuilds the index aside once its removed fraction passes the configured limit.
//!
//! The graph's key is the row number in [`RowKeys`] and [`VectorFile`], which map it back to the caller's key.

mod quantize;
mod saved;
mod slots;

use std::collections::HashSet;
use std::path::Path;

use parking_lot::RwLock;
use rayon::prelude::*;
use usearch::ffi::{IndexOptions, MetricKind, ScalarKind};
use usearch::{Index, b1x8};

use crate::binary::sign_code;
use crate::rerank::rerank;
use crate::row_keys::RowKeys;
use crate::simd::DotKernel;
use crate::vector_file::VectorFile;
use crate::vector_index::{IndexFileError, IndexKind, SavedFiles, Scored, VectorIndex};
use crate::{UsearchParams, UsearchVectors};
use quantize::I8Scale;
use slots::ThreadSlots;

/// The capacity of a new graph, before it grows.
const MIN_CAPACITY: usize = 1024;

pub struct UsearchIndex {
    graph: Index,
    dimension: usize,
    /// Connectivity and vectors as the graph was built; expansion_search and rerank as currently searched.
    params: UsearchParams,
    /// With faceserve's i8 quantisation: chosen from the first vectors added, then fixed.
    scale: Option<I8Scale>,
    rows: RowKeys,
    vectors: VectorFile,
    dot: DotKernel,
    slots: ThreadSlots,
    /// Shared by every call into the graph; taken exclusively by `reserve` and `save`, which must run alone.
    alone: RwLock<()>,
}

impl UsearchIndex {
    /// An empty graph whose f32 copies go into `dir`, with room reserved for `capacity` vectors.
    pub fn new(dimension: usize, params: UsearchParams, capacity: usize, dir: &Path) -> Self {
        assert!(dimension > 0, "an index needs a dimension of at least 1");
        let graph = Index::new(&options(dimension, &params))
            .unwrap_or_else(|e| panic!("creating a usearch index: {e}"));
        let mut index = UsearchIndex {
            graph,
            dimension,
            params,
            scale: None,
            rows: RowKeys::with_capacity(capacity),
            vectors: VectorFile::new(dir, dimension),
            dot: DotKernel::detect(),
            slots: ThreadSlots::new(thread_slots()),
            alone: RwLock::new(()),
        };
        index.reserve(capacity.max(MIN_CAPACITY));
        index
    }

    /// Restores an index saved by [`VectorIndex::persist`]; its f32 copies are linked into `dir`. Connectivity,
    /// vectors and the i8 scale come from the save, expansion_search and rerank from `params`.
    pub fn restore(
        dir: &Path,
        basename: &str,
        dimension: usize,
        params: UsearchParams,
    ) -> Result<Self, IndexFileError> {
        let saved = saved::read(dir, basename, dimension)?;
        let built = UsearchParams {
            connectivity: saved.connectivity,
            vectors: saved.vectors,
            ..params
        };
        let graph = Index::new(&options(dimension, &built))
            .map_err(|e| IndexFileError(format!("creating a usearch index: {e}")))?;
        graph
            .load(&saved.graph_path)
            .map_err(|e| IndexFileError(format!("loading {}: {e}", saved.graph_path)))?;
        if graph.size() != saved.rows.live() {
            return Err(IndexFileError(format!(
                "{} holds {} vectors, its row list {}",
                saved.graph_path,
                graph.size(),
                saved.rows.live()
            )));
        }
        graph.change_expansion_search(built.expansion_search);
        let held = saved.rows.held();
        let mut index = UsearchIndex {
            graph,
            dimension,
            params: built,
            scale: saved.scale,
            rows: saved.rows,
            vectors: saved.vectors_file,
            dot: DotKernel::detect(),
            slots: ThreadSlots::new(thread_slots()),
            alone: RwLock::new(()),
        };
        // A loaded graph has no spare capacity: the next add would fail without this.
        index.reserve((held + held / 2).max(MIN_CAPACITY));
        Ok(index)
    }

    pub fn params(&self) -> UsearchParams {
        self.params
    }

    pub fn set_expansion_search(&mut self, expansion: usize) {
        self.params.expansion_search = expansion.max(1);
        self.graph
            .change_expansion_search(self.params.expansion_search);
    }

    pub fn set_rerank(&mut self, rerank: usize) {
        self.params.rerank = rerank.max(1);
    }

    /// Graph slots reserved: adds beyond them grow the graph first.
    pub fn capacity(&self) -> usize {
        self.graph.capacity()
    }

    /// How many calls may be inside usearch at once.
    pub fn thread_slots(&self) -> usize {
        self.slots.total()
    }

    /// The SIMD kernels usearch picked on this CPU.
    pub fn hardware_acceleration(&self) -> String {
        self.graph.hardware_acceleration()
    }

    /// The `k` best answers after re-ranking the `rerank_count` (at least `k`) best graph answers exactly.
    pub fn search_with_rerank(&self, query: &[f32], k: usize, rerank_count: usize) -> Vec<Scored> {
        assert_eq!(query.len(), self.dimension, "query dimension");
        let k = k.min(self.rows.live());
        if k == 0 {
            return Vec::new();
        }
        let count = rerank_count.max(k);
        let found = {
            let _shared = self.alone.read();
            let _slot = self.slots.acquire();
            match self.params.vectors {
                UsearchVectors::I8 => {
                    let mut code = vec![0i8; self.dimension];
                    self.i8_scale().quantize(query, &mut code);
                    self.graph.search(&code, count)
                }
                UsearchVectors::I8LibraryCast => self.graph.search(query, count),
                UsearchVectors::B1 => self.graph.search(&bits(query), count),
            }
        }
        .unwrap_or_else(|e| panic!("usearch search: {e}"));
        let candidates = found
            .keys
            .into_iter()
            .map(|row| row as usize)
            .filter(|&row| row < self.rows.held() && !self.rows.is_removed(row));
        rerank(&self.vectors, &self.rows, self.dot, query, candidates, k)
    }

    fn i8_scale(&self) -> I8Scale {
        self.scale.unwrap_or(I8Scale(127.0))
    }

    /// Room for `capacity` graph slots and the semaphore's threads. usearch must not add or search meanwhile.
    fn reserve(&mut self, capacity: usize) {
        let _alone = self.alone.write();
        self.graph
            .reserve_capacity_and_threads(capacity, self.slots.total())
            .unwrap_or_else(|e| panic!("reserving {capacity} usearch slots: {e}"));
    }

    /// Adds one vector under graph key `row`, holding a thread slot. Rows only grow, so a key is never reused.
    fn add_row(&self, row: usize, vector: &[f32]) {
        let _shared = self.alone.read();
        let _slot = self.slots.acquire();
        let key = row as u64;
        match self.params.vectors {
            UsearchVectors::I8 => {
                let mut code = vec![0i8; self.dimension];
                self.i8_scale().quantize(vector, &mut code);
                self.graph.add(key, &code)
            }
            UsearchVectors::I8LibraryCast => self.graph.add(key, vector),
            UsearchVectors::B1 => self.graph.add(key, &bits(vector)),
        }
        .unwrap_or_else(|e| panic!("usearch add of row {row}: {e}"));
    }

    fn append(&mut self, items: &[(u64, &[f32])]) {
        let mut in_batch = HashSet::with_capacity(items.len());
        let fresh: Vec<(u64, &[f32])> = items
            .iter()
            .filter(|(key, _)| !self.rows.has_held(*key) && in_batch.insert(*key))
            .copied()
            .collect();
        if fresh.is_empty() {
            return;
        }
        let vectors: Vec<&[f32]> = fresh.iter().map(|(_, vector)| *vector).collect();
        if self.scale.is_none() && self.params.vectors == UsearchVectors::I8 {
            self.scale = Some(I8Scale::from_sample(&vectors, self.params.i8_quantile));
        }
        // Grow ahead, with headroom, before any add: usearch refuses adds past its capacity.
        let needed = self.rows.held() + fresh.len();
        if needed > self.graph.capacity() {
            self.reserve(needed + needed / 2);
        }
        // The copy first: if the disk refuses it, nothing else has changed and row numbers stay in step.
        let first = self
            .vectors
            .append(&vectors)
            .unwrap_or_else(|e| panic!("writing f32 copies for the usearch index: {e}"));
        assert_eq!(first, self.rows.held(), "vector rows and keys out of step");
        let rows: Vec<(usize, &[f32])> = fresh
            .iter()
            .map(|(key, vector)| (self.rows.push(*key).expect("a new key"), *vector))
            .collect();
        let this = &*self;
        if rows.len() == 1 {
            this.add_row(rows[0].0, rows[0].1);
        } else {
            rows.par_iter()
                .for_each(|(row, vector)| this.add_row(*row, vector));
        }
    }
}

impl VectorIndex for UsearchIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Usearch
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
        let Some(row) = self.rows.remove(key) else {
            return false;
        };
        let _shared = self.alone.read();
        self.graph
            .remove(row as u64)
            .unwrap_or_else(|e| panic!("usearch remove of row {row}: {e}"));
        true
    }

    fn search(&self, query: &[f32], k: usize) -> Vec<Scored> {
        self.search_with_rerank(query, k, self.params.rerank)
    }

    fn keys(&self) -> Vec<u64> {
        self.rows.live_keys()
    }

    fn held(&self) -> usize {
        self.rows.held()
    }

    /// Adds in parallel on the current rayon pool, each add holding a thread slot.
    fn insert_batch(&mut self, items: &[(u64, &[f32])]) {
        self.append(items);
    }

    fn persists(&self) -> bool {
        true
    }

    fn persist(&self, dir: &Path, basename: &str) -> Result<SavedFiles, IndexFileError> {
        let state = saved::State {
            graph: &self.graph,
            alone: &self.alone,
            dimension: self.dimension,
            params: &self.params,
            scale: self.scale,
            rows: &self.rows,
            vectors: &self.vectors,
        };
        saved::write(dir, basename, &state)
    }
}

fn options(dimension: usize, params: &UsearchParams) -> IndexOptions {
    let (metric, quantization) = match params.vectors {
        UsearchVectors::I8 | UsearchVectors::I8LibraryCast => (MetricKind::Cos, ScalarKind::I8),
        UsearchVectors::B1 => (MetricKind::Hamming, ScalarKind::B1),
    };
    IndexOptions {
        dimensions: dimension,
        metric,
        quantization,
        connectivity: params.connectivity,
        expansion_add: params.expansion_add,
        expansion_search: params.expansion_search,
        multi: false,
    }
}

/// One slot per core: more calls at once than cores would only wait for the CPU.
fn thread_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The sign bits of `vector`, as usearch's packed bytes.
fn bits(vector: &[f32]) -> Vec<b1x8> {
    let mut words = vec![0u64; vector.len().div_ceil(64)];
    sign_code(vector, &mut words);
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes[..vector.len().div_ceil(8)]
        .iter()
        .map(|&b| b1x8(b))
        .collect()
}
