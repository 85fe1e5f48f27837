//! The gRPC server: faceserve's services plus the standard health and reflection services (so `grpcurl` works
//! without the .proto files), assembled in one place.

mod bounds;
pub mod consistency;
mod estimate_service;
mod face_service;
mod per_request;
pub mod streams;

use std::net::SocketAddr;
use std::sync::Arc;

use faceserve_proto::v1::estimate_service_server::EstimateServiceServer;
use faceserve_proto::v1::face_service_server::FaceServiceServer;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::Authenticator;
use crate::auth::grpc::GrpcAuthLayer;
use crate::metrics::Metrics;
use crate::tls::TlsIdentity;
pub use estimate_service::EstimateHandlers;
pub use face_service::FaceHandlers;
use faceserve_engine::Engine;

/// Largest request message: a raw 10-megapixel RGB frame is 30 MB, and requests under this size that break the
/// image limits get the API's own precise error rather than a transport one.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

pub struct GrpcOptions {
    pub addr: SocketAddr,
    pub stream_limits: streams::StreamLimits,
    /// `None`: authentication off.
    pub auth: Option<Arc<Authenticator>>,
    /// `None`: plaintext.
    pub tls: Option<Arc<TlsIdentity>>,
    /// The server's bound on a call's time (a client's shorter `grpc-timeout` wins); `None`: none.
    pub request_timeout: Option<std::time::Duration>,
}

/// Marks the services SERVING: at once on SQLite; on a shared store only once this server has applied every change
/// committed before it started (NOT_SERVING until then, so a load balancer sends it nothing stale).
async fn serve_health_once_caught_up(health: HealthReporter, engine: Arc<Engine>) {
    let behind = |engine: &Engine| {
        engine
            .galleries
            .feed_status()
            .is_some_and(|status| !status.caught_up)
    };
    if behind(&engine) {
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        health
            .set_not_serving::<FaceServiceServer<FaceHandlers>>()
            .await;
        health
            .set_not_serving::<EstimateServiceServer<EstimateHandlers>>()
            .await;
        tracing::info!("NOT_SERVING until the change feed is caught up");
    }
    tokio::spawn(async move {
        while behind(&engine) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        health.set_service_status("", ServingStatus::Serving).await;
        health
            .set_serving::<FaceServiceServer<FaceHandlers>>()
            .await;
        health
            .set_serving::<EstimateServiceServer<EstimateHandlers>>()
            .await;
        if let Some(status) = engine.galleries.feed_status() {
            tracing::info!(
                applied = status.applied,
                "caught up with the change feed: SERVING"
            );
        }
    });
}

/// Serves until `shutdown` resolves, then stops accepting calls and waits for the ones in flight.
pub async fn serve(
    options: GrpcOptions,
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (health, health_service) = tonic_health::server::health_reporter();
    serve_health_once_caught_up(health, engine.clone()).await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(faceserve_proto::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    // grpcurl releases before 1.8.8 only speak the v1alpha reflection protocol.
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let estimate = EstimateServiceServer::new(EstimateHandlers {
        engine: engine.clone(),
        metrics: metrics.clone(),
        stream_limits: options.stream_limits,
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let face = FaceServiceServer::new(FaceHandlers {
        engine,
        metrics,
        stream_limits: options.stream_limits,
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);

    tracing::info!(addr = %options.addr, tls = options.tls.is_some(), "gRPC listening");
    let mut builder = Server::builder();
    if let Some(identity) = &options.tls {
        builder = builder.tls_config(identity.grpc())?;
    }
    builder
        .layer(bounds::BoundsLayer {
            request_timeout: options.request_timeout,
            max_message_bytes: MAX_MESSAGE_BYTES,
        })
        .layer(GrpcAuthLayer::new(options.auth))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(face)
        .add_service(estimate)
        .serve_with_shutdown(options.addr, shutdown)
        .await?;
    Ok(())
}
