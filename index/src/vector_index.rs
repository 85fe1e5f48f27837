//! The search interface every index implements, its persistence, and the top-k selection they share.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::Path;

/// How a gallery is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// A scan over every vector: exact, and fastest for small galleries.
    Exact,
    /// An hnsw_rs graph whose candidates are re-ranked exactly.
    Hnsw,
    /// A flat scan over sign bits whose nearest codes are re-ranked exactly.
    Binary,
    /// A usearch graph over quantised vectors whose candidates are re-ranked exactly.
    Usearch,
}

impl IndexKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Exact => "exact",
            IndexKind::Hnsw => "hnsw",
            IndexKind::Binary => "binary",
            IndexKind::Usearch => "usearch",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            IndexKind::Exact,
            IndexKind::Hnsw,
            IndexKind::Binary,
            IndexKind::Usearch,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// The files one save of an index wrote: `basename` is what a restore is given (an engine may pick another one than
/// it was asked for), `files` every file name in the folder that belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedFiles {
    pub basename: String,
    pub files: Vec<String>,
}

/// Writing or reading an index's files failed, or they do not hold a usable index.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IndexFileError(pub String);

/// A search answer: the key a vector was inserted under and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub key: u64,
    pub similarity: f32,
}

/// A set of unit vectors under u64 keys, searched by cosine similarity, which can save itself to files and be
/// restored from them (see [`crate::engines`] for the restore side).
///
/// Implementations need `&mut self` to change and `&self` to search, so one `RwLock` around an index lets
/// searches run in parallel while changes wait for them (the HNSW library cannot insert and search at once).
pub trait VectorIndex: Send + Sync {
    fn kind(&self) -> IndexKind;
    fn dimension(&self) -> usize;
    /// Vectors a search can return.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Removed vectors the index still holds (and skips when searching) until it is rebuilt.
    fn tombstones(&self) -> usize;
    /// Whether a search can return `key`.
    fn contains(&self, key: u64) -> bool;
    /// Adds a unit vector of [`Self::dimension`] floats. A key is inserted at most once in an index's life:
    /// returns false, changing nothing, for a key it holds or has held.
    fn insert(&mut self, key: u64, vector: &[f32]) -> bool;
    /// Makes `key` unreachable by searches; false when it was not there.
    fn remove(&mut self, key: u64) -> bool;
    /// The `k` most similar vectors, best first (ties broken by key).
    fn search(&self, query: &[f32], k: usize) -> Vec<Scored>;
    /// Every key a search can return, in no particular order.
    fn keys(&self) -> Vec<u64>;
    /// Keys the index holds, removed ones included: what a rebuild would shed is `held - len`.
    fn held(&self) -> usize {
        self.len() + self.tombstones()
    }
    /// Adds many vectors; an index that can build in parallel does so on the current rayon pool (run it inside
    /// `ThreadPool::install` to choose the threads). Keys already held are skipped.
    fn insert_batch(&mut self, items: &[(u64, &[f32])]) {
        for (key, vector) in items {
            self.insert(*key, vector);
        }
    }
    /// Whether saving this index is worth it: restoring its files is faster than building it from the store.
    fn persists(&self) -> bool {
        false
    }
    /// Writes the index, tombstones included, into new files of `dir` whose names start with `basename` (never
    /// overwriting a file of an earlier save), each synced to disk. Searches may go on meanwhile; changes wait.
    fn persist(&self, dir: &Path, basename: &str) -> Result<SavedFiles, IndexFileError> {
        let _ = (dir, basename);
        Err(IndexFileError(format!(
            "the {} index is not saved; it is rebuilt from the store",
            self.kind().as_str()
        )))
    }
}

/// Orders answers best first: higher similarity, then lower key.
pub(crate) fn best_first(a: &Scored, b: &Scored) -> Ordering {
    b.similarity
        .total_cmp(&a.similarity)
        .then(a.key.cmp(&b.key))
}

/// Keeps the `k` best of a stream of scored keys.
pub(crate) struct TopK {
    k: usize,
    /// Max-heap under `best_first`, so its top is the worst answer kept.
    heap: BinaryHeap<WorstFirst>,
}

struct WorstFirst(Scored);

impl PartialEq for WorstFirst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for WorstFirst {}
impl PartialOrd for WorstFirst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for WorstFirst {
    fn cmp(&self, other: &Self) -> Ordering {
        best_first(&self.0, &other.0)
    }
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// The similarity a new answer must beat once `k` are kept; lets the scan skip most answers cheaply.
    #[inline]
    pub(crate) fn bar(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap
                .peek()
                .map_or(f32::NEG_INFINITY, |worst| worst.0.similarity)
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, candidate: Scored) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(WorstFirst(candidate));
        } else if let Some(worst) = self.heap.peek()
            && best_first(&candidate, &worst.0) == Ordering::Less
        {
            self.heap.pop();
            self.heap.push(WorstFirst(candidate));
        }
    }

    pub(crate) fn into_sorted(self) -> Vec<Scored> {
        let mut answers: Vec<Scored> = self.heap.into_iter().map(|w| w.0).collect();
        answers.sort_by(best_first);
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_best_in_order() {
        let mut top = TopK::new(3);
        for (key, similarity) in [(1, 0.1), (2, 0.9), (3, 0.5), (4, 0.9), (5, -0.2), (6, 0.7)] {
            top.push(Scored { key, similarity });
        }
        let keys: Vec<u64> = top.into_sorted().iter().map(|s| s.key).collect();
        assert_eq!(keys, vec![2, 4, 6]);
    }
}
