//! Sign-bit codes and their Hamming distances: AVX-512 VPOPCNTDQ when the CPU has it (checked at run time, so
//! one binary runs everywhere), else the POPCNT instruction, else a portable bit count.

/// One bit per dimension, 64 per word.
pub fn words_for(dimension: usize) -> usize {
    dimension.div_ceil(64)
}

/// Sign bits of `vector` into `code`: bit `j` of word `w` is set when component `64 w + j` is positive.
pub fn sign_code(vector: &[f32], code: &mut [u64]) {
    assert_eq!(code.len(), words_for(vector.len()), "code length");
    for (word, chunk) in code.iter_mut().zip(vector.chunks(64)) {
        *word = chunk
            .iter()
            .enumerate()
            .fold(0u64, |bits, (j, &x)| bits | (((x > 0.0) as u64) << j));
    }
}

/// The distance kernel chosen for this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HammingKernel {
    /// 512 bits per instruction; for codes of a multiple of 512 bits.
    Avx512Vpopcntdq,
    /// One 64-bit word per instruction.
    Popcnt,
    Portable,
}

impl HammingKernel {
    /// The fastest kernel this CPU supports for codes of `words` words.
    pub fn detect(words: usize) -> HammingKernel {
        #[cfg(target_arch = "x86_64")]
        {
            if words.is_multiple_of(8)
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vpopcntdq")
            {
                return HammingKernel::Avx512Vpopcntdq;
            }
            if is_x86_feature_detected!("popcnt") {
                return HammingKernel::Popcnt;
            }
        }
        let _ = words;
        HammingKernel::Portable
    }

    pub fn name(self) -> &'static str {
        match self {
            HammingKernel::Avx512Vpopcntdq => "avx512-vpopcntdq",
            HammingKernel::Popcnt => "popcnt",
            HammingKernel::Portable => "portable",
        }
    }

    /// `out[i]` = Hamming distance from `query` to row `i` of `codes` (rows of `query.len()` words).
    pub fn distances(self, query: &[u64], codes: &[u64], out: &mut [u32]) {
        let words = query.len();
        assert!(
            words > 0 && codes.len() == words * out.len(),
            "codes do not match the query length"
        );
        match self {
            #[cfg(target_arch = "x86_64")]
            HammingKernel::Avx512Vpopcntdq => {
                assert!(
                    words.is_multiple_of(8),
                    "AVX-512 codes are whole 512-bit blocks"
                );
                // SAFETY: `detect` only returns this kernel when the CPU has both features.
                unsafe { avx512::distances(query, codes, out) }
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detect` only returns this kernel when the CPU has POPCNT.
            HammingKernel::Popcnt => unsafe { distances_popcnt(query, codes, out) },
            _ => distances_portable(query, codes, out),
        }
    }
}

#[inline(always)]
fn distances_portable(query: &[u64], codes: &[u64], out: &mut [u32]) {
    for (code, distance) in codes.chunks_exact(query.len()).zip(out.iter_mut()) {
        *distance = code
            .iter()
            .zip(query)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
    }
}

/// The portable loop compiled with POPCNT, so `count_ones` is one instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn distances_popcnt(query: &[u64], codes: &[u64], out: &mut [u32]) {
    distances_portable(query, codes, out);
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Rows per step: their eight per-lane counts are summed together by one transpose.
    const ROWS: usize = 8;

    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    pub(super) unsafe fn distances(query: &[u64], codes: &[u64], out: &mut [u32]) {
        let words = query.len();
        let blocks = words / 8;
        let rows = out.len();
        let (q, c) = (query.as_ptr(), codes.as_ptr());
        let mut r = 0;
        // SAFETY: every load reads 8 words at offsets below `rows * words` (codes) or `words` (query), and the
        // store writes 8 distances at `r..r + 8 <= rows`.
        unsafe {
            while r + ROWS <= rows {
                let mut counts = [_mm512_setzero_si512(); ROWS];
                for (i, count) in counts.iter_mut().enumerate() {
                    let row = c.add((r + i) * words);
                    for b in 0..blocks {
                        let x = _mm512_xor_si512(
                            _mm512_loadu_si512(row.add(8 * b).cast()),
                            _mm512_loadu_si512(q.add(8 * b).cast()),
                        );
                        *count = _mm512_add_epi64(*count, _mm512_popcnt_epi64(x));
                    }
                }
                let sums = sum_lanes_of_each(counts);
                _mm256_storeu_si256(out.as_mut_ptr().add(r).cast(), _mm512_cvtepi64_epi32(sums));
                r += ROWS;
            }
            while r < rows {
                let row = c.add(r * words);
                let mut count = _mm512_setzero_si512();
                for b in 0..blocks {
                    let x = _mm512_xor_si512(
                        _mm512_loadu_si512(row.add(8 * b).cast()),
                        _mm512_loadu_si512(q.add(8 * b).cast()),
                    );
                    count = _mm512_add_epi64(count, _mm512_popcnt_epi64(x));
                }
                out[r] = _mm512_reduce_add_epi64(count) as u32;
                r += 1;
            }
        }
    }

    /// Lane `i` of the result is the sum of the eight lanes of `v[i]`: three rounds of pairing halves, instead
    /// of eight separate horizontal sums.
    #[target_feature(enable = "avx512f")]
    fn sum_lanes_of_each(v: [__m512i; 8]) -> __m512i {
        // Within each 128-bit lane L: [sum of v[2j] over words 2L, 2L+1; the same for v[2j+1]].
        let pair = |a: __m512i, b: __m512i| {
            _mm512_add_epi64(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
        };
        let a = [
            pair(v[0], v[1]),
            pair(v[2], v[3]),
            pair(v[4], v[5]),
            pair(v[6], v[7]),
        ];
        // Lanes [a.L0 + a.L1, a.L2 + a.L3, b.L0 + b.L1, b.L2 + b.L3].
        let fold = |a: __m512i, b: __m512i| {
            _mm512_add_epi64(
                _mm512_shuffle_i64x2::<0b10_00_10_00>(a, b),
                _mm512_shuffle_i64x2::<0b11_01_11_01>(a, b),
            )
        };
        fold(fold(a[0], a[1]), fold(a[2], a[3]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(rows: usize, words: usize, seed: u64) -> Vec<u64> {
        let mut state = seed | 1;
        (0..rows * words)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .collect()
    }

    #[test]
    fn every_kernel_agrees_with_a_naive_count() {
        for words in [1usize, 3, 8, 16] {
            for rows in [0usize, 1, 7, 8, 9, 33] {
                let query = codes(1, words, 99);
                let rows_codes = codes(rows, words, words as u64 * 31 + rows as u64);
                let expected: Vec<u32> = rows_codes
                    .chunks_exact(words)
                    .map(|row| {
                        let bits = |w: u64| (0..64).filter(|b| w >> b & 1 == 1).count() as u32;
                        row.iter().zip(&query).map(|(a, b)| bits(a ^ b)).sum()
                    })
                    .collect();
                for kernel in [HammingKernel::Portable, HammingKernel::detect(words)] {
                    let mut got = vec![u32::MAX; rows];
                    kernel.distances(&query, &rows_codes, &mut got);
                    assert_eq!(got, expected, "{kernel:?}, {words} words, {rows} rows");
                }
            }
        }
    }

    #[test]
    fn sign_codes_set_a_bit_per_positive_component() {
        let vector: Vec<f32> = (0..70)
            .map(|i| if i % 3 == 0 { 0.5 } else { -0.5 })
            .collect();
        let mut code = [0u64; 2];
        sign_code(&vector, &mut code);
        for i in 0..70 {
            assert_eq!(code[i / 64] >> (i % 64) & 1 == 1, i % 3 == 0, "bit {i}");
        }
        assert_eq!(code[1] >> 6, 0, "no bits past the dimension");
    }
}
