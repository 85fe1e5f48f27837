//! Which key each row of a row-numbered index holds, which rows are removed (a tombstone bit each), and the row
//! of every key the index has held, for the flat binary scan and the usearch graph. Rows are numbered in insertion
//! order and never reused, so a row number also names the row's f32 copy in the [`crate::vector_file`].

use std::collections::HashMap;

use crate::vector_index::IndexFileError;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct RowKeys {
    /// `keys[row]`: the key inserted as `row`.
    keys: Vec<u64>,
    /// One bit per row, set once the row's key is removed.
    removed: Vec<u64>,
    removed_count: usize,
    /// Every key held, removed ones included: a key is inserted at most once in an index's life.
    rows: HashMap<u64, u32>,
}

impl RowKeys {
    pub fn with_capacity(capacity: usize) -> Self {
        RowKeys {
            keys: Vec::with_capacity(capacity),
            removed: Vec::with_capacity(capacity.div_ceil(64)),
            removed_count: 0,
            rows: HashMap::with_capacity(capacity),
        }
    }

    /// Rows held, removed ones included.
    pub fn held(&self) -> usize {
        self.keys.len()
    }

    /// Rows a search may return.
    pub fn live(&self) -> usize {
        self.keys.len() - self.removed_count
    }

    pub fn removed(&self) -> usize {
        self.removed_count
    }

    /// Whether `key` was ever inserted.
    pub fn has_held(&self, key: u64) -> bool {
        self.rows.contains_key(&key)
    }

    pub fn contains(&self, key: u64) -> bool {
        self.rows
            .get(&key)
            .is_some_and(|&row| !self.is_removed(row as usize))
    }

    /// The row `key` gets: the next one; None (nothing changed) for a key held before.
    pub fn push(&mut self, key: u64) -> Option<usize> {
        if self.rows.contains_key(&key) {
            return None;
        }
        let row = self.keys.len();
        assert!(
            row < u32::MAX as usize,
            "an index holds at most 2^32 - 1 rows"
        );
        self.rows.insert(key, row as u32);
        self.keys.push(key);
        if self.removed.len() * 64 < self.keys.len() {
            self.removed.push(0);
        }
        Some(row)
    }

    /// Tombstones `key`'s row and returns it; None when `key` is not live.
    pub fn remove(&mut self, key: u64) -> Option<usize> {
        let row = *self.rows.get(&key)? as usize;
        if self.is_removed(row) {
            return None;
        }
        self.removed[row / 64] |= 1 << (row % 64);
        self.removed_count += 1;
        Some(row)
    }

    #[inline]
    pub fn is_removed(&self, row: usize) -> bool {
        self.removed[row / 64] & (1 << (row % 64)) != 0
    }

    #[inline]
    pub fn key(&self, row: usize) -> u64 {
        self.keys[row]
    }

    pub fn live_keys(&self) -> Vec<u64> {
        (0..self.keys.len())
            .filter(|&row| !self.is_removed(row))
            .map(|row| self.keys[row])
            .collect()
    }

    /// Little-endian: the row count, every row's key, then the tombstone bits.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + 8 * (self.keys.len() + self.removed.len()));
        bytes.extend_from_slice(&(self.keys.len() as u64).to_le_bytes());
        for word in self.keys.iter().chain(&self.removed) {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, IndexFileError> {
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let rows = words.first().copied().unwrap_or(0) as usize;
        let bit_words = rows.div_ceil(64);
        if !bytes.len().is_multiple_of(8) || words.len() != 1 + rows + bit_words {
            return Err(IndexFileError(format!(
                "a row list of {} bytes does not hold {rows} rows",
                bytes.len()
            )));
        }
        let keys = words[1..=rows].to_vec();
        let removed = words[1 + rows..].to_vec();
        let mut map = HashMap::with_capacity(rows);
        for (row, &key) in keys.iter().enumerate() {
            if map.insert(key, row as u32).is_some() {
                return Err(IndexFileError(format!("key {key} is held by two rows")));
            }
        }
        if removed
            .last()
            .is_some_and(|&last| !rows.is_multiple_of(64) && last >> (rows % 64) != 0)
        {
            return Err(IndexFileError("tombstone bits past the last row".into()));
        }
        let removed_count = removed.iter().map(|w| w.count_ones() as usize).sum();
        Ok(RowKeys {
            keys,
            removed,
            removed_count,
            rows: map,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keys_and_tombstones_round_trip() {
        let mut rows = RowKeys::with_capacity(4);
        for key in [10u64, 20, 30, 40, 50, 60, 70] {
            rows.push(key).unwrap();
        }
        assert_eq!(rows.push(30), None, "a key is held once");
        assert_eq!(rows.remove(30), Some(2));
        assert_eq!(rows.remove(30), None);
        assert_eq!(rows.remove(99), None);
        assert!(!rows.contains(30) && rows.has_held(30) && rows.contains(40));
        assert_eq!(rows.push(30), None, "nor inserted again after its removal");
        assert_eq!((rows.held(), rows.live(), rows.removed()), (7, 6, 1));
        assert_eq!(rows.live_keys(), vec![10, 20, 40, 50, 60, 70]);

        let decoded = RowKeys::decode(&rows.encode()).unwrap();
        assert_eq!(decoded, rows);
        let encoded = rows.encode();
        assert!(RowKeys::decode(&encoded[..encoded.len() - 8]).is_err());
        assert!(RowKeys::decode(&encoded[..encoded.len() - 3]).is_err());
        assert_eq!(
            RowKeys::decode(&RowKeys::default().encode())
                .unwrap()
                .held(),
            0
        );
    }
}
