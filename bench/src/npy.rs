//! Minimal `.npy` (NumPy format 1.0) reading and writing for little-endian f32 matrices and i32 vectors, so the
//! vectors a benchmark uses can be fed unchanged to the Python libraries it is compared with.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, bail};

const MAGIC: &[u8] = b"\x93NUMPY\x01\x00";

fn write_array(path: &Path, descr: &str, shape: &str, data: &[u8]) -> anyhow::Result<()> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // The header is padded with spaces to a multiple of 64 bytes and ends with a newline.
    let unpadded = MAGIC.len() + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    file.write_all(MAGIC)?;
    file.write_all(&(header.len() as u16).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    file.write_all(data)?;
    file.flush()?;
    Ok(())
}

/// Writes `rows` x `cols` f32 values as `<f4` with shape (rows, cols).
pub fn write_f32_matrix(path: &Path, data: &[f32], cols: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        cols > 0 && data.len().is_multiple_of(cols),
        "data is not a whole number of rows"
    );
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_array(
        path,
        "<f4",
        &format!("({}, {cols})", data.len() / cols),
        &bytes,
    )
}

/// Writes an i32 vector as `<i4` with shape (n,).
pub fn write_i32_vector(path: &Path, data: &[i32]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_array(path, "<i4", &format!("({},)", data.len()), &bytes)
}

/// Reads an array of `descr`, returning its shape and raw little-endian bytes.
fn read_array(path: &Path, descr: &str) -> anyhow::Result<(Vec<usize>, Vec<u8>)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)?;
    if magic[..6] != MAGIC[..6] {
        bail!("{} is not a .npy file", path.display());
    }
    let header_len = if magic[6] == 1 {
        let mut n = [0u8; 2];
        file.read_exact(&mut n)?;
        u16::from_le_bytes(n) as usize
    } else {
        let mut n = [0u8; 4];
        file.read_exact(&mut n)?;
        u32::from_le_bytes(n) as usize
    };
    let mut header = vec![0u8; header_len];
    file.read_exact(&mut header)?;
    let header = String::from_utf8(header)?;
    if !header.contains(&format!("'descr': '{descr}'")) || header.contains("'fortran_order': True")
    {
        bail!(
            "{}: expected a C-order {descr} array, header {header}",
            path.display()
        );
    }
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .with_context(|| format!("{}: no shape in header", path.display()))?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().context("bad shape"))
        .collect::<anyhow::Result<_>>()?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)?;
    let expected: usize = shape.iter().product::<usize>() * 4;
    anyhow::ensure!(
        data.len() == expected,
        "{}: {} data bytes, shape needs {expected}",
        path.display(),
        data.len()
    );
    Ok((shape, data))
}

/// Reads a 2-D `<f4` array: (values, rows, cols).
pub fn read_f32_matrix(path: &Path) -> anyhow::Result<(Vec<f32>, usize, usize)> {
    let (shape, bytes) = read_array(path, "<f4")?;
    anyhow::ensure!(
        shape.len() == 2,
        "{}: expected 2 dimensions, got {shape:?}",
        path.display()
    );
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    Ok((values, shape[0], shape[1]))
}

/// Reads a 1-D `<i4` array.
pub fn read_i32_vector(path: &Path) -> anyhow::Result<Vec<i32>> {
    let (shape, bytes) = read_array(path, "<i4")?;
    anyhow::ensure!(
        shape.len() == 1,
        "{}: expected 1 dimension, got {shape:?}",
        path.display()
    );
    Ok(bytes
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes(b.try_into().unwrap()))
        .collect())
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
