//! Background upkeep of the indexes: switch a gallery between exact and approximate search as it grows or
//! shrinks, rebuild an index once too many of its entries are deleted, and save indexes that changed.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::EngineCore;
use super::gallery::Gallery;
use crate::GalleryError;
use crate::vector_index::IndexKind;

/// What a gallery's index needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upkeep {
    Build(IndexKind),
    Checkpoint,
}

impl EngineCore {
    /// Every gallery of every application, as they are now.
    fn all_galleries(&self) -> Vec<Arc<Gallery>> {
        self.galleries
            .read()
            .values()
            .flat_map(|by_name| by_name.values().cloned())
            .collect()
    }

    /// Does whatever upkeep every gallery needs now; returns the first error after trying them all.
    pub(crate) fn run_maintenance(&self) -> Result<(), GalleryError> {
        let galleries = self.all_galleries();
        let mut first_error = None;
        for gallery in galleries {
            if self.is_shutting_down() {
                break;
            }
            let result = match self.upkeep(&gallery) {
                Some(Upkeep::Build(kind)) => self.rebuild(&gallery, kind),
                Some(Upkeep::Checkpoint) => self.checkpoint_gallery(&gallery).map(drop),
                None => Ok(()),
            };
            if let Err(error) = result {
                tracing::error!(app = %gallery.row.app, gallery = %gallery.row.name, %error, "index upkeep failed");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn upkeep(&self, gallery: &Gallery) -> Option<Upkeep> {
        let config = &self.config.index;
        let index = gallery.index.read();
        // Grown past its engine's limit, shrunk well below it, or the engine changed in the settings.
        let wanted = self.kind_to_keep(index.len(), index.kind());
        if wanted != index.kind() {
            return Some(Upkeep::Build(wanted));
        }
        if index.tombstones() as f64
            > config.rebuild_tombstone_fraction as f64 * index.held() as f64
        {
            return Some(Upkeep::Build(wanted));
        }
        let undumped = gallery.undumped.lock();
        let due = undumped.changes >= config.checkpoint_after_changes
            || undumped
                .since
                .is_some_and(|since| since.elapsed() >= config.checkpoint_after);
        (due && index.persists()).then_some(Upkeep::Checkpoint)
    }

    /// Saves every index with changes its save lacks.
    pub(crate) fn checkpoint_all(&self) -> Result<(), GalleryError> {
        let galleries = self.all_galleries();
        for gallery in galleries {
            if gallery.undumped.lock().changes > 0 {
                self.checkpoint_gallery(&gallery)?;
            }
        }
        Ok(())
    }
}

/// The thread that runs [`EngineCore::run_maintenance`] periodically; stopped and joined on drop.
pub(crate) struct MaintenanceWorker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MaintenanceWorker {
    pub(crate) fn start(core: Arc<EngineCore>, interval: Duration) -> Result<Self, GalleryError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("faceserve-index-upkeep".into())
            .spawn(move || {
                loop {
                    // Errors are logged per gallery; the next round tries again.
                    let _ = core.run_maintenance();
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
            })
            .map_err(|e| {
                GalleryError::Storage(format!("cannot start the index upkeep thread: {e}"))
            })?;
        Ok(MaintenanceWorker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for MaintenanceWorker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
