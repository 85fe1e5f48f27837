//! The shape shared by the request/answer streams (`AddStream`, `IdentifyStream`, `EstimateStream`): every item
//! runs one API operation, its answer (or its own error) goes back in order under the item's id, and a failed
//! item never ends the stream.

use std::sync::Arc;
use std::time::Instant;

use faceserve_proto::v1 as pb;
use tonic::Streaming;

use super::streams::{self, ResponseStream, Skipping, StreamLimits};
use crate::metrics::Metrics;
use faceserve_engine::ApiError;

/// Counts one finished call by RPC, gRPC code and engine code.
pub fn record(metrics: &Metrics, rpc: &str, started: Instant, error: Option<&ApiError>) {
    let (code, engine) = error.map_or((tonic::Code::Ok, 0), |e| {
        (crate::status::grpc_code(e.code), e.code as i32)
    });
    metrics.request_done(rpc, code, engine, started.elapsed());
}

/// A stream item: the caller's id and the request it carries.
pub trait StreamItem: Send + 'static {
    type Request: Send;
    fn into_parts(self) -> (String, Option<Self::Request>);
}

/// A stream answer built from the item's id and the operation's result.
pub trait StreamAnswer<T>: Send + 'static {
    fn answer(request_id: String, result: Result<T, pb::ErrorDetail>) -> Self;
}

macro_rules! stream_pair {
    ($item:ty, $answer:ty, $request:ty, $ok:ty, $result:path) => {
        impl StreamItem for $item {
            type Request = $request;
            fn into_parts(self) -> (String, Option<$request>) {
                (self.request_id, self.request)
            }
        }
        impl StreamAnswer<$ok> for $answer {
            fn answer(request_id: String, result: Result<$ok, pb::ErrorDetail>) -> Self {
                use $result as R;
                Self {
                    request_id,
                    result: Some(result.map_or_else(R::Error, R::Ok)),
                }
            }
        }
    };
}

stream_pair!(
    pb::AddStreamRequest,
    pb::AddStreamResponse,
    pb::AddRequest,
    pb::AddResponse,
    pb::add_stream_response::Result
);
stream_pair!(
    pb::IdentifyStreamRequest,
    pb::IdentifyStreamResponse,
    pb::IdentifyRequest,
    pb::IdentifyResponse,
    pb::identify_stream_response::Result
);
stream_pair!(
    pb::EstimateStreamRequest,
    pb::EstimateStreamResponse,
    pb::EstimateRequest,
    pb::EstimateResponse,
    pb::estimate_stream_response::Result
);

/// Answers every item of `incoming` with `op`, in order, at most `limits.max_in_flight` at once.
pub fn answer_each<Item, Answer, T, Op, Fut>(
    incoming: Streaming<Item>,
    limits: StreamLimits,
    metrics: Arc<Metrics>,
    rpc: &'static str,
    op: Op,
) -> ResponseStream<Answer>
where
    Item: StreamItem,
    Answer: StreamAnswer<T>,
    Op: Fn(Item::Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    streams::ordered(incoming, limits, Skipping::Never, move |item: Item| {
        let (request_id, request) = item.into_parts();
        let (run, metrics) = (request.map(&op), metrics.clone());
        async move {
            let started = Instant::now();
            let result = match run {
                Some(run) => run.await,
                None => Err(streams::missing_request()),
            };
            record(&metrics, rpc, started, result.as_ref().err());
            Answer::answer(request_id, result.map_err(|e| e.detail()))
        }
    })
}
