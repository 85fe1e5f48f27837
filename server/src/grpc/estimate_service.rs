//! `faceserve.v1.EstimateService`: thin handlers over `Engine::estimate`, unary and streamed (answers in request order,
//! one error per bad item without ending the stream).

use std::sync::Arc;
use std::time::Instant;

use faceserve_proto::v1 as pb;
use faceserve_proto::v1::estimate_service_server::EstimateService;
use tonic::{Request, Response, Status, Streaming};

use super::per_request::{self, record};
use super::streams::{self, ResponseStream};
use crate::metrics::Metrics;
use faceserve_engine::Engine;

pub struct EstimateHandlers {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    pub stream_limits: streams::StreamLimits,
}

#[tonic::async_trait]
impl EstimateService for EstimateHandlers {
    async fn estimate(
        &self,
        request: Request<pb::EstimateRequest>,
    ) -> Result<Response<pb::EstimateResponse>, Status> {
        let started = Instant::now();
        let result = self.engine.estimate(request.into_inner()).await;
        record(&self.metrics, "Estimate", started, result.as_ref().err());
        result
            .map(Response::new)
            .map_err(|e| crate::status::to_status(&e))
    }

    type EstimateStreamStream = ResponseStream<pb::EstimateStreamResponse>;

    async fn estimate_stream(
        &self,
        request: Request<Streaming<pb::EstimateStreamRequest>>,
    ) -> Result<Response<Self::EstimateStreamStream>, Status> {
        let api = self.engine.clone();
        let answers = per_request::answer_each(
            request.into_inner(),
            self.stream_limits,
            self.metrics.clone(),
            "EstimateStream",
            move |req| {
                let api = api.clone();
                async move { api.estimate(req).await }
            },
        );
        Ok(Response::new(answers))
    }
}
