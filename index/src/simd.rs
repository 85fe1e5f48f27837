//! Dot products for the exact scan: AVX2+FMA when the CPU has it (checked at run time, so one binary runs
//! everywhere), otherwise a portable kernel written so the compiler vectorises it for the baseline target.

/// Lanes the portable kernel accumulates separately; independent sums let the compiler keep them in vector
/// registers instead of serialising on one accumulator.
const PORTABLE_LANES: usize = 16;

/// The kernel chosen for this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DotKernel {
    Avx2Fma,
    Portable,
}

impl DotKernel {
    /// The fastest kernel this CPU supports.
    pub fn detect() -> DotKernel {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return DotKernel::Avx2Fma;
            }
        }
        DotKernel::Portable
    }

    pub fn name(self) -> &'static str {
        match self {
            DotKernel::Avx2Fma => "avx2+fma",
            DotKernel::Portable => "portable",
        }
    }

    /// Dot product of two equally long slices.
    #[inline]
    pub fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(
            a.len(),
            b.len(),
            "dot product of vectors of different lengths"
        );
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detect` only returns Avx2Fma when the CPU supports both features.
            DotKernel::Avx2Fma => unsafe { avx2::dot(a, b) },
            _ => dot_portable(a, b),
        }
    }

    /// `out[i] = query · rows[i]` for `rows` laid out contiguously, `query.len()` floats each.
    pub fn dot_rows(self, query: &[f32], rows: &[f32], out: &mut [f32]) {
        let dim = query.len();
        assert!(
            dim > 0 && rows.len() == dim * out.len(),
            "rows do not match the query dimension"
        );
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `dot`.
            DotKernel::Avx2Fma => unsafe { avx2::dot_rows(query, rows, out) },
            _ => {
                for (row, score) in rows.chunks_exact(dim).zip(out.iter_mut()) {
                    *score = dot_portable(query, row);
                }
            }
        }
    }
}

/// Dot product with the kernel [`DotKernel::detect`] picks.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    DotKernel::detect().dot(a, b)
}

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; PORTABLE_LANES];
    let a_chunks = a.chunks_exact(PORTABLE_LANES);
    let b_chunks = b.chunks_exact(PORTABLE_LANES);
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for lane in 0..PORTABLE_LANES {
            sums[lane] += ca[lane] * cb[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Four independent 8-lane accumulators hide the FMA latency.
    const STEP: usize = 32;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut i = 0;
        // SAFETY: every load reads 8 floats at offsets below `n`, which both slices hold.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); 4];
            while i + STEP <= n {
                for (j, sum) in acc.iter_mut().enumerate() {
                    let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                    let y = _mm256_loadu_ps(pb.add(i + 8 * j));
                    *sum = _mm256_fmadd_ps(x, y, *sum);
                }
                i += STEP;
            }
            while i + 8 <= n {
                acc[0] = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i)),
                    _mm256_loadu_ps(pb.add(i)),
                    acc[0],
                );
                i += 8;
            }
            let total = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
            let mut result = horizontal_sum(total);
            while i < n {
                result += *pa.add(i) * *pb.add(i);
                i += 1;
            }
            result
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
        let dim = query.len();
        for (row, score) in rows.chunks_exact(dim).zip(out.iter_mut()) {
            // SAFETY: same features as this function.
            *score = unsafe { dot(query, row) };
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn horizontal_sum(v: __m256) -> f32 {
        let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        let single = _mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 0b01));
        _mm_cvtss_f32(single)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn kernels_agree_with_naive_dot_for_every_length() {
        for len in [1usize, 7, 8, 15, 16, 31, 32, 33, 100, 512, 513] {
            let a: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let b: Vec<f32> = (0..len)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
                .collect();
            let expected = naive(&a, &b);
            for kernel in [DotKernel::Portable, DotKernel::detect()] {
                let got = kernel.dot(&a, &b) as f64;
                assert!(
                    (got - expected).abs() < 1e-4 * len as f64,
                    "{kernel:?} len {len}: {got} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn dot_rows_scores_every_row() {
        let dim = 40;
        let query: Vec<f32> = (0..dim).map(|i| i as f32 / dim as f32).collect();
        let rows: Vec<f32> = (0..dim * 3).map(|i| (i % 7) as f32).collect();
        let mut out = vec![0.0; 3];
        DotKernel::detect().dot_rows(&query, &rows, &mut out);
        for (r, score) in out.iter().enumerate() {
            let expected = naive(&query, &rows[r * dim..(r + 1) * dim]) as f32;
            assert!((score - expected).abs() < 1e-3);
        }
    }
}
