use uuid::Uuid;

/// Everything a gallery operation can fail with. The server maps each variant to an engine error code.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error("template {id} not found in gallery '{gallery}'")]
    TemplateNotFound { gallery: String, id: Uuid },

    #[error("template {id} already exists in gallery '{gallery}' (set replace to overwrite it)")]
    TemplateExists { gallery: String, id: Uuid },

    #[error("gallery '{gallery}' not found")]
    GalleryNotFound { gallery: String },

    #[error(
        "the template store holds templates made by recognizer '{stored}', but the server is configured with \
         '{configured}'; embeddings of different recognizers cannot be compared. Either configure recognizer \
         '{stored}' again, or start with an empty data directory and enrol the faces again with '{configured}'"
    )]
    ModelMismatch { stored: String, configured: String },

    #[error("embedding has {actual} dimensions, expected {expected}")]
    DimensionMismatch { expected: usize, actual: usize },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("template store error: {0}")]
    Storage(String),

    /// A shared store cannot be reached (or answered too late): writes are refused until it is back; searches go
    /// on from memory.
    #[error("template store unavailable: {0}")]
    Unavailable(String),
}

impl GalleryError {
    /// Whether the store could not be reached, as opposed to refusing the operation.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, GalleryError::Unavailable(_))
    }
}

impl From<rusqlite::Error> for GalleryError {
    fn from(error: rusqlite::Error) -> Self {
        GalleryError::Storage(error.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for GalleryError {
    fn from(error: rusqlite::types::FromSqlError) -> Self {
        GalleryError::Storage(format!(
            "unexpected column type in the template store: {error}"
        ))
    }
}
