//! HNSW dumps on disk: `indexes/gallery-<id>/` holds the hnsw_rs files and `manifest.json`, which names them
//! and says which store state they reflect. The manifest is written last and atomically (temporary file, fsync,
//! rename), so it is the commit point: a crash mid-dump leaves the previous dump in force.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::now_ms;
use crate::GalleryError;
use crate::hnsw::HnswIndex;
use crate::vector_index::VectorIndex;

const MANIFEST: &str = "manifest.json";
const MANIFEST_FORMAT: u32 = 1;
/// Suffixes of the files hnsw_rs writes for a basename.
const HNSW_SUFFIXES: [&str; 2] = [".hnsw.graph", ".hnsw.data"];
/// Makes basenames unique within a millisecond: a built graph's dump overwrites files of the same name, which
/// must never be the current dump's.
static DUMP_COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DumpManifest {
    pub format: u32,
    pub gallery_id: i64,
    pub model: String,
    pub dimension: usize,
    /// Basename of the hnsw_rs files.
    pub basename: String,
    /// The highest live key (store sequence number) and the live count when dumped. Sequence numbers only
    /// grow, so a store showing the same pair still holds exactly the dumped templates.
    pub last_seq: u64,
    pub template_count: u64,
    /// Deleted keys still in the graph.
    pub tombstones: Vec<u64>,
    pub dumped_at_ms: i64,
}

pub(crate) fn gallery_dir(indexes_dir: &Path, gallery_id: i64) -> PathBuf {
    indexes_dir.join(format!("gallery-{gallery_id}"))
}

/// Dumps `index` and makes the dump current; returns its manifest.
pub(crate) fn write_dump(
    dir: &Path,
    gallery_id: i64,
    model: &str,
    index: &HnswIndex,
) -> Result<DumpManifest, GalleryError> {
    fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
    let previous = read_manifest(dir).ok().flatten();
    let basename = index
        .dump(
            dir,
            &format!(
                "index-{}-{}",
                now_ms(),
                DUMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
        )
        .map_err(|e| GalleryError::Storage(e.to_string()))?;
    for path in hnsw_files(dir, &basename) {
        sync_file(&path)?;
    }
    let keys = index.keys();
    let manifest = DumpManifest {
        format: MANIFEST_FORMAT,
        gallery_id,
        model: model.to_string(),
        dimension: index.dimension(),
        basename,
        last_seq: keys.iter().copied().max().unwrap_or(0),
        template_count: keys.len() as u64,
        tombstones: index.tombstone_keys(),
        dumped_at_ms: now_ms(),
    };
    let temporary = dir.join(format!("{MANIFEST}.tmp"));
    let json = serde_json::to_vec(&manifest).expect("a manifest always serialises");
    File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(&json)?;
            file.sync_all()
        })
        .map_err(|e| io_error("writing", &temporary, e))?;
    fs::rename(&temporary, dir.join(MANIFEST)).map_err(|e| io_error("renaming", &temporary, e))?;
    sync_file(dir)?;
    if let Some(previous) = previous
        && previous.basename != manifest.basename
    {
        for path in hnsw_files(dir, &previous.basename) {
            let _ = fs::remove_file(path);
        }
    }
    Ok(manifest)
}

/// The current dump's manifest; None when there is no dump.
pub(crate) fn read_manifest(dir: &Path) -> Result<Option<DumpManifest>, GalleryError> {
    let path = dir.join(MANIFEST);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("reading", &path, e)),
    };
    let manifest: DumpManifest = serde_json::from_slice(&bytes).map_err(|e| {
        GalleryError::Storage(format!("{} is not a valid manifest: {e}", path.display()))
    })?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(GalleryError::Storage(format!(
            "{} has format {}, expected {MANIFEST_FORMAT}",
            path.display(),
            manifest.format
        )));
    }
    Ok(Some(manifest))
}

/// Removes files a crashed dump left behind: hnsw files the manifest does not name, a half-written manifest.
pub(crate) fn remove_stray_files(dir: &Path, manifest: Option<&DumpManifest>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let keep: Vec<String> = manifest
        .map(|m| {
            HNSW_SUFFIXES
                .iter()
                .map(|suffix| format!("{}{suffix}", m.basename))
                .collect()
        })
        .unwrap_or_default();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stray_dump =
            HNSW_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) && !keep.contains(&name);
        if stray_dump || name == format!("{MANIFEST}.tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Removes a gallery's dump directory (the gallery is gone or exactly searched).
pub(crate) fn remove_dump(dir: &Path) {
    if dir.exists()
        && let Err(e) = fs::remove_dir_all(dir)
    {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove an index dump");
    }
}

fn hnsw_files(dir: &Path, basename: &str) -> Vec<PathBuf> {
    HNSW_SUFFIXES
        .iter()
        .map(|suffix| dir.join(format!("{basename}{suffix}")))
        .collect()
}

fn sync_file(path: &Path) -> Result<(), GalleryError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("syncing", path, e))
}

fn io_error(action: &str, path: &Path, error: std::io::Error) -> GalleryError {
    GalleryError::Storage(format!("{action} {}: {error}", path.display()))
}
