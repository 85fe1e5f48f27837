//! The id and metadata of every template of a gallery, in memory. Only a server on a shared store keeps them: it
//! answers searches from them while the store cannot be reached, so identification goes on during an outage.
//! Metadata stays in its stored JSON form (most templates have one short entry) until a search returns it.

use std::collections::HashMap;

use uuid::Uuid;

use crate::GalleryError;
use crate::store::sqlite::codec::{json_to_metadata, metadata_to_json};
use crate::store::{GalleryRow, ReadTransaction, TemplateKey};

/// Keys read from the store per query while loading.
const LOAD_PAGE: usize = 20_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemoryKey {
    id: Uuid,
    /// The metadata as JSON; `None` when empty.
    metadata: Option<Box<str>>,
}

impl From<&TemplateKey> for MemoryKey {
    fn from(key: &TemplateKey) -> Self {
        MemoryKey {
            id: key.id,
            metadata: (!key.metadata.is_empty())
                .then(|| metadata_to_json(&key.metadata).into_boxed_str()),
        }
    }
}

impl MemoryKey {
    pub(crate) fn to_key(&self) -> TemplateKey {
        TemplateKey {
            id: self.id,
            metadata: self
                .metadata
                .as_deref()
                .and_then(|json| json_to_metadata(json).ok())
                .unwrap_or_default(),
        }
    }
}

/// A gallery's keys by sequence number.
pub(crate) type MemoryKeys = HashMap<u64, MemoryKey>;

/// Every key of the gallery as `snapshot` sees it.
pub(crate) fn load(
    snapshot: &dyn ReadTransaction,
    gallery: &GalleryRow,
) -> Result<MemoryKeys, GalleryError> {
    let mut keys = MemoryKeys::new();
    let mut after = 0;
    loop {
        let page = snapshot.keys_after(gallery, after, LOAD_PAGE)?;
        let Some(&(last, _)) = page.last() else {
            return Ok(keys);
        };
        after = last;
        keys.extend(page.iter().map(|(seq, key)| (*seq, MemoryKey::from(key))));
    }
}
