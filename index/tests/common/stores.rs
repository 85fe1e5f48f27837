//! The template stores the contract tests run on: SQLite in a temporary folder, and PostgreSQL in a fresh database
//! of this test binary's throwaway server (`faceserve_index::store::postgres::throwaway`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faceserve_index::TemplateStore;
use faceserve_index::store::postgres::throwaway;
use faceserve_index::store::postgres::{PostgresOptions, PostgresStore};
use faceserve_index::store::sqlite::SqliteStore;

pub fn sqlite(dir: &Path) -> Arc<dyn TemplateStore> {
    Arc::new(SqliteStore::open(&dir.join("faceserve.db")).expect("SQLite store opens"))
}

/// A fresh database on the shared throwaway server; `None` (after a loud message) without PostgreSQL.
pub fn postgres_url() -> Option<String> {
    let server = throwaway::shared()?;
    Some(server.create_database("t").expect("a test database"))
}

/// Options for tests: a short poll interval so a lost announcement costs little.
pub fn options(url: &str, replica: &str) -> PostgresOptions {
    let mut options = PostgresOptions::new(url, replica);
    options.poll_interval = Duration::from_millis(200);
    options
}

pub fn postgres_at(url: &str, replica: &str) -> Arc<PostgresStore> {
    Arc::new(PostgresStore::open(&options(url, replica)).expect("PostgreSQL store opens"))
}

/// Runs each listed test body against SQLite and PostgreSQL: `fn name(store: Arc<dyn TemplateStore>, dir: &Path)`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = $crate::common::stores::sqlite(dir.path());
                    super::$name(store, dir.path());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let Some(url) = $crate::common::stores::postgres_url() else {
                        return;
                    };
                    let dir = tempfile::tempdir().unwrap();
                    let store: std::sync::Arc<dyn faceserve_index::TemplateStore> =
                        $crate::common::stores::postgres_at(&url, stringify!($name));
                    super::$name(store, dir.path());
                }
            )*
        }
    };
}
