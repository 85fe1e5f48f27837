//! Middleware every HTTP request passes: a URI over [`MAX_URI_BYTES`] is answered 414 with the API's error body
//! (hyper's own 414, for URIs over 64 KiB, has none), and each request runs under a deadline: the server's
//! `request_timeout_ms`, shortened by an `X-Request-Timeout-Ms` header. The deadline reaches every model queue the
//! request touches ([`faceserve_batcher::with_deadline`]), so a request still queued when it passes is answered
//! DEADLINE_EXCEEDED (HTTP 504, code 121) and never run.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use faceserve_engine::ApiError;
use faceserve_proto::v1::ErrorCode;

use super::HttpState;
use super::error::{ErrorStyle, error_response};

/// Longest request URI (path and query): nginx's and most proxies' default buffer.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The header a client may shorten the server's timeout with, in milliseconds.
pub const TIMEOUT_HEADER: &str = "x-request-timeout-ms";
/// How long after the deadline the whole request is cut off, should the operation not have answered by itself
/// (it normally does, at the deadline, from the queue it waits in).
const BACKSTOP: Duration = Duration::from_millis(50);

pub async fn bounded(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let style = ErrorStyle::of_path(request.uri().path());
    let uri_bytes = request.uri().to_string().len();
    if uri_bytes > MAX_URI_BYTES {
        let error = ApiError::invalid(format!(
            "the request URI is {uri_bytes} bytes, over the limit of {MAX_URI_BYTES}"
        ));
        let mut response = error_response(style, &error);
        *response.status_mut() = StatusCode::URI_TOO_LONG;
        return response;
    }
    let timeout = match client_timeout(&request) {
        Ok(client) => earliest(client, state.limits.request_timeout()),
        Err(error) => return error_response(style, &error),
    };
    let Some(timeout) = timeout else {
        return next.run(request).await;
    };
    let deadline = Instant::now() + timeout;
    let run = faceserve_batcher::with_deadline(Some(deadline), next.run(request));
    match tokio::time::timeout_at((deadline + BACKSTOP).into(), run).await {
        Ok(response) => response,
        Err(_) => error_response(style, &deadline_passed(timeout)),
    }
}

/// The error of a request whose deadline passed.
pub fn deadline_passed(timeout: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::Cancelled,
        format!(
            "the request's deadline ({} ms) passed before it could be answered",
            timeout.as_millis()
        ),
    )
}

fn client_timeout(request: &Request) -> Result<Option<Duration>, ApiError> {
    let Some(value) = request.headers().get(TIMEOUT_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(|ms| Some(Duration::from_millis(ms)))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "header {TIMEOUT_HEADER} must be a positive number of milliseconds"
            ))
        })
}

fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
