//! The gRPC side of an engine error: its status code, and the status with a typed `ErrorDetail` that every gRPC
//! client library can decode. HTTP reuses the code for its metrics and its status mapping.

use faceserve_engine::ApiError;
use faceserve_proto::v1::ErrorCode;

/// The gRPC status code of an engine code.
pub fn grpc_code(code: ErrorCode) -> tonic::Code {
    use ErrorCode as E;
    match code {
        E::TemplateNotFound | E::GalleryNotFound => tonic::Code::NotFound,
        E::TemplateExists => tonic::Code::AlreadyExists,
        E::NotAvailable | E::TemplateModelMismatch => tonic::Code::FailedPrecondition,
        E::Overloaded => tonic::Code::ResourceExhausted,
        E::Cancelled => tonic::Code::DeadlineExceeded,
        E::Skipped => tonic::Code::Aborted,
        E::Unauthenticated => tonic::Code::Unauthenticated,
        E::StoreUnavailable | E::ReplicaBehind => tonic::Code::Unavailable,
        E::Internal | E::Unspecified => tonic::Code::Internal,
        E::PhotoEmpty
        | E::WrongMimeType
        | E::PhotoZeroBytes
        | E::CanNotDecode
        | E::NoFace
        | E::MoreThanOneFace
        | E::FaceTooSmall
        | E::ImageTooLarge
        | E::TooManyPixels
        | E::InvalidRawImage
        | E::InvalidArgument => tonic::Code::InvalidArgument,
    }
}

/// The gRPC status of an engine error, its detail packed in.
pub fn to_status(error: &ApiError) -> tonic::Status {
    faceserve_proto::status_with_retry(grpc_code(error.code), error.detail(), error.retry_after)
}
