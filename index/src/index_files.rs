//! The small file steps every saving engine shares: write a new file and sync it (never overwriting one, so a
//! save cannot damage the save in force), read one back, sync a folder so new names survive a crash.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::vector_index::IndexFileError;

/// Creates `path` (failing if it exists), writes `bytes` and syncs them.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), IndexFileError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(|e| io_error("writing", path, e))
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, IndexFileError> {
    std::fs::read(path).map_err(|e| io_error("reading", path, e))
}

/// Syncs a file written by someone else (a library's save).
pub(crate) fn sync(path: &Path) -> Result<(), IndexFileError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("syncing", path, e))
}

/// Syncs `dir` itself, so the files just created in it are found after a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), IndexFileError> {
    sync(dir)
}

/// `words` as little-endian bytes.
pub(crate) fn u64s_to_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

pub(crate) fn bytes_to_u64s(bytes: &[u8], path: &Path) -> Result<Vec<u64>, IndexFileError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(IndexFileError(format!(
            "{} is not a list of 64-bit words",
            path.display()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect())
}

pub(crate) fn io_error(action: &str, path: &Path, error: std::io::Error) -> IndexFileError {
    IndexFileError(format!("{action} {}: {error}", path.display()))
}
