//! `faceserve.v1.EstimateService`: thin handlers over `Api::estimate`, unary and streamed (answers in request order,
//! one error per bad item without ending the stream).

use std::sync::Arc;
use std::time::Instant;

use faceserve_proto::v1 as pb;
use faceserve_proto::v1::estimate_service_server::EstimateService;
use tonic::{Request, Response, Status, Streaming};

use super::streams::{self, ResponseStream, Skipping};
use crate::api::{Api, ApiError};
use crate::metrics::Metrics;

pub struct EstimateHandlers {
    pub api: Arc<Api>,
    pub metrics: Arc<Metrics>,
    pub stream_limits: streams::StreamLimits,
}

fn record(metrics: &Metrics, rpc: &str, started: Instant, error: Option<&ApiError>) {
    let (code, engine) = error.map_or((tonic::Code::Ok, 0), |e| (e.grpc_code(), e.code as i32));
    metrics.request_done(rpc, code, engine, started.elapsed());
}

#[tonic::async_trait]
impl EstimateService for EstimateHandlers {
    async fn estimate(
        &self,
        request: Request<pb::EstimateRequest>,
    ) -> Result<Response<pb::EstimateResponse>, Status> {
        let started = Instant::now();
        let result = self.api.estimate(request.into_inner()).await;
        record(&self.metrics, "Estimate", started, result.as_ref().err());
        result.map(Response::new).map_err(Status::from)
    }

    type EstimateStreamStream = ResponseStream<pb::EstimateStreamResponse>;

    async fn estimate_stream(
        &self,
        request: Request<Streaming<pb::EstimateStreamRequest>>,
    ) -> Result<Response<Self::EstimateStreamStream>, Status> {
        let (api, metrics) = (self.api.clone(), self.metrics.clone());
        let answers = streams::ordered(
            request.into_inner(),
            self.stream_limits,
            Skipping::Never,
            move |item| {
                let (api, metrics) = (api.clone(), metrics.clone());
                async move {
                    use pb::estimate_stream_response::Result as R;
                    let started = Instant::now();
                    let result = match item.request {
                        Some(req) => api.estimate(req).await,
                        None => Err(streams::missing_request()),
                    };
                    record(&metrics, "EstimateStream", started, result.as_ref().err());
                    pb::EstimateStreamResponse {
                        request_id: item.request_id,
                        result: Some(result.map_or_else(|e| R::Error(e.detail()), R::Ok)),
                    }
                }
            },
        );
        Ok(Response::new(answers))
    }
}
