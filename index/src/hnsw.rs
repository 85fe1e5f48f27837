//! Approximate search for large galleries: an `hnsw_rs` graph (`DistDot` on unit vectors), tombstones for
//! deleted keys, and exact re-ranking of the graph's candidates.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use hnsw_rs::prelude::{AnnT, DistDot, Hnsw, HnswIo};

use crate::HnswParams;
use crate::simd::DotKernel;
use crate::vector_index::{IndexFileError, IndexKind, SavedFiles, Scored, TopK, VectorIndex};

/// Vectors are stored scaled by this. `DistDot` asserts that a dot product never exceeds 1, which float
/// rounding over hundreds of terms can break for two unit vectors (by up to ~3e-5 with the scalar kernel);
/// 1e-4 of headroom keeps every kernel below it. Re-ranking divides the scale back out.
const STORED_SCALE: f32 = 1.0 - 1e-4;

/// hnsw_rs's maximum number of layers.
const MAX_LAYERS: usize = 16;
/// Suffixes of the files hnsw_rs writes for a basename, and of the tombstone list saved beside them.
const GRAPH_SUFFIXES: [&str; 2] = [".hnsw.graph", ".hnsw.data"];
const TOMBSTONES_SUFFIX: &str = ".tombstones";

pub struct HnswIndex {
    graph: Hnsw<'static, f32, DistDot>,
    dimension: usize,
    ef_search: usize,
    kernel: DotKernel,
    /// Every key in the graph, deleted or not: hnsw_rs cannot remove a point.
    held: HashSet<u64>,
    /// Keys in the graph that searches skip.
    tombstones: HashSet<u64>,
}

impl HnswIndex {
    /// An empty graph; `capacity` is a hint for its first allocations.
    pub fn new(dimension: usize, params: HnswParams, capacity: usize) -> Self {
        assert!(dimension > 0, "an index needs a dimension of at least 1");
        let graph = Hnsw::new(
            params.max_connections,
            capacity.max(1),
            MAX_LAYERS,
            params.ef_construction,
            DistDot,
        );
        HnswIndex {
            graph,
            dimension,
            ef_search: params.ef_search,
            kernel: DotKernel::detect(),
            held: HashSet::with_capacity(capacity),
            tombstones: HashSet::new(),
        }
    }

    pub fn ef_search(&self) -> usize {
        self.ef_search
    }

    pub fn set_ef_search(&mut self, ef_search: usize) {
        self.ef_search = ef_search.max(1);
    }

    /// (M, ef_construction) the graph was built with; a reloaded graph keeps those of its build.
    pub fn build_params(&self) -> (usize, usize) {
        (
            self.graph.get_max_nb_connection() as usize,
            self.graph.get_ef_construction(),
        )
    }

    pub fn tombstone_keys(&self) -> Vec<u64> {
        self.tombstones.iter().copied().collect()
    }

    /// The `k` best answers with a candidate list of `ef` (at least `k`), re-ranked exactly.
    pub fn search_with_ef(&self, query: &[f32], k: usize, ef: usize) -> Vec<Scored> {
        assert_eq!(query.len(), self.dimension, "query dimension");
        let k = k.min(self.len());
        if k == 0 {
            return Vec::new();
        }
        let points = self.graph.get_point_indexation();
        let mut ef = ef.max(k);
        loop {
            let candidates = self.graph.search(query, ef, ef);
            let mut top = TopK::new(k);
            let mut live = 0;
            for candidate in &candidates {
                let key = candidate.d_id as u64;
                if self.tombstones.contains(&key) {
                    continue;
                }
                live += 1;
                let similarity = match points.get_point_data(&candidate.p_id) {
                    Some(stored) => self.kernel.dot(query, &stored) / STORED_SCALE,
                    None => (1.0 - candidate.distance) / STORED_SCALE,
                };
                top.push(Scored { key, similarity });
            }
            // Tombstones can crowd live answers out of the candidate list: widen it and search again.
            if live >= k || ef >= self.held.len() {
                return top.into_sorted();
            }
            ef = (ef * 2).min(self.held.len());
        }
    }

    /// Writes `<basename>.hnsw.graph` and `<basename>.hnsw.data` into `dir` and returns the basename used:
    /// hnsw_rs picks another one rather than overwrite files a mapped reload may still use.
    fn write_graph(&self, dir: &Path, basename: &str) -> Result<String, IndexFileError> {
        if self.held.is_empty() {
            return Err(IndexFileError("an empty graph has nothing to dump".into()));
        }
        // hnsw_rs panics instead of failing when it cannot create its files.
        match catch_unwind(AssertUnwindSafe(|| self.graph.file_dump(dir, basename))) {
            Ok(Ok(chosen)) => Ok(chosen),
            Ok(Err(error)) => Err(IndexFileError(format!(
                "dumping to {}: {error}",
                dir.display()
            ))),
            Err(_) => Err(IndexFileError(format!(
                "dumping to {}: hnsw_rs panicked",
                dir.display()
            ))),
        }
    }

    /// Restores an index saved by [`VectorIndex::persist`].
    pub fn restore(
        dir: &Path,
        basename: &str,
        dimension: usize,
        ef_search: usize,
    ) -> Result<Self, IndexFileError> {
        let tombstones = read_keys(&dir.join(format!("{basename}{TOMBSTONES_SUFFIX}")))?;
        // hnsw_rs asserts (panics) on some malformed files.
        let mut graph = match catch_unwind(|| reload(dir, basename)) {
            Ok(Ok(graph)) => graph,
            Ok(Err(error)) => return Err(IndexFileError(format!("reloading {basename}: {error}"))),
            Err(_) => {
                return Err(IndexFileError(format!(
                    "reloading {basename}: malformed dump"
                )));
            }
        };
        // Reloads switch extended candidate selection on; keep inserts behaving as in a built graph.
        graph.set_extend_candidates(false);
        let mut held = HashSet::with_capacity(graph.get_nb_point());
        if graph.get_nb_point() > 0 {
            let points = graph.get_point_indexation();
            if points.get_data_dimension() != dimension {
                return Err(IndexFileError(format!(
                    "dump {basename} holds {}-dimensional vectors, expected {dimension}",
                    points.get_data_dimension()
                )));
            }
            held.extend(points.into_iter().map(|point| point.get_origin_id() as u64));
        }
        let tombstones = tombstones
            .into_iter()
            .filter(|key| held.contains(key))
            .collect();
        Ok(HnswIndex {
            graph,
            dimension,
            ef_search: ef_search.max(1),
            kernel: DotKernel::detect(),
            held,
            tombstones,
        })
    }

    fn stored_form(&self, vector: &[f32]) -> Vec<f32> {
        assert_eq!(vector.len(), self.dimension, "vector dimension");
        vector.iter().map(|x| x * STORED_SCALE).collect()
    }
}

/// Writes `keys` as little-endian u64 values and syncs the file.
fn write_keys(path: &Path, keys: &[u64]) -> Result<(), IndexFileError> {
    use std::io::Write;
    let bytes: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
    std::fs::File::create(path)
        .and_then(|mut file| {
            file.write_all(&bytes)?;
            file.sync_all()
        })
        .map_err(|e| IndexFileError(format!("writing {}: {e}", path.display())))
}

fn read_keys(path: &Path) -> Result<Vec<u64>, IndexFileError> {
    let bytes = std::fs::read(path)
        .map_err(|e| IndexFileError(format!("reading {}: {e}", path.display())))?;
    if !bytes.len().is_multiple_of(8) {
        return Err(IndexFileError(format!(
            "{} is not a list of u64 keys",
            path.display()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect())
}

fn sync(path: &Path) -> Result<(), IndexFileError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| IndexFileError(format!("syncing {}: {e}", path.display())))
}

fn reload(dir: &Path, basename: &str) -> Result<Hnsw<'static, f32, DistDot>, String> {
    // A reloaded graph borrows its reloader, which may hold a memory map of the data file. We never map it, so
    // leaking the reloader (a few hundred bytes, once per gallery per start) gives a graph that owns all it
    // uses, without unsafe code.
    let reloader: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
    reloader
        .load_hnsw::<f32, DistDot>()
        .map_err(|e| e.to_string())
}

impl VectorIndex for HnswIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Hnsw
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn len(&self) -> usize {
        self.held.len() - self.tombstones.len()
    }

    fn tombstones(&self) -> usize {
        self.tombstones.len()
    }

    fn contains(&self, key: u64) -> bool {
        self.held.contains(&key) && !self.tombstones.contains(&key)
    }

    fn insert(&mut self, key: u64, vector: &[f32]) -> bool {
        if self.held.contains(&key) {
            return false;
        }
        let stored = self.stored_form(vector);
        self.graph.insert_slice((&stored, key as usize));
        self.held.insert(key);
        true
    }

    fn remove(&mut self, key: u64) -> bool {
        self.held.contains(&key) && self.tombstones.insert(key)
    }

    fn search(&self, query: &[f32], k: usize) -> Vec<Scored> {
        self.search_with_ef(query, k, self.ef_search)
    }

    fn keys(&self) -> Vec<u64> {
        self.held.difference(&self.tombstones).copied().collect()
    }

    fn held(&self) -> usize {
        self.held.len()
    }

    /// Inserts in parallel on the current rayon pool.
    fn insert_batch(&mut self, items: &[(u64, &[f32])]) {
        let mut scaled: Vec<(u64, Vec<f32>)> = Vec::with_capacity(items.len());
        for (key, vector) in items {
            if !self.held.contains(key) {
                scaled.push((*key, self.stored_form(vector)));
                self.held.insert(*key);
            }
        }
        let batch: Vec<(&[f32], usize)> = scaled
            .iter()
            .map(|(key, v)| (v.as_slice(), *key as usize))
            .collect();
        self.graph.parallel_insert_slice(&batch);
    }

    fn persists(&self) -> bool {
        true
    }

    fn persist(&self, dir: &Path, basename: &str) -> Result<SavedFiles, IndexFileError> {
        let basename = self.write_graph(dir, basename)?;
        let mut files: Vec<String> = GRAPH_SUFFIXES
            .iter()
            .map(|suffix| format!("{basename}{suffix}"))
            .collect();
        for file in &files {
            sync(&dir.join(file))?;
        }
        let tombstones = format!("{basename}{TOMBSTONES_SUFFIX}");
        write_keys(&dir.join(&tombstones), &self.tombstone_keys())?;
        files.push(tombstones);
        Ok(SavedFiles { basename, files })
    }
}
