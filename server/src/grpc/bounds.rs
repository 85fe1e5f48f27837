//! A tower layer in front of every gRPC service, for what tonic leaves to the server:
//! - **Deadlines.** The call's `grpc-timeout` (or the server's `request_timeout_ms`, if shorter) becomes the
//!   deadline of every model queue the call touches ([`faceserve_batcher::with_deadline`]), so a call still
//!   queued when it passes is answered DEADLINE_EXCEEDED with its `ErrorDetail` (code 121) and never reaches a
//!   model. Tonic's own timer would answer CANCELLED without a detail; ours runs a little earlier.
//! - **Oversized messages.** Tonic refuses a request message over the decoding limit with OUT_OF_RANGE and no
//!   detail; a unary call gets RESOURCE_EXHAUSTED with an `ErrorDetail` naming the limit instead (code 100). A
//!   streaming call's oversized item ends its stream with tonic's status, which this layer cannot reach.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use faceserve_engine::ApiError;
use faceserve_proto::v1::{ErrorCode, ErrorDetail};
use tower::{Layer, Service};

/// How much earlier than the client's deadline the queues give up, so the answer (with its detail) is sent before
/// tonic's own timer fires and before the client stops listening: a tenth of the timeout, at most 20 ms.
const DEADLINE_MARGIN: Duration = Duration::from_millis(20);
/// How much earlier than the client's deadline the whole call is cut off, should the operation not answer by
/// itself first (it does, at the queue deadline, when it waits for a model); tonic's timer fires at the deadline.
const CUTOFF_MARGIN: Duration = Duration::from_millis(1);

#[derive(Clone)]
pub struct BoundsLayer {
    /// The server's bound on a call's time, if any.
    pub request_timeout: Option<Duration>,
    /// The decoding limit tonic enforces, to name in the error.
    pub max_message_bytes: usize,
}

impl<S> Layer<S> for BoundsLayer {
    type Service = Bounds<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bounds {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Bounds<S> {
    inner: S,
    layer: BoundsLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for Bounds<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let received = Instant::now();
        let timeout = match (grpc_timeout(request.headers()), self.layer.request_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let limit = self.layer.max_message_bytes;
        let call = self.inner.call(request);
        Box::pin(async move {
            let Some(timeout) = timeout else {
                return call
                    .await
                    .map(|response| oversized_to_exhausted(response, limit));
            };
            let margin = DEADLINE_MARGIN.min(timeout / 10);
            let queue_deadline = received + timeout.saturating_sub(margin);
            let cutoff = received + timeout.saturating_sub(CUTOFF_MARGIN);
            let call = faceserve_batcher::with_deadline(Some(queue_deadline), call);
            match tokio::time::timeout_at(cutoff.into(), call).await {
                Ok(response) => response.map(|response| oversized_to_exhausted(response, limit)),
                Err(_) => Ok(crate::status::to_status(&deadline_passed(timeout)).into_http()),
            }
        })
    }
}

fn deadline_passed(timeout: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::Cancelled,
        format!(
            "the call's deadline ({} ms) passed before it could be answered",
            timeout.as_millis()
        ),
    )
}

/// The `grpc-timeout` header: up to 8 digits and a unit (gRPC over HTTP/2); `None` when absent or malformed.
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// Tonic's "decoded message length too large" (OUT_OF_RANGE, in a trailers-only answer) as RESOURCE_EXHAUSTED with
/// an `ErrorDetail` naming the limit; any other answer passes unchanged.
fn oversized_to_exhausted(
    response: http::Response<tonic::body::Body>,
    limit: usize,
) -> http::Response<tonic::body::Body> {
    // Only a trailers-only OUT_OF_RANGE answer is looked at; every other answer passes without parsing.
    if response.headers().get("grpc-status").map(|v| v.as_bytes()) != Some(b"11") {
        return response;
    }
    let Some(status) = tonic::Status::from_header_map(response.headers()) else {
        return response;
    };
    if status.code() != tonic::Code::OutOfRange
        || !status.message().contains("message length too large")
    {
        return response;
    }
    let found = status
        .message()
        .split("found ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map_or(String::new(), |bytes| format!(" is {bytes} bytes,"));
    let detail = ErrorDetail::new(
        ErrorCode::ImageTooLarge,
        format!(
            "the request message{found} over the gRPC message limit of {limit} bytes ({} MiB): send a smaller photo",
            limit >> 20
        ),
    );
    faceserve_proto::status_with_detail(tonic::Code::ResourceExhausted, detail).into_http()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_as_the_protocol_writes_them() {
        let parse = |text: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", text.parse().unwrap());
            grpc_timeout(&headers)
        };
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("99999u"), Some(Duration::from_micros(99_999)));
        assert_eq!(parse("123456789m"), None, "at most 8 digits");
        assert_eq!(parse("12x"), None);
        assert_eq!(parse("m"), None);
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }

    #[test]
    fn an_oversized_message_becomes_resource_exhausted_with_its_limit() {
        let tonic_answer = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 40000000 bytes, the limit is: 33554432 bytes",
        )
        .into_http();
        let answer = oversized_to_exhausted(tonic_answer, 33_554_432);
        let status = tonic::Status::from_header_map(answer.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let detail = faceserve_proto::error_detail_from_status(&status).unwrap();
        assert_eq!(detail.code(), ErrorCode::ImageTooLarge);
        assert!(detail.info.contains("40000000 bytes"), "{}", detail.info);
        assert!(detail.info.contains("33554432"), "{}", detail.info);
        let other = oversized_to_exhausted(tonic::Status::not_found("x").into_http(), 1);
        let status = tonic::Status::from_header_map(other.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::NotFound);
    }
}
