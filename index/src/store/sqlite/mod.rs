//! The embedded template store: SQLite in WAL mode with `synchronous=FULL`, so a template is on disk when its
//! transaction commits. One writer connection (writes are serialised); a pool of reader connections, which WAL
//! lets read a committed snapshot while the writer works. Applications live in their own file beside it
//! (`apps.db`), so `faceserve apps ...` can change them while a server runs.

mod apps;
pub(crate) mod codec;
mod queries;
mod schema;
mod transactions;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use super::{AppStore, ReadTransaction, TemplateStore, WriteTransaction};
use crate::GalleryError;
pub use apps::{APPS_FILE, SqliteAppStore};
use transactions::{SqliteRead, SqliteWrite};

/// How long a connection waits for another's lock (a WAL checkpoint, a second process) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating) a database for writing in WAL mode with every commit synced to disk.
pub(crate) fn open_durable(path: &Path) -> Result<Connection, GalleryError> {
    let conn = Connection::open(path)
        .map_err(|e| GalleryError::Storage(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let journal_mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(GalleryError::Storage(format!(
            "cannot switch {} to WAL mode (got {journal_mode})",
            path.display()
        )));
    }
    // FULL syncs the WAL on every commit: an acknowledged write survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    apps: Arc<SqliteAppStore>,
}

impl SqliteStore {
    /// Opens or creates the template store at `path` and the application registry `apps.db` beside it.
    pub fn open(path: &Path) -> Result<SqliteStore, GalleryError> {
        let mut writer = open_durable(path)?;
        schema::ensure_schema(&mut writer)?;
        let folder = path.parent().unwrap_or(Path::new("."));
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            apps: Arc::new(SqliteAppStore::open(folder)?),
        })
    }

    /// A read-only connection: from the pool, or a new one.
    fn reader(&self) -> Result<Connection, GalleryError> {
        if let Some(conn) = self.readers.lock().pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| GalleryError::Storage(format!("cannot open {}: {e}", self.path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        self.readers.lock().push(conn);
    }
}

impl TemplateStore for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }

    fn read(&self) -> Result<Box<dyn ReadTransaction + '_>, GalleryError> {
        Ok(Box::new(SqliteRead::begin(self, self.reader()?)?))
    }

    fn write(&self) -> Result<Box<dyn WriteTransaction + '_>, GalleryError> {
        Ok(Box::new(SqliteWrite::begin(self.writer.lock())?))
    }

    fn apps(&self) -> Arc<dyn AppStore> {
        self.apps.clone()
    }
}
