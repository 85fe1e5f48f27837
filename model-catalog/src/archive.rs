//! Reading one member out of a wheel or zip, or an sdist or npm tarball (tar.gz), and out of a zip held in memory.

use std::io::Read;
use std::path::Path;

use crate::error::{FetchError, io_error};

/// The bytes of `member` inside a `.whl`/`.zip` or `.tar.gz`/`.tgz` archive.
pub fn archive_member(archive: &Path, member: &str) -> Result<Vec<u8>, FetchError> {
    let name = archive.display().to_string();
    let fail = |message: String| FetchError::Archive {
        archive: name.clone(),
        message,
    };
    let file = std::fs::File::open(archive).map_err(io_error(archive))?;
    let mut out = Vec::new();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in tar.entries().map_err(|e| fail(e.to_string()))? {
            let mut entry = entry.map_err(|e| fail(e.to_string()))?;
            if entry.path().map_err(|e| fail(e.to_string()))?.as_os_str() == member {
                entry
                    .read_to_end(&mut out)
                    .map_err(|e| fail(e.to_string()))?;
                return Ok(out);
            }
        }
        Err(fail(format!("no member {member}")))
    } else {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| fail(e.to_string()))?;
        let mut entry = zip
            .by_name(member)
            .map_err(|e| fail(format!("{member}: {e}")))?;
        entry
            .read_to_end(&mut out)
            .map_err(|e| fail(e.to_string()))?;
        Ok(out)
    }
}

/// The bytes of `member` inside the zip `bytes` (a member that is itself a zip, like MediaPipe's `.task`).
pub fn zip_member(bytes: &[u8], member: &str, what: &str) -> Result<Vec<u8>, FetchError> {
    let fail = |message: String| FetchError::Archive {
        archive: what.to_string(),
        message,
    };
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| fail(e.to_string()))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| fail(format!("{member}: {e}")))?;
    let mut out = Vec::new();
    entry
        .read_to_end(&mut out)
        .map_err(|e| fail(e.to_string()))?;
    Ok(out)
}
