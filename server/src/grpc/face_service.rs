//! `faceserve.v1.FaceService`: each handler reads the caller's application, calls the API and maps its error.

use std::sync::Arc;

use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_server::FaceService;
use std::time::Instant;

use tonic::{Request, Response, Status, Streaming};

use super::consistency::{wait_for_min_seq, with_seq};
use super::per_request::{self, record};
use super::streams::{self, ResponseStream, Skipping};
use crate::auth::caller_app;
use crate::metrics::Metrics;
use faceserve_engine::{ApiError, Engine};

pub struct FaceHandlers {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    pub stream_limits: streams::StreamLimits,
}

type Reply<T> = Result<Response<T>, Status>;

impl FaceHandlers {
    /// Runs one unary operation for the request's application and records it.
    async fn unary<Req, Resp, Fut>(
        &self,
        rpc: &str,
        request: Request<Req>,
        op: impl FnOnce(String, Req) -> Fut,
    ) -> Reply<Resp>
    where
        Fut: Future<Output = Result<Resp, ApiError>>,
    {
        let started = Instant::now();
        let app = caller_app(&request)?;
        wait_for_min_seq(&self.engine, request.metadata()).await?;
        let result = op(app, request.into_inner()).await;
        record(&self.metrics, rpc, started, result.as_ref().err());
        result
            .map(|answer| with_seq(&self.engine, Response::new(answer)))
            .map_err(|e| crate::status::to_status(&e))
    }
}

/// Records one finished request (or stream item) in the metrics.
#[tonic::async_trait]
impl FaceService for FaceHandlers {
    async fn add(&self, request: Request<pb::AddRequest>) -> Reply<pb::AddResponse> {
        self.unary("Add", request, |app, req| async move {
            self.engine.add(&app, req).await
        })
        .await
    }

    async fn identify(&self, request: Request<pb::IdentifyRequest>) -> Reply<pb::IdentifyResponse> {
        self.unary("Identify", request, |app, req| async move {
            self.engine.identify(&app, req).await
        })
        .await
    }

    async fn verify(&self, request: Request<pb::VerifyRequest>) -> Reply<pb::VerifyResponse> {
        self.unary("Verify", request, |app, req| async move {
            self.engine.verify(&app, req).await
        })
        .await
    }

    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Reply<pb::TemplateRecord> {
        self.unary("GetTemplate", request, |app, req| async move {
            self.engine.get_template(&app, req).await
        })
        .await
    }

    async fn delete_template(
        &self,
        request: Request<pb::DeleteTemplateRequest>,
    ) -> Reply<pb::DeleteTemplateResponse> {
        self.unary("DeleteTemplate", request, |app, req| async move {
            self.engine.delete_template(&app, req).await
        })
        .await
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Reply<pb::ListTemplatesResponse> {
        self.unary("ListTemplates", request, |app, req| async move {
            self.engine.list_templates(&app, req).await
        })
        .await
    }

    async fn delete_gallery(
        &self,
        request: Request<pb::DeleteGalleryRequest>,
    ) -> Reply<pb::DeleteGalleryResponse> {
        self.unary("DeleteGallery", request, |app, req| async move {
            self.engine.delete_gallery(&app, req).await
        })
        .await
    }

    async fn get_gallery_stats(
        &self,
        request: Request<pb::GetGalleryStatsRequest>,
    ) -> Reply<pb::GalleryStats> {
        self.unary("GetGalleryStats", request, |app, req| async move {
            self.engine.gallery_stats(&app, &req.gallery).await
        })
        .await
    }

    async fn list_galleries(
        &self,
        request: Request<pb::ListGalleriesRequest>,
    ) -> Reply<pb::ListGalleriesResponse> {
        self.unary("ListGalleries", request, |app, _| async move {
            self.engine.list_galleries(&app).await
        })
        .await
    }

    type AddStreamStream = ResponseStream<pb::AddStreamResponse>;

    async fn add_stream(
        &self,
        request: Request<Streaming<pb::AddStreamRequest>>,
    ) -> Reply<Self::AddStreamStream> {
        let (app, api) = (caller_app(&request)?, self.engine.clone());
        let answers = per_request::answer_each(
            request.into_inner(),
            self.stream_limits,
            self.metrics.clone(),
            "AddStream",
            move |req| {
                let (api, app) = (api.clone(), app.clone());
                async move { api.add(&app, req).await }
            },
        );
        Ok(Response::new(answers))
    }

    type IdentifyStreamStream = ResponseStream<pb::IdentifyStreamResponse>;

    async fn identify_stream(
        &self,
        request: Request<Streaming<pb::IdentifyStreamRequest>>,
    ) -> Reply<Self::IdentifyStreamStream> {
        let (app, api) = (caller_app(&request)?, self.engine.clone());
        // Once, before the first frame: every later identification sees at least that change.
        wait_for_min_seq(&self.engine, request.metadata()).await?;
        let answers = per_request::answer_each(
            request.into_inner(),
            self.stream_limits,
            self.metrics.clone(),
            "IdentifyStream",
            move |req| {
                let (api, app) = (api.clone(), app.clone());
                async move { api.identify(&app, req).await }
            },
        );
        Ok(Response::new(answers))
    }

    type AnalyzeStreamStream = ResponseStream<pb::AnalyzeResult>;

    async fn analyze_stream(
        &self,
        request: Request<Streaming<pb::AnalyzeFrame>>,
    ) -> Reply<Self::AnalyzeStreamStream> {
        let (app, api, metrics) = (
            caller_app(&request)?,
            self.engine.clone(),
            self.metrics.clone(),
        );
        let skipping = Skipping::LatestWins {
            enabled: |frame: &pb::AnalyzeFrame| frame.latest_frame_wins,
            answer: Box::new({
                let metrics = metrics.clone();
                move |frame| {
                    metrics.frame_skipped();
                    skipped_frame(frame)
                }
            }),
        };
        let answers = streams::ordered(
            request.into_inner(),
            self.stream_limits,
            skipping,
            move |frame| {
                let (api, app, metrics) = (api.clone(), app.clone(), metrics.clone());
                async move {
                    let started = Instant::now();
                    let result = api.analyze_frame(&app, frame).await;
                    let error = result
                        .error
                        .as_ref()
                        .map(|d| ApiError::new(d.code(), d.info.clone()));
                    record(&metrics, "AnalyzeStream", started, error.as_ref());
                    result
                }
            },
        );
        Ok(Response::new(answers))
    }
}

fn skipped_frame(frame: pb::AnalyzeFrame) -> pb::AnalyzeResult {
    let error = ApiError::new(
        pb::ErrorCode::Skipped,
        "skipped: a newer frame of this stream arrived before this one ran",
    );
    pb::AnalyzeResult {
        frame_id: frame.frame_id,
        skipped: true,
        error: Some(error.detail()),
        ..Default::default()
    }
}
