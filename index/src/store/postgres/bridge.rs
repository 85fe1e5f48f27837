//! The bridge between the synchronous store traits and the async driver. The store owns a small tokio runtime that
//! drives the connections; a trait method runs its query future on it and waits, bounded by the query timeout.
//!
//! Two ways in, because of where the callers run. The engine calls the template store from blocking threads (tokio's
//! blocking pool, its upkeep and feed threads): there [`Bridge::block_on`] (`Handle::block_on`) runs a future that
//! borrows the transaction's connection. `Handle::block_on` panics inside an async task, and the authentication
//! layer reads the application registry from one, so [`Bridge::spawn_wait`] runs an owned future as a task of the
//! store's runtime and waits on a channel, which works from any thread.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::GalleryError;

pub(crate) struct Bridge {
    runtime: Runtime,
    /// The longest one call may take before it fails as unavailable.
    timeout: Duration,
    /// "host:port/database", for messages (never the password).
    pub target: String,
}

impl Bridge {
    pub(crate) fn new(timeout: Duration, target: String) -> Result<Self, GalleryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("faceserve-postgres")
            .enable_all()
            .build()
            .map_err(|e| {
                GalleryError::Storage(format!("cannot start the PostgreSQL runtime: {e}"))
            })?;
        Ok(Bridge {
            runtime,
            timeout,
            target,
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        self.runtime.handle()
    }

    /// Runs `future` to completion on the calling thread, which must not be running an async task.
    pub(crate) fn block_on<T>(
        &self,
        future: impl Future<Output = Result<T, GalleryError>>,
    ) -> Result<T, GalleryError> {
        let timeout = self.timeout;
        self.runtime
            .handle()
            .block_on(async { bounded(timeout, &self.target, future).await })
    }

    /// Runs `future` as a task of the store's runtime and waits for it; callable from any thread.
    pub(crate) fn spawn_wait<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T, GalleryError>> + Send + 'static,
    ) -> Result<T, GalleryError> {
        let (timeout, target) = (self.timeout, self.target.clone());
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = sender.send(bounded(timeout, &target, future).await);
        });
        receiver
            .recv()
            .map_err(|_| GalleryError::Unavailable("the PostgreSQL runtime stopped".into()))?
    }
}

async fn bounded<T>(
    timeout: Duration,
    target: &str,
    future: impl Future<Output = Result<T, GalleryError>>,
) -> Result<T, GalleryError> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| {
            Err(GalleryError::Unavailable(format!(
                "PostgreSQL at {target} did not answer within {} s",
                timeout.as_secs_f32()
            )))
        })
}

/// SQLSTATE classes and codes that mean "the server is not there (now)", not "the server refused this".
fn is_unreachable_code(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin / crash shutdown, cannot connect now
        || code == "53300" // too many connections
        || code == "55P03" // lock_timeout: another server holds the write lock too long
        || code == "25P03" // idle-in-transaction timeout
}

/// A driver error as a store error: unreachable servers and lost connections are `Unavailable`.
pub(crate) fn pg_error(target: &str, error: tokio_postgres::Error) -> GalleryError {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        if is_unreachable_code(code) {
            return GalleryError::Unavailable(format!("PostgreSQL at {target}: {}", db.message()));
        }
        return GalleryError::Storage(format!(
            "PostgreSQL at {target}: {} (SQLSTATE {code})",
            db.message()
        ));
    }
    let io = std::iter::successors(std::error::Error::source(&error), |e| e.source())
        .any(|e| e.is::<std::io::Error>());
    let text = error.to_string();
    if io
        || error.is_closed()
        || text.contains("connect")
        || text.contains("communicating")
        || text.contains("timeout")
    {
        return GalleryError::Unavailable(format!(
            "PostgreSQL at {target} cannot be reached: {error}"
        ));
    }
    GalleryError::Storage(format!("PostgreSQL at {target}: {error}"))
}

/// A pool error as a store error.
pub(crate) fn pool_error(target: &str, error: deadpool_postgres::PoolError) -> GalleryError {
    use deadpool_postgres::PoolError;
    match error {
        PoolError::Backend(e) => pg_error(target, e),
        PoolError::Timeout(_) => {
            GalleryError::Unavailable(format!("no connection to PostgreSQL at {target} in time"))
        }
        PoolError::Closed => GalleryError::Unavailable("the PostgreSQL pool is closed".into()),
        other => GalleryError::Storage(format!("PostgreSQL pool at {target}: {other}")),
    }
}
