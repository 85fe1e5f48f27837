//! The applications allowed to call the server: an id, a note, the hash of its key, and whether it is revoked.
//! The store keeps hashes only; making and checking them is the server's job.

use crate::GalleryError;

/// One application, without its key hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub app_id: String,
    pub note: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// What a revocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    AlreadyRevoked,
    NoSuchApp,
}

pub trait AppStore: Send + Sync {
    /// Registers an application; false when the id is taken.
    fn create_app(&self, app_id: &str, key_hash: &str, note: &str) -> Result<bool, GalleryError>;

    /// Replaces an application's key hash and lifts a revocation; false when there is no such application.
    fn replace_key(&self, app_id: &str, key_hash: &str) -> Result<bool, GalleryError>;

    fn revoke_app(&self, app_id: &str) -> Result<RevokeOutcome, GalleryError>;

    /// Every application, by id.
    fn list_apps(&self) -> Result<Vec<AppRecord>, GalleryError>;

    /// (application id, key hash) of every application that is not revoked.
    fn active_key_hashes(&self) -> Result<Vec<(String, String)>, GalleryError>;

    /// A number that changes whenever another connection or process commits a change to the applications, cheap
    /// enough to read on every request.
    fn version(&self) -> Result<i64, GalleryError>;
}
