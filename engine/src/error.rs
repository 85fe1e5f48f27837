//! One error type for every operation: an engine code (the spec's where one exists) and its info text. The gRPC
//! and HTTP layers each map it once, so the same failure reads the same everywhere.

use faceserve_index::GalleryError;
use faceserve_proto::v1::{ErrorCode, ErrorDetail};
use faceserve_vision::decode::DecodeError;
use faceserve_vision::pipeline::PipelineError;

/// Longest info text an answer carries (a gRPC status message travels in a header).
pub const MAX_INFO_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub info: String,
    /// For a refusal by load (code 120): when a retry can expect to be admitted (HTTP `Retry-After`, gRPC
    /// `google.rpc.RetryInfo`).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(code: ErrorCode, info: impl Into<String>) -> Self {
        Self {
            code,
            info: info.into(),
            retry_after: None,
        }
    }

    pub fn invalid(info: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, info)
    }

    pub fn internal(info: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, info)
    }

    pub fn not_available(info: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotAvailable, info)
    }

    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail::new(self.code, self.bounded_info())
    }

    /// The info text within [`MAX_INFO_BYTES`]: what every answer carries, so no message built from a client's
    /// input can outgrow a reply header, whatever the code that built it forgot to cut.
    pub fn bounded_info(&self) -> String {
        if self.info.len() <= MAX_INFO_BYTES {
            return self.info.clone();
        }
        let mut end = MAX_INFO_BYTES;
        while !self.info.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... (cut)", &self.info[..end])
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.info, self.code as i32)
    }
}

impl std::error::Error for ApiError {}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        use ErrorCode as E;
        let code = match &e {
            DecodeError::Missing => E::PhotoEmpty,
            DecodeError::ZeroBytes => E::PhotoZeroBytes,
            DecodeError::WrongMimeType => E::WrongMimeType,
            DecodeError::Undecodable(_) => E::CanNotDecode,
            DecodeError::TooManyBytes { .. } => E::ImageTooLarge,
            DecodeError::TooManyPixels { .. } => E::TooManyPixels,
            DecodeError::InvalidRaw(_) => E::InvalidRawImage,
        };
        // The spec's texts are kept word for word for its codes; details follow in the gRPC message only.
        let info = match code {
            E::PhotoEmpty => "photo should not be empty".to_string(),
            E::PhotoZeroBytes => "photo size is 0 bytes".to_string(),
            E::WrongMimeType => "wrong mime-type in input data".to_string(),
            E::CanNotDecode => {
                "can not decode image, check it is valid jpeg or png file".to_string()
            }
            _ => e.to_string(),
        };
        Self::new(code, info)
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        use faceserve_batcher::BatchError;
        match e {
            PipelineError::Decode(d) => d.into(),
            PipelineError::NoFace => Self::new(ErrorCode::NoFace, "can not detect face"),
            PipelineError::MoreThanOneFace { .. } => Self::new(
                ErrorCode::MoreThanOneFace,
                "more than one face detected on photo",
            ),
            PipelineError::FaceTooSmall { .. } => Self::new(
                ErrorCode::FaceTooSmall,
                "can not extract features from sample, probably it is too small",
            ),
            PipelineError::Batch(BatchError::QueueFull { model, capacity }) => Self::new(
                ErrorCode::Overloaded,
                format!(
                    "server overloaded: the {model} queue is full ({capacity} requests waiting); retry later"
                ),
            ),
            PipelineError::Batch(busy @ BatchError::OverBudget { .. }) => Self {
                retry_after: busy.retry_after(),
                ..Self::new(
                    ErrorCode::Overloaded,
                    format!("server overloaded: {busy}; retry later"),
                )
            },
            PipelineError::Batch(BatchError::DeadlineExceeded) => Self::new(
                ErrorCode::Cancelled,
                "the request's deadline passed before it could run",
            ),
            PipelineError::Batch(other) => Self::internal(format!("inference failed: {other}")),
            PipelineError::Internal(message) => Self::internal(message),
        }
    }
}

impl From<GalleryError> for ApiError {
    fn from(e: GalleryError) -> Self {
        let code = match &e {
            GalleryError::TemplateNotFound { .. } => ErrorCode::TemplateNotFound,
            GalleryError::TemplateExists { .. } => ErrorCode::TemplateExists,
            GalleryError::GalleryNotFound { .. } => ErrorCode::GalleryNotFound,
            GalleryError::ModelMismatch { .. } | GalleryError::DimensionMismatch { .. } => {
                ErrorCode::TemplateModelMismatch
            }
            GalleryError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            GalleryError::Storage(_) => ErrorCode::Internal,
            GalleryError::Unavailable(_) => ErrorCode::StoreUnavailable,
        };
        Self::new(code, e.to_string())
    }
}
