//! Saved indexes on disk: `indexes/gallery-<id>/` holds the files an index engine saved and `manifest.json`, which
//! names the engine and its files and says which store state they reflect. The manifest is written last and
//! atomically (temporary file, fsync, rename), so it is the commit point: a crash mid-save leaves the previous save
//! in force. Which files an engine writes is its own business ([`crate::VectorIndex::persist`]).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::now_ms;
use crate::GalleryError;
use crate::vector_index::{SavedFiles, VectorIndex};

const MANIFEST: &str = "manifest.json";
/// 2: any engine, its files listed (1 was HNSW only, with the tombstones in the manifest; such a dump is rebuilt).
const MANIFEST_FORMAT: u32 = 2;
/// Makes basenames unique within a millisecond: a save must never write over the files of the current one.
static DUMP_COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DumpManifest {
    pub format: u32,
    pub gallery_id: i64,
    pub model: String,
    pub dimension: usize,
    /// The engine that saved the files (`IndexKind::as_str`).
    pub engine: String,
    pub saved: SavedFiles,
    /// The highest live key (store sequence number) and the live count when dumped. Sequence numbers only
    /// grow, so a store showing the same pair still holds exactly the dumped templates.
    pub last_seq: u64,
    pub template_count: u64,
    pub dumped_at_ms: i64,
    /// On a store with a change feed: every change up to this one is in the saved index (later ones may be too).
    #[serde(default)]
    pub feed_seq: Option<u64>,
}

pub(crate) fn gallery_dir(indexes_dir: &Path, gallery_id: i64) -> PathBuf {
    indexes_dir.join(format!("gallery-{gallery_id}"))
}

/// Saves `index` and makes the save current; returns its manifest.
pub(crate) fn write_dump(
    dir: &Path,
    gallery_id: i64,
    model: &str,
    index: &dyn VectorIndex,
    feed_seq: Option<u64>,
) -> Result<DumpManifest, GalleryError> {
    fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
    let previous = read_manifest(dir).ok().flatten();
    let basename = format!(
        "index-{}-{}",
        now_ms(),
        DUMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let saved = index
        .persist(dir, &basename)
        .map_err(|e| GalleryError::Storage(e.to_string()))?;
    let keys = index.keys();
    let manifest = DumpManifest {
        format: MANIFEST_FORMAT,
        gallery_id,
        model: model.to_string(),
        dimension: index.dimension(),
        engine: index.kind().as_str().to_string(),
        saved,
        last_seq: keys.iter().copied().max().unwrap_or(0),
        template_count: keys.len() as u64,
        dumped_at_ms: now_ms(),
        feed_seq,
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
    if let Some(previous) = previous {
        for file in &previous.saved.files {
            if !manifest.saved.files.contains(file) {
                let _ = fs::remove_file(dir.join(file));
            }
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

/// Removes what a crashed save left behind: every file the manifest does not name.
pub(crate) fn remove_stray_files(dir: &Path, manifest: Option<&DumpManifest>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let keep: &[String] = manifest.map_or(&[], |m| m.saved.files.as_slice());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != MANIFEST && !keep.contains(&name) {
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

fn sync_file(path: &Path) -> Result<(), GalleryError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("syncing", path, e))
}

fn io_error(action: &str, path: &Path, error: std::io::Error) -> GalleryError {
    GalleryError::Storage(format!("{action} {}: {error}", path.display()))
}
