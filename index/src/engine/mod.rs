//! The gallery engine: the store and one in-memory index per gallery, kept in step.
//!
//! Store first, index second: a write commits (and syncs) to the template store, then changes the index, in
//! commit order per gallery. A search therefore never sees a template the store has not committed, and it resolves every
//! answer against the store, which drops any template deleted since.

mod building;
mod consistency;
mod dump;
mod feed;
mod gallery;
mod loading;
mod maintenance;
mod memory_keys;
mod operations;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::store::sqlite::SqliteStore;
use crate::store::{TemplateStore, WriteTransaction};
use crate::vector_index::IndexKind;
use crate::{EngineConfig, GalleryError, GalleryStats, Hit, NewTemplate, TemplateRecord};
pub use consistency::IndexCheck;
use feed::FeedState;
pub use feed::FeedStatus;
use feed::follower::FeedWorker;
use gallery::Gallery;
pub use loading::{GalleryStartup, IndexOrigin, StartupReport};
use maintenance::MaintenanceWorker;

/// File name of the template store inside the data directory.
pub const STORE_FILE: &str = "faceserve.db";
/// Directory of the index dumps inside the data directory.
pub const INDEXES_DIR: &str = "indexes";

/// A gallery found by [`GalleryEngine::find`].
#[derive(Clone)]
pub struct GalleryHandle(Arc<Gallery>);

impl GalleryHandle {
    pub fn stats(&self) -> GalleryStats {
        self.0.stats()
    }
}

/// Galleries by application, then by name.
type Registry = HashMap<String, HashMap<String, Arc<Gallery>>>;

/// Galleries of templates with their indexes. Synchronous and thread-safe: share it as an `Arc` and call it from
/// blocking threads. Searches run in parallel; writes are serialised. Dropping it stops the background upkeep
/// (an index build in progress is abandoned; the next start rebuilds it).
pub struct GalleryEngine {
    core: Arc<EngineCore>,
    upkeep: Option<MaintenanceWorker>,
    follower: Option<FeedWorker>,
}

pub(crate) struct EngineCore {
    config: EngineConfig,
    store: Arc<dyn TemplateStore>,
    /// Held by every write from its transaction's start until its gallery's apply order is taken, so index
    /// changes happen in commit order; held by builds and checks for a moment with no change in flight.
    write_order: Mutex<()>,
    indexes_dir: PathBuf,
    galleries: RwLock<Registry>,
    total_templates: AtomicU64,
    /// Threads for index builds, kept apart from the callers' threads.
    build_pool: rayon::ThreadPool,
    shutting_down: AtomicBool,
    startup: Mutex<StartupReport>,
    /// The change feed of a store other servers write to; `None` for a store only this process writes.
    feed: Option<FeedState>,
}

impl GalleryEngine {
    /// Opens (or creates) the SQLite store `data_dir/faceserve.db`, then as [`Self::open_with_store`].
    pub fn open(config: EngineConfig) -> Result<Self, GalleryError> {
        let store = open_sqlite(&config.data_dir)?;
        Self::open_with_store(config, Arc::new(store))
    }

    /// Loads every gallery's index from `store` (reloading dumps from `data_dir/indexes/` and replaying what they
    /// miss), and starts the background upkeep. On a store with a change feed (shared by several servers), also
    /// keeps every template's id and metadata in memory and starts following the feed.
    ///
    /// Fails with `ModelMismatch` when the store holds templates of another recognizer than `config.model`.
    pub fn open_with_store(
        config: EngineConfig,
        store: Arc<dyn TemplateStore>,
    ) -> Result<Self, GalleryError> {
        let core = Arc::new(EngineCore::open(config, store)?);
        let upkeep = match core.config.index.maintenance_interval {
            Some(interval) => Some(MaintenanceWorker::start(core.clone(), interval)?),
            None => None,
        };
        let follower = match core.feed {
            Some(_) => Some(FeedWorker::start(core.clone())?),
            None => None,
        };
        Ok(GalleryEngine {
            core,
            upkeep,
            follower,
        })
    }

    /// Stores a template (synced to disk before this returns) and adds it to its gallery's index, creating the
    /// gallery on its first template. With `replace`, an existing template of the same id is swapped for the new
    /// one in one transaction; without it, an existing id fails with `TemplateExists`.
    pub fn add(&self, template: NewTemplate) -> Result<TemplateRecord, GalleryError> {
        self.core.add(template)
    }

    /// The `k` templates most similar to `query` (an L2-normalised embedding), best first.
    pub fn search(
        &self,
        app: &str,
        gallery: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, GalleryError> {
        let query = self.core.check_query(query, k)?;
        let gallery = self.core.gallery(app, gallery)?;
        self.core.search(&gallery, &query, k)
    }

    /// The gallery, looked up once for a request that refuses a missing gallery before its models run and
    /// searches it afterwards ([`Self::search_in`]).
    pub fn find(&self, app: &str, gallery: &str) -> Result<GalleryHandle, GalleryError> {
        self.core.gallery(app, gallery).map(GalleryHandle)
    }

    /// As [`Self::search`], in a gallery found before; `GalleryNotFound` if it was deleted meanwhile.
    pub fn search_in(
        &self,
        gallery: &GalleryHandle,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, GalleryError> {
        let query = self.core.check_query(query, k)?;
        if gallery.0.is_deleted() {
            return Err(GalleryError::GalleryNotFound {
                gallery: gallery.0.row.name.clone(),
            });
        }
        self.core.search(&gallery.0, &query, k)
    }

    pub fn get(&self, app: &str, gallery: &str, id: Uuid) -> Result<TemplateRecord, GalleryError> {
        self.core.get(app, gallery, id)
    }

    /// Deletes a template from the store (synced) and its index. The gallery stays, even when left empty.
    pub fn delete(&self, app: &str, gallery: &str, id: Uuid) -> Result<(), GalleryError> {
        self.core.delete(app, gallery, id)
    }

    /// One page of a gallery's templates in enrolment order, and the token of the next page (None on the last).
    /// Templates added while paging appear on later pages; every template present throughout is listed once.
    pub fn list(
        &self,
        app: &str,
        gallery: &str,
        page_token: Option<&str>,
        page_size: usize,
    ) -> Result<(Vec<TemplateRecord>, Option<String>), GalleryError> {
        self.core.list(app, gallery, page_token, page_size)
    }

    /// Deletes a gallery with all its templates; returns how many it held.
    pub fn delete_gallery(&self, app: &str, gallery: &str) -> Result<u64, GalleryError> {
        self.core.delete_gallery(app, gallery)
    }

    pub fn stats(&self, app: &str, gallery: &str) -> Result<GalleryStats, GalleryError> {
        Ok(self.core.gallery(app, gallery)?.stats())
    }

    /// Every gallery of an application, by name.
    pub fn galleries(&self, app: &str) -> Result<Vec<GalleryStats>, GalleryError> {
        let galleries: Vec<Arc<Gallery>> = self
            .core
            .galleries
            .read()
            .get(app)
            .map(|by_name| by_name.values().cloned().collect())
            .unwrap_or_default();
        let by_name: BTreeMap<String, GalleryStats> = galleries
            .iter()
            .map(|g| (g.row.name.clone(), g.stats()))
            .collect();
        Ok(by_name.into_values().collect())
    }

    /// Templates in all galleries of all applications.
    pub fn total_templates(&self) -> u64 {
        self.core.total_templates.load(Ordering::Relaxed)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.core.config
    }

    /// The template store the engine runs on.
    pub fn store(&self) -> &Arc<dyn TemplateStore> {
        &self.core.store
    }

    /// How each gallery's index was obtained when the engine opened, and how long that took.
    pub fn startup_report(&self) -> StartupReport {
        self.core.startup.lock().clone()
    }

    /// Does now what the background upkeep does periodically: builds approximate indexes for galleries that
    /// outgrew exact search (and the reverse), rebuilds those with too many deleted entries, and saves changed ones.
    /// Returns the first error, after trying every gallery.
    pub fn run_maintenance(&self) -> Result<(), GalleryError> {
        self.core.run_maintenance()
    }

    /// Rebuilds a gallery's index from the store now (the engine its size calls for), dropping its tombstones.
    /// Searches and writes go on meanwhile.
    pub fn rebuild_index(&self, app: &str, gallery: &str) -> Result<(), GalleryError> {
        let gallery = self.core.gallery(app, gallery)?;
        let live = gallery.index.read().len();
        self.core.rebuild(&gallery, self.core.kind_for(live))
    }

    /// Compares a gallery's index with the store (briefly holding up writes).
    pub fn verify_index(&self, app: &str, gallery: &str) -> Result<IndexCheck, GalleryError> {
        self.core.verify_index(app, gallery)
    }

    /// Saves every index that has changes its save lacks, so the next start replays nothing. Worth calling on a
    /// graceful shutdown.
    pub fn checkpoint(&self) -> Result<(), GalleryError> {
        self.core.checkpoint_all()
    }
}

impl Drop for GalleryEngine {
    fn drop(&mut self) {
        self.core.shutting_down.store(true, Ordering::Release);
        drop(self.follower.take());
        drop(self.upkeep.take());
    }
}

impl EngineCore {
    fn open(config: EngineConfig, store: Arc<dyn TemplateStore>) -> Result<Self, GalleryError> {
        let started = Instant::now();
        if config.model.is_empty() || config.dimension == 0 {
            return Err(GalleryError::InvalidArgument(
                "the engine needs a recognizer name and a non-zero embedding dimension".into(),
            ));
        }
        config
            .index
            .check()
            .map_err(GalleryError::InvalidArgument)?;
        let indexes_dir = config.data_dir.join(INDEXES_DIR);
        std::fs::create_dir_all(&indexes_dir).map_err(|e| {
            GalleryError::Storage(format!(
                "cannot create data directory {}: {e}",
                indexes_dir.display()
            ))
        })?;
        let rows = {
            let mut tx = store.write()?;
            check_stored_models(&*tx, &config)?;
            let retagged = tx.retag_empty_galleries(&config.model, config.dimension as u32)?;
            let rows = tx.galleries()?;
            tx.commit()?;
            if retagged > 0 {
                tracing::info!(galleries = retagged, model = %config.model, "empty galleries now hold this recognizer");
            }
            rows
        };
        let threads = match config.index.build_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let build_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("faceserve-index-build-{i}"))
            .build()
            .map_err(|e| GalleryError::Storage(format!("cannot start index build threads: {e}")))?;

        let mut core = EngineCore {
            config,
            store,
            write_order: Mutex::new(()),
            indexes_dir,
            galleries: RwLock::new(Registry::new()),
            total_templates: AtomicU64::new(0),
            build_pool,
            shutting_down: AtomicBool::new(false),
            startup: Mutex::new(StartupReport::default()),
            feed: None,
        };
        core.feed = FeedState::join(&*core.store)?;
        core.remove_orphan_dumps(&rows);
        let snapshot = core.store.read()?;
        let head = snapshot.feed_head()?.unwrap_or(0);
        for row in rows {
            let gallery = core.load_gallery(&*snapshot, row)?;
            let templates = gallery.index.read().len() as u64;
            core.total_templates.fetch_add(templates, Ordering::Relaxed);
            core.register(gallery);
        }
        drop(snapshot);
        if let Some(feed) = &core.feed {
            feed.start_at(head);
        }
        let elapsed = started.elapsed();
        core.startup.lock().elapsed = elapsed;
        tracing::info!(
            galleries = core.startup.lock().galleries.len(),
            templates = core.total_templates.load(Ordering::Relaxed),
            elapsed_ms = elapsed.as_millis() as u64,
            "gallery engine started"
        );
        Ok(core)
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    fn gallery(&self, app: &str, name: &str) -> Result<Arc<Gallery>, GalleryError> {
        self.galleries
            .read()
            .get(app)
            .and_then(|by_name| by_name.get(name))
            .cloned()
            .ok_or_else(|| GalleryError::GalleryNotFound {
                gallery: name.to_string(),
            })
    }

    fn register(&self, gallery: Gallery) -> Arc<Gallery> {
        let gallery = Arc::new(gallery);
        self.galleries
            .write()
            .entry(gallery.row.app.clone())
            .or_default()
            .insert(gallery.row.name.clone(), gallery.clone());
        gallery
    }

    fn unregister(&self, app: &str, name: &str) -> Option<Arc<Gallery>> {
        let mut galleries = self.galleries.write();
        let by_name = galleries.get_mut(app)?;
        let removed = by_name.remove(name);
        if by_name.is_empty() {
            galleries.remove(app);
        }
        removed
    }

    fn new_empty_index(&self) -> gallery::GalleryIndex {
        crate::engines::new_index(
            IndexKind::Exact,
            self.config.dimension,
            &self.config.index,
            0,
            &self.indexes_dir,
        )
    }
}

/// Refuses a store whose templates another recognizer made: their similarities to new faces would be noise.
fn check_stored_models(
    tx: &dyn WriteTransaction,
    config: &EngineConfig,
) -> Result<(), GalleryError> {
    for stored in tx.stored_models()? {
        let (model, dimension, count) = (stored.model, stored.dimension, stored.templates);
        if model != config.model {
            tracing::error!(stored = %model, templates = count, configured = %config.model, "recognizer mismatch");
            return Err(GalleryError::ModelMismatch {
                stored: model,
                configured: config.model.clone(),
            });
        }
        if dimension as usize != config.dimension {
            return Err(GalleryError::DimensionMismatch {
                expected: config.dimension,
                actual: dimension as usize,
            });
        }
    }
    Ok(())
}

/// The SQLite store of a data directory, created with the directory when missing.
pub fn open_sqlite(data_dir: &std::path::Path) -> Result<SqliteStore, GalleryError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        GalleryError::Storage(format!(
            "cannot create data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    SqliteStore::open(&data_dir.join(STORE_FILE))
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
