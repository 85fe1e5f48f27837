//! The flat scan: the rows whose codes are nearest a query by Hamming distance, skipping removed rows, split over
//! the rayon pool for large indexes.
//!
//! The scan is bound by memory bandwidth (64 bytes a template), so it splits a large index into pieces on the
//! current rayon pool (the global one when the server calls from its blocking threads). Several searches at once
//! queue their pieces on the same pool instead of running more threads than there are cores.

use std::collections::BinaryHeap;

use rayon::prelude::*;

use super::hamming::HammingKernel;
use crate::row_keys::RowKeys;

/// Rows scored per kernel call: the distances stay in L1.
const BLOCK_ROWS: usize = 1024;
/// Below this many rows one thread scans everything (4 MiB of 512-bit codes; about 0.3 ms).
const PARALLEL_MIN_ROWS: usize = 64 * 1024;
/// Pieces per pool thread, so a thread busy with another search does not hold the whole answer up.
const PIECES_PER_THREAD: usize = 4;

/// The live rows of the `count` codes nearest `query` (ties: lower row first), nearest first.
pub(crate) fn nearest_rows(
    kernel: HammingKernel,
    query: &[u64],
    codes: &[u64],
    rows: &RowKeys,
    count: usize,
) -> Vec<usize> {
    if count == 0 {
        return Vec::new();
    }
    let words = query.len();
    let held = codes.len() / words;
    let threads = rayon::current_num_threads();
    let mut best: Vec<u64> = if held >= PARALLEL_MIN_ROWS && threads > 1 {
        let piece = held
            .div_ceil(threads * PIECES_PER_THREAD)
            .next_multiple_of(BLOCK_ROWS);
        codes
            .par_chunks(piece * words)
            .enumerate()
            .flat_map_iter(|(n, part)| scan(kernel, query, part, n * piece, rows, count))
            .collect()
    } else {
        scan(kernel, query, codes, 0, rows, count)
    };
    best.sort_unstable();
    best.truncate(count);
    best.into_iter()
        .map(|entry| (entry & u32::MAX as u64) as usize)
        .collect()
}

/// The `count` nearest live rows of `codes` (which start at row `first_row`), as `distance << 32 | row`.
fn scan(
    kernel: HammingKernel,
    query: &[u64],
    codes: &[u64],
    first_row: usize,
    rows: &RowKeys,
    count: usize,
) -> Vec<u64> {
    let words = query.len();
    // Max-heap: its top is the worst entry kept, the one a new row must beat.
    let mut kept: BinaryHeap<u64> = BinaryHeap::with_capacity(count + 1);
    let mut bar = u64::MAX;
    let mut distances = [0u32; BLOCK_ROWS];
    for (block, block_codes) in codes.chunks(BLOCK_ROWS * words).enumerate() {
        let distances = &mut distances[..block_codes.len() / words];
        kernel.distances(query, block_codes, distances);
        let block_first = first_row + block * BLOCK_ROWS;
        let bar_distance = (bar >> 32) as u32;
        for (i, &distance) in distances.iter().enumerate() {
            // Most rows fail this one comparison; the full entry (distance and row) decides ties.
            if distance > bar_distance {
                continue;
            }
            let row = block_first + i;
            let entry = (distance as u64) << 32 | row as u64;
            if entry >= bar || rows.is_removed(row) {
                continue;
            }
            kept.push(entry);
            if kept.len() > count {
                kept.pop();
            }
            if kept.len() == count {
                bar = *kept.peek().expect("count > 0 entries");
            }
        }
    }
    kept.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_live_rows_serially_and_in_parallel() {
        let words = 8;
        for held in [10usize, PARALLEL_MIN_ROWS + 3000] {
            let mut rows = RowKeys::with_capacity(held);
            let mut codes = Vec::with_capacity(held * words);
            let mut state = 7u64;
            for row in 0..held {
                rows.push(row as u64 * 10).unwrap();
                for _ in 0..words {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    codes.push(state);
                }
            }
            for row in (0..held).step_by(3) {
                rows.remove(row as u64 * 10);
            }
            let query = codes[5 * words..6 * words].to_vec();
            let kernel = HammingKernel::detect(words);
            let mut distances = vec![0u32; held];
            HammingKernel::Portable.distances(&query, &codes, &mut distances);
            let mut expected: Vec<(u32, usize)> = (0..held)
                .filter(|row| row % 3 != 0)
                .map(|row| (distances[row], row))
                .collect();
            expected.sort_unstable();
            let expected: Vec<usize> = expected.iter().take(7).map(|(_, row)| *row).collect();
            assert_eq!(expected[0], 5, "a code is nearest itself");
            assert_eq!(nearest_rows(kernel, &query, &codes, &rows, 7), expected);
            let all = nearest_rows(kernel, &query, &codes, &rows, held);
            assert_eq!(all.len(), rows.live(), "never more than the live rows");
        }
    }
}
