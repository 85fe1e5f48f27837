//! [`ApiError`] over HTTP, in each spec's shape. The cloud API (`/api/v1.0/*`) answers
//! `{"transactionId", "result": {"status": "error", "code", "info"}}`; the Image API answers `{"detail": "..."}`.
//! The HTTP status follows the gRPC code the error maps to (Google's `google.rpc.Code` table): the spec's engine
//! codes 1-9 and every input error are 400; 401 for missing or wrong keys, 404 for an unknown template or gallery,
//! 409 for an existing template id, 429 when a model queue is full, 504 when a deadline passed, 500 otherwise.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use faceserve_engine::ApiError;
use faceserve_engine::convert::transaction_id;

/// The cloud API's error body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    pub transaction_id: String,
    pub result: ErrorResult,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResult {
    /// Always "error".
    #[schema(example = "error")]
    pub status: &'static str,
    /// The engine code: the spec's 1-9, faceserve's own from 100 (see the README's error table).
    #[schema(example = 5)]
    pub code: i32,
    #[schema(example = "can not detect face")]
    pub info: String,
}

/// The Image API's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailError {
    #[schema(example = "Failed to decode base64 string")]
    pub detail: String,
}

/// The HTTP status of an engine error.
pub fn http_status(error: &ApiError) -> StatusCode {
    use tonic::Code as C;
    match crate::status::grpc_code(error.code) {
        C::InvalidArgument | C::FailedPrecondition | C::OutOfRange => StatusCode::BAD_REQUEST,
        C::Unauthenticated => StatusCode::UNAUTHORIZED,
        C::PermissionDenied => StatusCode::FORBIDDEN,
        C::NotFound => StatusCode::NOT_FOUND,
        C::AlreadyExists | C::Aborted => StatusCode::CONFLICT,
        C::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        C::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        C::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        C::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        C::Ok | C::Unknown | C::Internal | C::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Which body an error gets: decided by the API family of the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `/api/v1.0/*`: the cloud API's envelope.
    Envelope,
    /// The Image API: `{"detail": ...}`.
    Detail,
}

impl ErrorStyle {
    pub fn of_path(path: &str) -> Self {
        if path.starts_with("/api/") {
            ErrorStyle::Envelope
        } else {
            ErrorStyle::Detail
        }
    }
}

pub fn error_response(style: ErrorStyle, error: &ApiError) -> Response {
    let status = http_status(error);
    let mut response = match style {
        ErrorStyle::Envelope => (
            status,
            Json(ErrorEnvelope {
                transaction_id: transaction_id(),
                result: ErrorResult {
                    status: "error",
                    code: error.code as i32,
                    info: error.bounded_info(),
                },
            }),
        )
            .into_response(),
        ErrorStyle::Detail => (
            status,
            Json(DetailError {
                detail: error.bounded_info(),
            }),
        )
            .into_response(),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Whole seconds (RFC 9110): the time the queue needs to drain below its budget, rounded up, at least 1.
        let seconds = error
            .retry_after
            .map_or(1, |wait| wait.as_millis().div_ceil(1000).max(1) as u64);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("APP-KEY realm=\"faceserve\""),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use faceserve_proto::v1::ErrorCode as E;

    #[test]
    fn statuses_follow_the_documented_table() {
        let status = |code| http_status(&ApiError::new(code, ""));
        for spec_code in [
            E::PhotoEmpty,
            E::WrongMimeType,
            E::PhotoZeroBytes,
            E::CanNotDecode,
            E::NoFace,
            E::MoreThanOneFace,
            E::FaceTooSmall,
        ] {
            assert_eq!(status(spec_code), StatusCode::BAD_REQUEST, "{spec_code:?}");
        }
        assert_eq!(status(E::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(status(E::TemplateNotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(E::TemplateExists), StatusCode::CONFLICT);
        assert_eq!(status(E::Overloaded), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status(E::Internal), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(ErrorStyle::of_path("/api/v1.0/add"), ErrorStyle::Envelope);
        assert_eq!(ErrorStyle::of_path("/v2/age-estimator"), ErrorStyle::Detail);
    }
}
