//! The durable template store behind the gallery engine, as a trait so the engine runs on SQLite (embedded, the
//! default) or on a database shared by several servers. Every access is a transaction: a [`ReadTransaction`]
//! sees one consistent snapshot, a [`WriteTransaction`] is durable once [`WriteTransaction::commit`] returns and
//! is rolled back if dropped uncommitted. The store knows rows, not indexes: the engine decides what runs in one
//! transaction and keeps its in-memory indexes in step.
//!
//! Applications and their keys live in the same store ([`AppStore`]).
//!
//! A store shared by several servers (PostgreSQL) also keeps a change feed ([`ChangeFeed`]): every write appends
//! its changes to a log under a sequence number that grows in commit order, so each server can apply the others'
//! writes to its indexes in the order they were committed.

mod apps;
mod feed;
pub mod postgres;
pub mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use crate::{GalleryError, TemplateRecord};

pub use apps::{AppRecord, AppStore, RevokeOutcome};
pub use feed::{Change, ChangeFeed, FeedPosition, FeedProgress};

/// A gallery as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryRow {
    pub id: i64,
    pub app: String,
    pub name: String,
    pub created_at_ms: i64,
    pub model: String,
    pub dimension: u32,
}

/// A stored template's sequence number and embedding, as index builds read them. Sequence numbers never repeat
/// and only grow: they key the in-memory indexes and order pages.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVector {
    pub seq: u64,
    pub embedding: Vec<f32>,
}

/// A template's id and metadata, as a search answer needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateKey {
    pub id: Uuid,
    pub metadata: BTreeMap<String, String>,
}

/// A recognizer with stored templates: its name, embedding dimension and template count.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    pub model: String,
    pub dimension: u32,
    pub templates: u64,
}

/// A template store: SQLite in one file by default.
pub trait TemplateStore: Send + Sync + 'static {
    /// What and where the store is, for logs ("sqlite data/faceserve.db").
    fn describe(&self) -> String;

    /// A consistent read-only snapshot; it sees every commit made before it was opened.
    fn read(&self) -> Result<Box<dyn ReadTransaction + '_>, GalleryError>;

    /// The one read-write transaction at a time. Others wait until it is committed or dropped.
    fn write(&self) -> Result<Box<dyn WriteTransaction + '_>, GalleryError>;

    /// The applications allowed to call the server, and their key hashes.
    fn apps(&self) -> Arc<dyn AppStore>;

    /// The change feed of a store that other servers write to as well; `None` (the default) for a store only this
    /// process writes, whose changes the engine applies as it commits them.
    fn feed(&self) -> Option<Arc<dyn ChangeFeed>> {
        None
    }
}

/// Reads inside one transaction.
pub trait ReadTransaction {
    fn galleries(&self) -> Result<Vec<GalleryRow>, GalleryError>;

    fn find_gallery(&self, app: &str, name: &str) -> Result<Option<GalleryRow>, GalleryError>;

    /// Every recognizer with stored templates, the most used first.
    fn stored_models(&self) -> Result<Vec<StoredModel>, GalleryError>;

    /// The sequence number of template `id` in the gallery.
    fn find_seq(&self, gallery_id: i64, id: Uuid) -> Result<Option<u64>, GalleryError>;

    fn get_template(
        &self,
        gallery: &GalleryRow,
        id: Uuid,
    ) -> Result<Option<TemplateRecord>, GalleryError>;

    /// Up to `limit` templates with a sequence number above `after_seq`, in sequence order.
    fn templates_after(
        &self,
        gallery: &GalleryRow,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, TemplateRecord)>, GalleryError>;

    /// The id and metadata of each sequence number, `None` where it is no longer in the gallery.
    fn template_keys(
        &self,
        gallery_id: i64,
        seqs: &[u64],
    ) -> Result<Vec<Option<TemplateKey>>, GalleryError>;

    /// Up to `limit` embeddings with a sequence number above `after_seq`, in sequence order.
    fn vectors_after(
        &self,
        gallery_id: i64,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredVector>, GalleryError>;

    /// The embedding under each sequence number still in the gallery.
    fn vectors_by_seq(
        &self,
        gallery_id: i64,
        seqs: &[u64],
    ) -> Result<Vec<StoredVector>, GalleryError>;

    /// Every sequence number of the gallery, ascending.
    fn gallery_seqs(&self, gallery_id: i64) -> Result<Vec<u64>, GalleryError>;

    /// (template count, highest sequence number or 0) of the gallery.
    fn gallery_extent(&self, gallery_id: i64) -> Result<(u64, u64), GalleryError>;

    /// The last change of the feed this snapshot includes; `None` for a store without a feed.
    fn feed_head(&self) -> Result<Option<u64>, GalleryError> {
        Ok(None)
    }

    /// Up to `limit` (sequence number, id and metadata) of the gallery above `after_seq`, in sequence order: what a
    /// server keeps in memory to answer searches while a shared store is unreachable.
    fn keys_after(
        &self,
        gallery: &GalleryRow,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, TemplateKey)>, GalleryError> {
        Ok(self
            .templates_after(gallery, after_seq, limit)?
            .into_iter()
            .map(|(seq, t)| {
                let key = TemplateKey {
                    id: t.id,
                    metadata: t.metadata,
                };
                (seq, key)
            })
            .collect())
    }
}

/// Reads and writes inside one transaction.
pub trait WriteTransaction: ReadTransaction {
    fn create_gallery(
        &mut self,
        app: &str,
        name: &str,
        model: &str,
        dimension: u32,
        created_at_ms: i64,
    ) -> Result<GalleryRow, GalleryError>;

    /// Points empty galleries made by another recognizer at this one; returns how many changed.
    fn retag_empty_galleries(&mut self, model: &str, dimension: u32)
    -> Result<usize, GalleryError>;

    /// Stores a template and returns its new sequence number.
    fn insert_template(
        &mut self,
        gallery_id: i64,
        template: &TemplateRecord,
    ) -> Result<u64, GalleryError>;

    fn delete_template(&mut self, seq: u64) -> Result<(), GalleryError>;

    /// Removes a gallery and its templates; returns how many templates it held.
    fn delete_gallery(&mut self, gallery_id: i64) -> Result<u64, GalleryError>;

    /// Where this transaction's changes sit in the change feed; `None` for a store without a feed.
    fn feed_position(&self) -> Option<FeedPosition> {
        None
    }

    /// Makes every change durable. An error means nothing of the transaction was stored, except for
    /// [`GalleryError::Unavailable`] from a shared store, where the connection may have been lost with the commit
    /// on its way: the outcome is then unknown, and the change feed tells.
    fn commit(self: Box<Self>) -> Result<(), GalleryError>;
}
