//! The template store on PostgreSQL, shared by several servers: galleries, templates, applications and the change
//! feed in one database. `tokio-postgres` with a `deadpool` pool, TLS through rustls (ring), the schema in numbered
//! migrations applied at start ([`migrations`]). The traits are synchronous; a small runtime owned by the store drives
//! the async driver ([`bridge`]).

mod apps;
mod bridge;
mod feed;
mod listener;
mod migrations;
mod options;
mod queries;
pub mod throwaway;
mod transactions;
mod writes;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use super::{AppStore, ChangeFeed, ReadTransaction, TemplateStore, WriteTransaction};
use crate::GalleryError;
use apps::PgAppStore;
use bridge::{Bridge, pg_error, pool_error};
use feed::PgFeed;
use listener::{ListenerState, Wakeup};
pub use options::PostgresOptions;
use transactions::{PgRead, PgWrite};

pub struct PostgresStore {
    bridge: Arc<Bridge>,
    pool: Pool,
    apps: Arc<PgAppStore>,
    feed: Arc<PgFeed>,
    listener: Arc<ListenerState>,
}

impl PostgresStore {
    /// Connects (retrying for `connect_wait` while the database is unreachable), brings the schema up to date and
    /// starts listening for other servers' changes.
    pub fn open(options: &PostgresOptions) -> Result<PostgresStore, GalleryError> {
        let connection = options::connection(options)?;
        let target = connection.target.clone();
        let bridge = Arc::new(Bridge::new(options.query_timeout, target.clone())?);
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &connection.tls {
            Some(tls) => {
                Manager::from_config(connection.config.clone(), tls.clone(), manager_config)
            }
            None => Manager::from_config(
                connection.config.clone(),
                tokio_postgres::NoTls,
                manager_config,
            ),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.query_timeout))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| GalleryError::Storage(format!("PostgreSQL pool: {e}")))?;
        prepare_database(&bridge, &pool, options.connect_wait)?;

        let listener = Arc::new(ListenerState {
            wakeup: Wakeup::default(),
            apps_version: AtomicI64::new(0),
            connected: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        });
        bridge.handle().spawn(listener::listen(
            connection,
            listener.clone(),
            options.poll_interval,
        ));
        let apps = Arc::new(PgAppStore {
            bridge: bridge.clone(),
            pool: pool.clone(),
            listener: listener.clone(),
        });
        // The registry version before the listener's first read, so the first request already sees a current one.
        let version = bridge.block_on(async {
            let db = pool.get().await.map_err(|e| pool_error(&target, e))?;
            let row = db
                .query_one("SELECT version FROM apps_version", &[])
                .await
                .map_err(|e| pg_error(&target, e))?;
            Ok(row.get::<_, i64>(0))
        })?;
        listener.apps_version.store(version, Ordering::Release);
        let feed = Arc::new(PgFeed {
            bridge: bridge.clone(),
            pool: pool.clone(),
            listener: listener.clone(),
            poll_interval: options.poll_interval,
            replica_id: options.replica_id.clone(),
            replica_ttl: options.replica_ttl,
            min_log_retention: options.min_log_retention,
        });
        Ok(PostgresStore {
            bridge,
            pool,
            apps,
            feed,
            listener,
        })
    }

    /// Whether the store's own `LISTEN` connection is up (announcements arrive).
    pub fn listening(&self) -> bool {
        self.listener.connected.load(Ordering::Acquire)
    }
}

/// Waits for the database, then migrates it and checks it keeps commits durable.
fn prepare_database(bridge: &Bridge, pool: &Pool, wait: Duration) -> Result<(), GalleryError> {
    let target = &bridge.target;
    let started = Instant::now();
    let mut db = loop {
        match bridge.block_on(async { pool.get().await.map_err(|e| pool_error(target, e)) }) {
            Ok(db) => break db,
            Err(error) if error.is_unavailable() && started.elapsed() < wait => {
                tracing::warn!(%target, %error, "waiting for PostgreSQL");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(error) => return Err(error),
        }
    };
    bridge.block_on(async {
        migrations::migrate(&mut db, target).await?;
        let fsync = db
            .query_one("SHOW fsync", &[])
            .await
            .map_err(|e| pg_error(target, e))?;
        if fsync.get::<_, String>(0) != "on" {
            tracing::warn!(%target, "PostgreSQL runs with fsync = off: acknowledged templates can be lost in a crash");
        }
        Ok(())
    })
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.stopping.store(true, Ordering::Release);
    }
}

impl TemplateStore for PostgresStore {
    fn describe(&self) -> String {
        format!(
            "postgres {} (schema {})",
            self.bridge.target,
            migrations::latest()
        )
    }

    fn read(&self) -> Result<Box<dyn ReadTransaction + '_>, GalleryError> {
        Ok(Box::new(PgRead::begin(self)?))
    }

    fn write(&self) -> Result<Box<dyn WriteTransaction + '_>, GalleryError> {
        Ok(Box::new(PgWrite::begin(self)?))
    }

    fn apps(&self) -> Arc<dyn AppStore> {
        self.apps.clone()
    }

    fn feed(&self) -> Option<Arc<dyn ChangeFeed>> {
        Some(self.feed.clone())
    }
}
