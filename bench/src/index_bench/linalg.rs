//! The little linear algebra the generator needs: covariance matrices and their eigendecomposition (cyclic
//! Jacobi; 512x512 takes seconds, once per run).

/// A symmetric `n`x`n` matrix, row-major, in f64.
#[derive(Debug, Clone)]
pub struct Symmetric {
    pub n: usize,
    pub values: Vec<f64>,
}

impl Symmetric {
    pub fn zeros(n: usize) -> Self {
        Symmetric {
            n,
            values: vec![0.0; n * n],
        }
    }

    /// Adds `weight * x xᵀ`.
    pub fn add_outer(&mut self, x: &[f64], weight: f64) {
        for (i, xi) in x.iter().enumerate() {
            let row = &mut self.values[i * self.n..(i + 1) * self.n];
            for (r, xj) in row.iter_mut().zip(x) {
                *r += weight * xi * xj;
            }
        }
    }

    pub fn scale(&mut self, factor: f64) {
        self.values.iter_mut().for_each(|v| *v *= factor);
    }

    /// `self - factor * other`.
    pub fn subtract(&mut self, other: &Symmetric, factor: f64) {
        for (a, b) in self.values.iter_mut().zip(&other.values) {
            *a -= factor * b;
        }
    }
}

/// Eigenvalues (descending) and unit eigenvectors of a symmetric matrix.
pub struct Eigen {
    pub n: usize,
    pub values: Vec<f64>,
    /// Row-major; column `j` is the eigenvector of `values[j]`.
    pub vectors: Vec<f64>,
}

impl Eigen {
    pub fn of(matrix: &Symmetric) -> Eigen {
        let n = matrix.n;
        let mut a = matrix.values.clone();
        let mut v = vec![0.0; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
        for _sweep in 0..60 {
            let off: f64 = (0..n)
                .flat_map(|p| ((p + 1)..n).map(move |q| (p, q)))
                .map(|(p, q)| a[p * n + q].powi(2))
                .sum();
            if off <= 1e-24 * scale {
                break;
            }
            for p in 0..n {
                for q in (p + 1)..n {
                    let apq = a[p * n + q];
                    if apq.abs() <= 1e-300 {
                        continue;
                    }
                    // Rotation in the (p, q) plane that zeroes a[p][q].
                    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for k in 0..n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q]);
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for k in 0..n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                    for k in 0..n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
        let values = order.iter().map(|&i| a[i * n + i]).collect();
        let mut vectors = vec![0.0; n * n];
        for (new, &old) in order.iter().enumerate() {
            for k in 0..n {
                vectors[k * n + new] = v[k * n + old];
            }
        }
        Eigen { n, values, vectors }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvectors_diagonalise_the_matrix() {
        let n = 6;
        let mut m = Symmetric::zeros(n);
        for (i, w) in [1.0, 0.5, 2.0, 0.1].iter().enumerate() {
            let x: Vec<f64> = (0..n).map(|k| ((k * 7 + i * 3) % 5) as f64 - 2.0).collect();
            m.add_outer(&x, *w);
        }
        let eigen = Eigen::of(&m);
        assert!(eigen.values.windows(2).all(|w| w[0] >= w[1]));
        for j in 0..n {
            for i in 0..n {
                let av: f64 = (0..n)
                    .map(|k| m.values[i * n + k] * eigen.vectors[k * n + j])
                    .sum();
                assert!((av - eigen.values[j] * eigen.vectors[i * n + j]).abs() < 1e-9);
            }
        }
        let trace: f64 = (0..n).map(|i| m.values[i * n + i]).sum();
        assert!((eigen.values.iter().sum::<f64>() - trace).abs() < 1e-9);
    }
}
