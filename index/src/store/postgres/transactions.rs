//! PostgreSQL transactions behind the store traits. A read is a `REPEATABLE READ READ ONLY` transaction (one snapshot
//! from its first query). A write first locks the feed's row, which serialises writers of every server so change
//! sequence numbers are handed out in commit order; it commits with `synchronous_commit = on`, so an acknowledged
//! write is on the database's disk (and its synchronous standbys'). Dropped uncommitted, either is rolled back.

use deadpool_postgres::Object;
use uuid::Uuid;

use super::PostgresStore;
use super::queries::{self, Db};
use super::writes;
use crate::store::{
    FeedPosition, GalleryRow, ReadTransaction, StoredModel, StoredVector, TemplateKey,
    WriteTransaction,
};
use crate::{GalleryError, TemplateRecord};

/// Runs one query of `queries` on the transaction's connection and maps its error.
macro_rules! run {
    ($tx:expr, $query:ident ( $($arg:expr),* )) => {{
        let store = $tx.store;
        let db = $tx.db();
        store.bridge.block_on(async {
            queries::$query(db, $($arg),*)
                .await
                .map_err(|e| e.into_gallery(&store.bridge.target))
        })
    }};
}

/// Runs one statement of `writes` on the transaction's connection and maps its error.
macro_rules! write {
    ($tx:expr, $query:ident ( $($arg:expr),* )) => {{
        let store = $tx.store;
        let db = $tx.db();
        store.bridge.block_on(async {
            writes::$query(db, $($arg),*)
                .await
                .map_err(|e| e.into_gallery(&store.bridge.target))
        })
    }};
}

/// Takes a connection from the pool and runs `begin` on it.
fn begin(store: &PostgresStore, begin: &'static str) -> Result<Object, GalleryError> {
    let target = &store.bridge.target;
    store.bridge.block_on(async {
        let client = store
            .pool
            .get()
            .await
            .map_err(|e| super::bridge::pool_error(target, e))?;
        client
            .batch_execute(begin)
            .await
            .map_err(|e| super::bridge::pg_error(target, e))?;
        Ok(client)
    })
}

/// Ends a transaction with `sql`; a connection that cannot end it is closed rather than given back to the pool.
fn finish(store: &PostgresStore, client: Object, sql: &'static str) {
    let ended = store.bridge.block_on(async {
        client
            .batch_execute(sql)
            .await
            .map_err(|e| super::bridge::pg_error(&store.bridge.target, e))
    });
    if let Err(error) = ended {
        tracing::warn!(%error, "ending a PostgreSQL transaction failed; closing its connection");
        drop(Object::take(client));
    }
}

pub(super) struct PgRead<'a> {
    store: &'a PostgresStore,
    client: Option<Object>,
}

impl<'a> PgRead<'a> {
    pub(super) fn begin(store: &'a PostgresStore) -> Result<Self, GalleryError> {
        let client = begin(store, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        Ok(PgRead {
            store,
            client: Some(client),
        })
    }

    fn db(&self) -> Db<'_> {
        self.client.as_ref().expect("a connection until dropped")
    }
}

impl Drop for PgRead<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            finish(self.store, client, "COMMIT");
        }
    }
}

pub(super) struct PgWrite<'a> {
    store: &'a PostgresStore,
    client: Option<Object>,
    /// The feed's head when this transaction took the write lock.
    before: u64,
    /// The last sequence number this transaction used.
    last: u64,
}

/// `lock_timeout`: a server that holds the write lock this long (stopped mid-transaction) makes others fail as
/// unavailable rather than wait forever; `idle_in_transaction_session_timeout` then ends its transaction.
const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit = on; \
                           SET LOCAL lock_timeout = '10s'; SET LOCAL idle_in_transaction_session_timeout = '60s'";

impl<'a> PgWrite<'a> {
    pub(super) fn begin(store: &'a PostgresStore) -> Result<Self, GalleryError> {
        let client = begin(store, BEGIN_WRITE)?;
        let mut tx = PgWrite {
            store,
            client: Some(client),
            before: 0,
            last: 0,
        };
        // Under READ COMMITTED every later statement sees what the previous holder of the lock committed.
        tx.before = write!(tx, lock_feed())?;
        tx.last = tx.before;
        Ok(tx)
    }

    fn db(&self) -> Db<'_> {
        self.client.as_ref().expect("a connection until dropped")
    }
}

impl Drop for PgWrite<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            finish(self.store, client, "ROLLBACK");
        }
    }
}

/// The read queries, for either transaction.
macro_rules! read_queries {
    ($ty:ty) => {
        impl ReadTransaction for $ty {
            fn galleries(&self) -> Result<Vec<GalleryRow>, GalleryError> {
                run!(self, all_galleries())
            }

            fn find_gallery(
                &self,
                app: &str,
                name: &str,
            ) -> Result<Option<GalleryRow>, GalleryError> {
                run!(self, find_gallery(app, name))
            }

            fn stored_models(&self) -> Result<Vec<StoredModel>, GalleryError> {
                run!(self, stored_models())
            }

            fn find_seq(&self, gallery_id: i64, id: Uuid) -> Result<Option<u64>, GalleryError> {
                run!(self, find_seq(gallery_id, id))
            }

            fn get_template(
                &self,
                gallery: &GalleryRow,
                id: Uuid,
            ) -> Result<Option<TemplateRecord>, GalleryError> {
                run!(self, get_template(gallery, id))
            }

            fn templates_after(
                &self,
                gallery: &GalleryRow,
                after_seq: u64,
                limit: usize,
            ) -> Result<Vec<(u64, TemplateRecord)>, GalleryError> {
                run!(self, templates_after(gallery, after_seq, limit))
            }

            fn template_keys(
                &self,
                gallery_id: i64,
                seqs: &[u64],
            ) -> Result<Vec<Option<TemplateKey>>, GalleryError> {
                run!(self, template_keys(gallery_id, seqs))
            }

            fn vectors_after(
                &self,
                gallery_id: i64,
                after_seq: u64,
                limit: usize,
            ) -> Result<Vec<StoredVector>, GalleryError> {
                run!(self, vectors_after(gallery_id, after_seq, limit))
            }

            fn vectors_by_seq(
                &self,
                gallery_id: i64,
                seqs: &[u64],
            ) -> Result<Vec<StoredVector>, GalleryError> {
                run!(self, vectors_by_seq(gallery_id, seqs))
            }

            fn gallery_seqs(&self, gallery_id: i64) -> Result<Vec<u64>, GalleryError> {
                run!(self, gallery_seqs(gallery_id))
            }

            fn gallery_extent(&self, gallery_id: i64) -> Result<(u64, u64), GalleryError> {
                run!(self, gallery_extent(gallery_id))
            }

            fn feed_head(&self) -> Result<Option<u64>, GalleryError> {
                run!(self, feed_head()).map(Some)
            }

            fn keys_after(
                &self,
                gallery: &GalleryRow,
                after_seq: u64,
                limit: usize,
            ) -> Result<Vec<(u64, TemplateKey)>, GalleryError> {
                run!(self, keys_after(gallery.id, after_seq, limit))
            }
        }
    };
}

read_queries!(PgRead<'_>);
read_queries!(PgWrite<'_>);

impl WriteTransaction for PgWrite<'_> {
    fn create_gallery(
        &mut self,
        app: &str,
        name: &str,
        model: &str,
        dimension: u32,
        created_at_ms: i64,
    ) -> Result<GalleryRow, GalleryError> {
        write!(
            self,
            create_gallery(app, name, model, dimension, created_at_ms)
        )
    }

    fn retag_empty_galleries(
        &mut self,
        model: &str,
        dimension: u32,
    ) -> Result<usize, GalleryError> {
        write!(self, retag_empty_galleries(model, dimension)).map(|n| n as usize)
    }

    fn insert_template(
        &mut self,
        gallery_id: i64,
        template: &TemplateRecord,
    ) -> Result<u64, GalleryError> {
        let seq = self.last + 1;
        write!(self, insert_template(seq, gallery_id, template))?;
        self.last = seq;
        Ok(seq)
    }

    fn delete_template(&mut self, seq: u64) -> Result<(), GalleryError> {
        let change = self.last + 1;
        // The log stays gapless: a removal that removed nothing takes no sequence number.
        if write!(self, delete_template(change, seq))? {
            self.last = change;
        }
        Ok(())
    }

    fn delete_gallery(&mut self, gallery_id: i64) -> Result<u64, GalleryError> {
        let change = self.last + 1;
        let removed = write!(self, delete_gallery(change, gallery_id))?;
        self.last = change;
        Ok(removed)
    }

    fn feed_position(&self) -> Option<FeedPosition> {
        Some(FeedPosition {
            before: self.before,
            last: self.last,
        })
    }

    fn commit(mut self: Box<Self>) -> Result<(), GalleryError> {
        if self.last > self.before {
            let last = self.last;
            write!(self, advance_head(last))?;
        }
        let client = self.client.take().expect("a connection until committed");
        let store = self.store;
        let committed = store.bridge.block_on(async {
            client.batch_execute("COMMIT").await.map_err(|e| {
                let error = super::bridge::pg_error(&store.bridge.target, e);
                match error {
                    GalleryError::Unavailable(why) => GalleryError::Unavailable(format!(
                        "{why}; the connection was lost while committing, so the write may or may not be stored"
                    )),
                    other => other,
                }
            })
        });
        if committed.is_err() {
            drop(Object::take(client));
        }
        committed
    }
}
