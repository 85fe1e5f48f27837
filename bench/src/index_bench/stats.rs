//! Statistics of real embeddings that the face-like generator reproduces: the spread of identity centres and
//! the spread of one identity's photos around its centre, each as a covariance spectrum.

use std::collections::BTreeMap;
use std::path::Path;

use super::linalg::{Eigen, Symmetric};
use crate::npy;

/// A zero-mean Gaussian given by its covariance's eigendecomposition; negative eigenvalues (estimation noise)
/// are clipped to zero.
pub struct Spectrum {
    eigen: Eigen,
    /// sqrt of the clipped eigenvalues.
    scales: Vec<f64>,
}

impl Spectrum {
    fn of(covariance: &Symmetric) -> Spectrum {
        let eigen = Eigen::of(covariance);
        let scales = eigen.values.iter().map(|v| v.max(0.0).sqrt()).collect();
        Spectrum { eigen, scales }
    }

    pub fn total_variance(&self) -> f64 {
        self.scales.iter().map(|s| s * s).sum()
    }

    /// Participation ratio (Σλ)²/Σλ²: how many dimensions the spread effectively uses.
    pub fn effective_dimensions(&self) -> f64 {
        let sum: f64 = self.scales.iter().map(|s| s * s).sum();
        let squares: f64 = self.scales.iter().map(|s| s.powi(4)).sum();
        sum * sum / squares.max(f64::MIN_POSITIVE)
    }

    /// Share of the variance in the `k` largest directions.
    pub fn top_share(&self, k: usize) -> f64 {
        self.scales.iter().take(k).map(|s| s * s).sum::<f64>() / self.total_variance()
    }

    /// Adds `factor` times a draw (built from the standard normals `z`) to `out`.
    pub fn add_sample(&self, z: &[f64], factor: f64, out: &mut [f64]) {
        let n = self.eigen.n;
        let weights: Vec<f64> = z
            .iter()
            .zip(&self.scales)
            .map(|(z, s)| z * s * factor)
            .collect();
        for (i, o) in out.iter_mut().enumerate() {
            let row = &self.eigen.vectors[i * n..(i + 1) * n];
            *o += row.iter().zip(&weights).map(|(v, w)| v * w).sum::<f64>();
        }
    }
}

/// Cosine statistics of pairs: same identity ("genuine") and different identities ("impostor").
#[derive(Debug, Clone, Copy, Default)]
pub struct PairCosines {
    pub genuine_mean: f64,
    pub genuine_std: f64,
    pub impostor_mean: f64,
    pub impostor_std: f64,
}

impl PairCosines {
    /// Over every pair of `vectors` (rows of `dim`), labelled by `identities`.
    pub fn measure(vectors: &[f32], dim: usize, identities: &[i32]) -> PairCosines {
        let (mut genuine, mut impostor) = (Moments::default(), Moments::default());
        let rows: Vec<&[f32]> = vectors.chunks_exact(dim).collect();
        for i in 0..rows.len() {
            for j in (i + 1)..rows.len() {
                let cosine: f32 = rows[i].iter().zip(rows[j]).map(|(a, b)| a * b).sum();
                if identities[i] == identities[j] {
                    &mut genuine
                } else {
                    &mut impostor
                }
                .add(cosine as f64);
            }
        }
        PairCosines {
            genuine_mean: genuine.mean(),
            genuine_std: genuine.std(),
            impostor_mean: impostor.mean(),
            impostor_std: impostor.std(),
        }
    }
}

#[derive(Default)]
struct Moments {
    n: f64,
    sum: f64,
    squares: f64,
}

impl Moments {
    fn add(&mut self, x: f64) {
        self.n += 1.0;
        self.sum += x;
        self.squares += x * x;
    }
    fn mean(&self) -> f64 {
        self.sum / self.n.max(1.0)
    }
    fn std(&self) -> f64 {
        (self.squares / self.n.max(1.0) - self.mean().powi(2))
            .max(0.0)
            .sqrt()
    }
}

pub struct EmbeddingStats {
    pub dim: usize,
    pub mean: Vec<f64>,
    pub centres: Spectrum,
    pub within: Spectrum,
    pub identities: usize,
    pub embeddings: usize,
    pub real: PairCosines,
}

impl EmbeddingStats {
    /// From `embeddings.npy` (f32 [N, D]) and `identities.npy` (i32 [N]) in `dir`, as `faceserve-bench embed`
    /// writes them.
    pub fn load(dir: &Path) -> anyhow::Result<EmbeddingStats> {
        let (vectors, rows, dim) = npy::read_f32_matrix(&dir.join("embeddings.npy"))?;
        let identities = npy::read_i32_vector(&dir.join("identities.npy"))?;
        anyhow::ensure!(
            identities.len() == rows,
            "{rows} embeddings but {} identities",
            identities.len()
        );
        let mut by_identity: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (row, id) in identities.iter().enumerate() {
            by_identity.entry(*id).or_default().push(row);
        }
        let row = |r: usize| vectors[r * dim..(r + 1) * dim].iter().map(|&x| x as f64);

        let mut mean = vec![0.0; dim];
        for r in 0..rows {
            mean.iter_mut()
                .zip(row(r))
                .for_each(|(m, x)| *m += x / rows as f64);
        }
        // Within: deviations from the identity mean, unbiased by n/(n-1), over identities with 2+ photos.
        // Centres: covariance of identity means, minus the within spread those means still carry (Σw / n).
        let (mut within, mut centres) = (Symmetric::zeros(dim), Symmetric::zeros(dim));
        let (mut within_dof, mut inverse_sizes) = (0.0, 0.0);
        for members in by_identity.values() {
            let n = members.len() as f64;
            let mut centre = vec![0.0; dim];
            for &r in members {
                centre.iter_mut().zip(row(r)).for_each(|(c, x)| *c += x / n);
            }
            if members.len() > 1 {
                for &r in members {
                    let deviation: Vec<f64> = row(r).zip(&centre).map(|(x, c)| x - c).collect();
                    within.add_outer(&deviation, 1.0);
                }
                within_dof += n - 1.0;
            }
            let offset: Vec<f64> = centre.iter().zip(&mean).map(|(c, m)| c - m).collect();
            centres.add_outer(&offset, 1.0);
            inverse_sizes += 1.0 / n;
        }
        let count = by_identity.len() as f64;
        within.scale(1.0 / within_dof.max(1.0));
        centres.scale(1.0 / (count - 1.0).max(1.0));
        centres.subtract(&within, inverse_sizes / count);
        Ok(EmbeddingStats {
            dim,
            mean,
            centres: Spectrum::of(&centres),
            within: Spectrum::of(&within),
            identities: by_identity.len(),
            embeddings: rows,
            real: PairCosines::measure(&vectors, dim, &identities),
        })
    }

    pub fn describe(&self) -> String {
        let line = |name: &str, s: &Spectrum| {
            format!(
                "  {name}: total variance {:.4}, effective dimensions {:.0}, top-10 share {:.2}, top-100 share {:.2}",
                s.total_variance(),
                s.effective_dimensions(),
                s.top_share(10),
                s.top_share(100)
            )
        };
        format!(
            "real embeddings: {} of {} identities, dimension {}, |mean| {:.3}\n{}\n{}\n  real cosines: genuine {:.3} ± {:.3}, impostor {:.3} ± {:.3}",
            self.embeddings,
            self.identities,
            self.dim,
            self.mean.iter().map(|m| m * m).sum::<f64>().sqrt(),
            line("identity centres", &self.centres),
            line("within identity", &self.within),
            self.real.genuine_mean,
            self.real.genuine_std,
            self.real.impostor_mean,
            self.real.impostor_std,
        )
    }
}
