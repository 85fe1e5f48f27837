//! The records the engine takes and gives back.

use std::collections::BTreeMap;

use uuid::Uuid;

/// Where the face of a template was found in its photo.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaceGeometry {
    /// x, y, width, height in pixels of the source image.
    pub bbox: [f32; 4],
    /// Left eye, right eye, nose, left and right mouth corners, in pixels.
    pub landmarks: [[f32; 2]; 5],
    /// Detection score.
    pub score: f32,
}

/// A template to enrol.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    /// Application the template belongs to ("" = the default application).
    pub app: String,
    pub gallery: String,
    /// None: the engine makes a random one.
    pub id: Option<Uuid>,
    /// The recognizer's embedding; must be L2-normalised (small deviations are renormalised).
    pub embedding: Vec<f32>,
    pub face: FaceGeometry,
    pub metadata: BTreeMap<String, String>,
    /// Overwrite a template with the same id instead of failing with `TemplateExists`.
    pub replace: bool,
}

/// A stored template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRecord {
    pub app: String,
    pub gallery: String,
    pub id: Uuid,
    /// The recognizer that made the embedding.
    pub model: String,
    /// L2-normalised.
    pub embedding: Vec<f32>,
    pub face: FaceGeometry,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    pub metadata: BTreeMap<String, String>,
}

/// One search answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: Uuid,
    /// Cosine similarity of the L2-normalised embeddings.
    pub similarity: f32,
    pub metadata: BTreeMap<String, String>,
}

/// What a gallery holds and how it is indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryStats {
    pub gallery: String,
    pub template_count: u64,
    /// The engine: "exact", "binary", "usearch" or "hnsw" (hnsw_rs).
    pub index_kind: &'static str,
    /// Deleted templates still held by the index until its next rebuild.
    pub tombstones: u64,
    pub created_at_ms: i64,
    pub model: String,
    pub dimension: u32,
}
