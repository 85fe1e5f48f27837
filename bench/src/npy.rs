//! `.npy` files of f32 matrices and i32 vectors (through `ndarray-npy`), so the vectors a benchmark uses can be
//! fed unchanged to the Python libraries it is compared with.

use std::path::Path;

use anyhow::Context;
use ndarray::{Array1, Array2};
use ndarray_npy::{read_npy, write_npy};

/// Writes `rows` x `cols` f32 values with shape (rows, cols).
pub fn write_f32_matrix(path: &Path, data: &[f32], cols: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        cols > 0 && data.len().is_multiple_of(cols),
        "data is not a whole number of rows"
    );
    let matrix = Array2::from_shape_vec((data.len() / cols, cols), data.to_vec())?;
    write_npy(path, &matrix).with_context(|| format!("writing {}", path.display()))
}

/// Writes an i32 vector with shape (n,).
pub fn write_i32_vector(path: &Path, data: &[i32]) -> anyhow::Result<()> {
    write_npy(path, &Array1::from(data.to_vec()))
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a 2-D f32 array: (values, rows, cols).
pub fn read_f32_matrix(path: &Path) -> anyhow::Result<(Vec<f32>, usize, usize)> {
    let matrix: Array2<f32> =
        read_npy(path).with_context(|| format!("reading {} as an f32 matrix", path.display()))?;
    let (rows, cols) = matrix.dim();
    let (values, _) = matrix.into_raw_vec_and_offset();
    Ok((values, rows, cols))
}

/// Reads a 1-D i32 array.
pub fn read_i32_vector(path: &Path) -> anyhow::Result<Vec<i32>> {
    let vector: Array1<i32> =
        read_npy(path).with_context(|| format!("reading {} as an i32 vector", path.display()))?;
    Ok(vector.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.npy");
        write_f32_matrix(&m, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3).unwrap();
        assert_eq!(
            read_f32_matrix(&m).unwrap(),
            (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)
        );
        let v = dir.path().join("v.npy");
        write_i32_vector(&v, &[7, -1]).unwrap();
        assert_eq!(read_i32_vector(&v).unwrap(), vec![7, -1]);
        // Header plus magic is a multiple of 64 bytes, as NumPy requires.
        let bytes = std::fs::read(&m).unwrap();
        assert_eq!((bytes.len() - 24) % 64, 0);
    }
}
