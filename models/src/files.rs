//! Verified files: sha256 of bytes and files, and writing a file into place only once its content is right.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{FetchError, io_error};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Whether `path` exists with the expected content. A file with other content is reported and removed.
pub(crate) fn verified(path: &Path, sha256: &str) -> Result<bool, FetchError> {
    if !path.is_file() {
        return Ok(false);
    }
    let actual = sha256_file(path)?;
    if actual == sha256 {
        return Ok(true);
    }
    tracing::warn!(path = %path.display(), %actual, expected = sha256, "sha256 mismatch: fetching the file again");
    std::fs::remove_file(path).map_err(io_error(path))?;
    Ok(false)
}

/// Writes `bytes` to `dest` if they hash to `sha256`, through a temporary file and a rename.
pub(crate) fn install(
    dest: &Path,
    bytes: &[u8],
    sha256: &str,
    what: &str,
) -> Result<(), FetchError> {
    let actual = sha256_hex(bytes);
    if actual != sha256 {
        return Err(FetchError::Checksum {
            what: what.to_string(),
            expected: sha256.to_string(),
            actual,
        });
    }
    let dir = dest.parent().expect("destination has a folder");
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    // Unique per process and call, so concurrent fetches (threads or processes) never share a temporary file.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.{}.{}.part",
        dest.file_name().unwrap().to_string_lossy(),
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, dest).map_err(io_error(dest))?;
    Ok(())
}
