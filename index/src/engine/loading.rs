//! Start-up: an index for every gallery, reloaded from its dump when there is one and brought up to date with
//! the store (the source of truth), otherwise read from the store.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::EngineCore;
use super::dump;
use super::gallery::{Gallery, GalleryIndex};
use super::memory_keys;
use crate::store::{GalleryRow, ReadTransaction};
use crate::vector_index::IndexKind;
use crate::{GalleryError, engines};

/// Vectors read from the store per parallel insert while replaying.
const REPLAY_BATCH: usize = 4096;

/// How a gallery's index was obtained at start-up.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexOrigin {
    /// A small gallery, read from the store into an exact index.
    Scanned,
    /// Reloaded from its dump, then brought up to date with the store.
    Reloaded {
        replayed_inserts: usize,
        replayed_removals: usize,
    },
    /// A large gallery without a usable dump: searched exactly until its index is built in the background.
    AwaitingBuild { reason: String },
}

#[derive(Debug, Clone)]
pub struct GalleryStartup {
    pub app: String,
    pub gallery: String,
    pub templates: u64,
    pub origin: IndexOrigin,
    pub elapsed: Duration,
}

/// What [`crate::GalleryEngine::open`] did, gallery by gallery.
#[derive(Debug, Clone, Default)]
pub struct StartupReport {
    pub galleries: Vec<GalleryStartup>,
    pub elapsed: Duration,
}

impl EngineCore {
    pub(crate) fn load_gallery(
        &self,
        snapshot: &dyn ReadTransaction,
        row: GalleryRow,
    ) -> Result<Gallery, GalleryError> {
        let started = Instant::now();
        let (count, max_seq) = snapshot.gallery_extent(row.id)?;
        let gallery = Gallery::new(row, self.new_empty_index());
        let dir = dump::gallery_dir(&self.indexes_dir, gallery.row.id);
        let origin = if self.kind_for(count as usize) == IndexKind::Exact {
            dump::remove_dump(&dir);
            IndexOrigin::Scanned
        } else {
            match self.reload_dump(snapshot, &gallery, count, max_seq) {
                Ok((index, replayed_inserts, replayed_removals)) => {
                    *gallery.index.write() = index;
                    let replayed = (replayed_inserts + replayed_removals) as u64;
                    if replayed > 0 {
                        gallery.undumped.lock().record(replayed);
                    }
                    IndexOrigin::Reloaded {
                        replayed_inserts,
                        replayed_removals,
                    }
                }
                Err(reason) => {
                    tracing::warn!(gallery = %gallery.row.name, %reason, "saved index not usable; searching exactly until it is rebuilt");
                    IndexOrigin::AwaitingBuild { reason }
                }
            }
        };
        if !matches!(origin, IndexOrigin::Reloaded { .. })
            && let Some(index) =
                self.build_index(snapshot, &gallery, IndexKind::Exact, count as usize)?
        {
            *gallery.index.write() = index;
        }
        if self.feed.is_some() {
            *gallery.keys.write() = memory_keys::load(snapshot, &gallery.row)?;
        }
        let report = GalleryStartup {
            app: gallery.row.app.clone(),
            gallery: gallery.row.name.clone(),
            templates: count,
            origin,
            elapsed: started.elapsed(),
        };
        tracing::info!(
            app = %report.app,
            gallery = %report.gallery,
            templates = count,
            origin = ?report.origin,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "gallery index loaded"
        );
        self.startup.lock().galleries.push(report);
        Ok(gallery)
    }

    /// The gallery's saved index brought up to date with the store, with the number of inserts and removals that
    /// took; or why the save cannot be used.
    fn reload_dump(
        &self,
        snapshot: &dyn ReadTransaction,
        gallery: &Gallery,
        count: u64,
        max_seq: u64,
    ) -> Result<(GalleryIndex, usize, usize), String> {
        let dir = dump::gallery_dir(&self.indexes_dir, gallery.row.id);
        let manifest = dump::read_manifest(&dir);
        // Whatever the manifest does not name is a crashed save's or an earlier process's (the f32 copies a
        // live index appends to), and can be large.
        dump::remove_stray_files(&dir, manifest.as_ref().ok().and_then(Option::as_ref));
        let manifest = match manifest {
            Ok(Some(manifest)) => manifest,
            Ok(None) => return Err("no dump".into()),
            Err(e) => return Err(e.to_string()),
        };
        if manifest.gallery_id != gallery.row.id
            || manifest.model != self.config.model
            || manifest.dimension != self.config.dimension
        {
            return Err(format!(
                "the dump is of gallery {} with {}-dimensional '{}' templates",
                manifest.gallery_id, manifest.dimension, manifest.model
            ));
        }
        let kind = IndexKind::parse(&manifest.engine)
            .ok_or_else(|| format!("the dump is of an unknown engine {:?}", manifest.engine))?;
        let mut index = engines::restore(
            kind,
            &dir,
            &manifest.saved.basename,
            self.config.dimension,
            &self.config.index,
        )
        .map_err(|e| e.to_string())?;
        if index.len() as u64 != manifest.template_count {
            return Err(format!(
                "the dump holds {} templates but its manifest says {}",
                index.len(),
                manifest.template_count
            ));
        }
        if (manifest.last_seq, manifest.template_count) == (max_seq, count) {
            return Ok((index, 0, 0));
        }

        // The store moved on after the dump (changes since the last checkpoint, or a crash): replay the difference.
        let error = |e: GalleryError| e.to_string();
        let in_store = snapshot.gallery_seqs(gallery.row.id).map_err(error)?;
        let in_index: HashSet<u64> = index.keys().into_iter().collect();
        let store_set: HashSet<u64> = in_store.iter().copied().collect();
        let removals: Vec<u64> = in_index.difference(&store_set).copied().collect();
        let inserts: Vec<u64> = in_store
            .into_iter()
            .filter(|seq| !in_index.contains(seq))
            .collect();
        if inserts.len() + removals.len() > (count as usize).max(1) / 2 {
            return Err(format!(
                "the dump is {} inserts and {} removals behind the store",
                inserts.len(),
                removals.len()
            ));
        }
        for seq in &removals {
            index.remove(*seq);
        }
        for chunk in inserts.chunks(REPLAY_BATCH) {
            let vectors = snapshot
                .vectors_by_seq(gallery.row.id, chunk)
                .map_err(error)?;
            let items: Vec<(u64, &[f32])> = vectors
                .iter()
                .map(|v| (v.seq, v.embedding.as_slice()))
                .collect();
            self.build_pool.install(|| index.insert_batch(&items));
        }
        tracing::info!(
            gallery = %gallery.row.name,
            inserts = inserts.len(),
            removals = removals.len(),
            "saved index was behind the store; replayed the difference"
        );
        Ok((index, inserts.len(), removals.len()))
    }

    /// Removes dumps of galleries that no longer exist.
    pub(crate) fn remove_orphan_dumps(&self, galleries: &[GalleryRow]) {
        let Ok(entries) = std::fs::read_dir(&self.indexes_dir) else {
            return;
        };
        let live: HashSet<String> = galleries
            .iter()
            .map(|row| format!("gallery-{}", row.id))
            .collect();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("gallery-") && !live.contains(&name) {
                dump::remove_dump(&entry.path());
            }
        }
    }
}
