//! Everything fetching a model file can fail with.

use std::path::Path;

use crate::convert::ConvertError;
use crate::onnx_patch::PatchError;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("model {0:?} is not in the manifest (known: {1})")]
    Unknown(String, String),
    #[error(
        "model {name:?} ({file}) is not available from a package registry (origin: {origin}); copy it into {models_dir} \
         or point --models-mirror at a folder that holds it (sha256 {sha256})"
    )]
    MirrorOnly {
        name: String,
        file: String,
        origin: String,
        models_dir: String,
        sha256: String,
    },
    #[error("{what} is missing and downloads are off (--no-fetch); put it into {dir}")]
    NetworkOff { what: String, dir: String },
    #[error("{what}: sha256 {actual} does not match the manifest's {expected}")]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("downloading {url}: {message}")]
    Download { url: String, message: String },
    #[error("{archive}: {message}")]
    Archive { archive: String, message: String },
    #[error("deriving {file} from model {name:?}: {source}")]
    Patch {
        name: String,
        file: String,
        source: PatchError,
    },
    #[error("converting model {name:?} from its original: {source}")]
    Convert { name: String, source: ConvertError },
    #[error("no ONNX Runtime wheel is listed for this machine ({0})")]
    UnsupportedMachine(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    }
}
