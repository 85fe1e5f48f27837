//! The durable template store: SQLite in WAL mode with `synchronous=FULL`, so a template is on disk when its
//! transaction commits. One writer connection (writes are serialised); a pool of reader connections, which WAL
//! lets read a committed snapshot while the writer works.

mod codec;
mod schema;
pub(crate) mod templates;

use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use rusqlite::{Connection, OpenFlags};

use crate::GalleryError;

pub(crate) use templates::GalleryRow;

/// How long a connection waits for another's lock (a WAL checkpoint, a second process) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens or creates the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Store, GalleryError> {
        let mut writer = Connection::open(path)
            .map_err(|e| GalleryError::Storage(format!("cannot open {}: {e}", path.display())))?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        let journal_mode: String =
            writer.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(GalleryError::Storage(format!(
                "cannot switch {} to WAL mode (got {journal_mode})",
                path.display()
            )));
        }
        // FULL syncs the WAL on every commit: an acknowledged template survives a power cut.
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "foreign_keys", "ON")?;
        schema::ensure_schema(&mut writer)?;
        Ok(Store {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The writer connection. Holding it serialises writes; the engine holds it until the in-memory index
    /// reflects the write too, so index changes happen in commit order.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock()
    }

    /// Runs `read` on a pooled reader connection, which sees every commit made before the call.
    pub(crate) fn read<R>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, GalleryError>,
    ) -> Result<R, GalleryError> {
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let result = read(&conn);
        self.readers.lock().push(conn);
        result
    }

    /// A dedicated read-only connection, for long reads (index builds) that should not hold a pooled one.
    pub(crate) fn open_reader(&self) -> Result<Connection, GalleryError> {
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
}
