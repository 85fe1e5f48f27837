//! SQLite transactions behind the store traits: a pooled reader inside `BEGIN` (a snapshot from its first read),
//! and the writer connection inside `BEGIN IMMEDIATE`, rolled back when dropped uncommitted.

use std::ops::Deref;

use parking_lot::MutexGuard;
use rusqlite::Connection;
use uuid::Uuid;

use super::{SqliteStore, queries};
use crate::store::{
    GalleryRow, ReadTransaction, StoredModel, StoredVector, TemplateKey, WriteTransaction,
};
use crate::{GalleryError, TemplateRecord};

pub(super) struct SqliteRead<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl<'a> SqliteRead<'a> {
    pub(super) fn begin(store: &'a SqliteStore, conn: Connection) -> Result<Self, GalleryError> {
        conn.execute_batch("BEGIN")?;
        Ok(SqliteRead {
            store,
            conn: Some(conn),
        })
    }
}

impl Deref for SqliteRead<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a reader until dropped")
    }
}

impl Drop for SqliteRead<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A reader that cannot end its transaction is not given back to the pool.
            if conn.execute_batch("COMMIT").is_ok() {
                self.store.give_back(conn);
            }
        }
    }
}

pub(super) struct SqliteWrite<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl<'a> SqliteWrite<'a> {
    pub(super) fn begin(conn: MutexGuard<'a, Connection>) -> Result<Self, GalleryError> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteWrite { conn, open: true })
    }
}

impl Deref for SqliteWrite<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for SqliteWrite<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(error) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(%error, "rolling back a template store transaction failed");
        }
    }
}

/// The read queries, for any connection-holding transaction.
macro_rules! read_queries {
    ($ty:ty) => {
        impl ReadTransaction for $ty {
            fn galleries(&self) -> Result<Vec<GalleryRow>, GalleryError> {
                queries::all_galleries(self)
            }

            fn find_gallery(
                &self,
                app: &str,
                name: &str,
            ) -> Result<Option<GalleryRow>, GalleryError> {
                queries::find_gallery(self, app, name)
            }

            fn stored_models(&self) -> Result<Vec<StoredModel>, GalleryError> {
                queries::stored_models(self)
            }

            fn find_seq(&self, gallery_id: i64, id: Uuid) -> Result<Option<u64>, GalleryError> {
                queries::find_seq(self, gallery_id, id)
            }

            fn get_template(
                &self,
                gallery: &GalleryRow,
                id: Uuid,
            ) -> Result<Option<TemplateRecord>, GalleryError> {
                queries::get_template(self, gallery, id)
            }

            fn templates_after(
                &self,
                gallery: &GalleryRow,
                after_seq: u64,
                limit: usize,
            ) -> Result<Vec<(u64, TemplateRecord)>, GalleryError> {
                queries::templates_after(self, gallery, after_seq, limit)
            }

            fn template_keys(
                &self,
                gallery_id: i64,
                seqs: &[u64],
            ) -> Result<Vec<Option<TemplateKey>>, GalleryError> {
                seqs.iter()
                    .map(|&seq| queries::template_key(self, gallery_id, seq))
                    .collect()
            }

            fn vectors_after(
                &self,
                gallery_id: i64,
                after_seq: u64,
                limit: usize,
            ) -> Result<Vec<StoredVector>, GalleryError> {
                queries::vectors_after(self, gallery_id, after_seq, limit)
            }

            fn vectors_by_seq(
                &self,
                gallery_id: i64,
                seqs: &[u64],
            ) -> Result<Vec<StoredVector>, GalleryError> {
                let mut found = Vec::with_capacity(seqs.len());
                for &seq in seqs {
                    if let Some(embedding) = queries::vector_by_seq(self, gallery_id, seq)? {
                        found.push(StoredVector { seq, embedding });
                    }
                }
                Ok(found)
            }

            fn gallery_seqs(&self, gallery_id: i64) -> Result<Vec<u64>, GalleryError> {
                queries::gallery_seqs(self, gallery_id)
            }

            fn gallery_extent(&self, gallery_id: i64) -> Result<(u64, u64), GalleryError> {
                queries::gallery_extent(self, gallery_id)
            }
        }
    };
}

read_queries!(SqliteRead<'_>);
read_queries!(SqliteWrite<'_>);

impl WriteTransaction for SqliteWrite<'_> {
    fn create_gallery(
        &mut self,
        app: &str,
        name: &str,
        model: &str,
        dimension: u32,
        created_at_ms: i64,
    ) -> Result<GalleryRow, GalleryError> {
        queries::create_gallery(self, app, name, model, dimension, created_at_ms)
    }

    fn retag_empty_galleries(
        &mut self,
        model: &str,
        dimension: u32,
    ) -> Result<usize, GalleryError> {
        queries::retag_empty_galleries(self, model, dimension)
    }

    fn insert_template(
        &mut self,
        gallery_id: i64,
        template: &TemplateRecord,
    ) -> Result<u64, GalleryError> {
        queries::insert_template(self, gallery_id, template)
    }

    fn delete_template(&mut self, seq: u64) -> Result<(), GalleryError> {
        queries::delete_seq(self, seq)
    }

    fn delete_gallery(&mut self, gallery_id: i64) -> Result<u64, GalleryError> {
        queries::delete_gallery(self, gallery_id)
    }

    fn commit(mut self: Box<Self>) -> Result<(), GalleryError> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}
