//! Exact search: one contiguous array of vectors, scanned with the SIMD dot product.

use std::collections::HashMap;

use crate::simd::DotKernel;
use crate::vector_index::{IndexKind, Scored, TopK, VectorIndex};

/// Rows scored per kernel call: large enough to amortise the call, small enough for the scores to stay in L1.
const SCAN_BLOCK: usize = 256;

/// Every vector in one `Vec<f32>`, so a search streams through memory once.
pub struct ExactIndex {
    dimension: usize,
    kernel: DotKernel,
    vectors: Vec<f32>,
    /// `keys[slot]` owns `vectors[slot * dimension..][..dimension]`.
    keys: Vec<u64>,
    slots: HashMap<u64, usize>,
}

impl ExactIndex {
    pub fn new(dimension: usize) -> Self {
        Self::with_capacity(dimension, 0)
    }

    pub fn with_capacity(dimension: usize, capacity: usize) -> Self {
        assert!(dimension > 0, "an index needs a dimension of at least 1");
        ExactIndex {
            dimension,
            kernel: DotKernel::detect(),
            vectors: Vec::with_capacity(capacity * dimension),
            keys: Vec::with_capacity(capacity),
            slots: HashMap::with_capacity(capacity),
        }
    }

    /// The dot-product kernel the scan uses on this CPU.
    pub fn kernel(&self) -> DotKernel {
        self.kernel
    }

    /// The vector stored under `key`.
    pub fn vector(&self, key: u64) -> Option<&[f32]> {
        let slot = *self.slots.get(&key)?;
        Some(&self.vectors[slot * self.dimension..(slot + 1) * self.dimension])
    }
}

impl VectorIndex for ExactIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Exact
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn tombstones(&self) -> usize {
        0
    }

    fn contains(&self, key: u64) -> bool {
        self.slots.contains_key(&key)
    }

    fn insert(&mut self, key: u64, vector: &[f32]) -> bool {
        assert_eq!(vector.len(), self.dimension, "vector dimension");
        if self.slots.contains_key(&key) {
            return false;
        }
        self.slots.insert(key, self.keys.len());
        self.keys.push(key);
        self.vectors.extend_from_slice(vector);
        true
    }

    /// Moves the last vector into the hole, so the array stays dense and removal is O(dimension).
    fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.slots.remove(&key) else {
            return false;
        };
        let last = self.keys.len() - 1;
        if slot != last {
            let moved_key = self.keys[last];
            self.keys[slot] = moved_key;
            self.slots.insert(moved_key, slot);
            let dim = self.dimension;
            self.vectors
                .copy_within(last * dim..(last + 1) * dim, slot * dim);
        }
        self.keys.pop();
        self.vectors.truncate(last * self.dimension);
        true
    }

    fn search(&self, query: &[f32], k: usize) -> Vec<Scored> {
        assert_eq!(query.len(), self.dimension, "query dimension");
        let mut top = TopK::new(k.min(self.keys.len()));
        let mut scores = [0f32; SCAN_BLOCK];
        let block_floats = SCAN_BLOCK * self.dimension;
        for (rows, keys) in self
            .vectors
            .chunks(block_floats)
            .zip(self.keys.chunks(SCAN_BLOCK))
        {
            let scores = &mut scores[..keys.len()];
            self.kernel.dot_rows(query, rows, scores);
            let mut bar = top.bar();
            for (&key, &similarity) in keys.iter().zip(scores.iter()) {
                if similarity >= bar {
                    top.push(Scored { key, similarity });
                    bar = top.bar();
                }
            }
        }
        top.into_sorted()
    }

    fn keys(&self) -> Vec<u64> {
        self.keys.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    fn naive_top(vectors: &[(u64, Vec<f32>)], query: &[f32], k: usize) -> Vec<u64> {
        let mut scored: Vec<Scored> = vectors
            .iter()
            .map(|(key, v)| Scored {
                key: *key,
                similarity: DotKernel::Portable.dot(query, v),
            })
            .collect();
        scored.sort_by(crate::vector_index::best_first);
        scored.iter().take(k).map(|s| s.key).collect()
    }

    #[test]
    fn search_matches_a_naive_scan_after_inserts_and_removes() {
        let dim = 24;
        let mut index = ExactIndex::new(dim);
        let mut reference = Vec::new();
        for key in 0..700u64 {
            let v = unit(key, dim);
            assert!(index.insert(key, &v));
            reference.push((key, v));
        }
        for key in (0..700u64).step_by(3) {
            assert!(index.remove(key));
            assert!(!index.remove(key));
        }
        reference.retain(|(key, _)| key % 3 != 0);
        assert_eq!(index.len(), reference.len());
        for q in 0..20 {
            let query = unit(10_000 + q, dim);
            let got: Vec<u64> = index.search(&query, 10).iter().map(|s| s.key).collect();
            assert_eq!(got, naive_top(&reference, &query, 10));
        }
        assert_eq!(
            index.vector(4).unwrap(),
            reference.iter().find(|(k, _)| *k == 4).unwrap().1
        );
        assert!(index.vector(3).is_none());
        assert!(!index.insert(4, &unit(4, dim)));
    }

    #[test]
    fn search_asks_for_more_than_it_holds() {
        let mut index = ExactIndex::new(3);
        index.insert(7, &[1.0, 0.0, 0.0]);
        index.insert(9, &[0.0, 1.0, 0.0]);
        let hits = index.search(&[0.6, 0.8, 0.0], 5);
        assert_eq!(hits.iter().map(|s| s.key).collect::<Vec<_>>(), vec![9, 7]);
        assert!(ExactIndex::new(3).search(&[1.0, 0.0, 0.0], 5).is_empty());
    }
}
