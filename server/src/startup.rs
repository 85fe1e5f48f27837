//! Start-up: settings to running server. Builds the engine (fetching what is missing, loading the models, opening
//! the galleries), then serves gRPC, HTTP and metrics until SIGTERM or Ctrl-C, finishing the requests in flight
//! before exiting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faceserve_engine::Engine;

use crate::config::Settings;
use crate::grpc::{self, GrpcOptions, streams::StreamLimits};
use crate::metrics::Metrics;

/// Makes sure the configured detector, recognizer and estimator models and the ONNX Runtime library are present and
/// verified.
pub fn fetch_models(s: &Settings) -> anyhow::Result<()> {
    faceserve_engine::start::fetch_models(&s.engine)?;
    faceserve_engine::start::fetch_estimator_models(&s.engine).map(drop)
}

pub fn serve(s: Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    tracing::info!("effective settings:\n{}", s.to_toml());
    // Refusals that need no model come first, so a misconfigured deployment fails in milliseconds.
    let api_listeners: Vec<_> = std::iter::once(s.grpc_addr).chain(s.http_addr).collect();
    s.auth.check_exposure(&api_listeners)?;
    let tls = crate::tls::load(&s.tls)?.map(Arc::new);
    let metrics = Arc::new(Metrics::new());
    // One store for the galleries and the application registry: SQLite in the data folder, or shared PostgreSQL.
    let store = s.engine.store.open(&s.engine.data_dir)?;
    let auth = match s.auth.enabled {
        true => Some(Arc::new(crate::auth::Authenticator::on(
            crate::apps::AppRegistry::on(store.apps()),
            &store.describe(),
            &s.auth,
            metrics.clone(),
        )?)),
        false => None,
    };
    let engine = Arc::new(Engine::start(&s.engine, metrics.clone(), Some(store))?);
    let counted = engine.galleries.clone();
    metrics.count_templates_with(move || counted.total_templates());
    let followed = engine.galleries.clone();
    metrics.watch_feed_with(move || followed.feed_status());
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "faceserve ready"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let metrics_addr = s.metrics_addr;
        let scraped = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(metrics_addr, scraped).await {
                tracing::error!("metrics listener stopped: {e:#}");
            }
        });
        let options = GrpcOptions {
            addr: s.grpc_addr,
            stream_limits: StreamLimits {
                max_in_flight: s.streams.max_in_flight,
                read_ahead: s.streams.read_ahead,
            },
            auth: auth.clone(),
            tls: tls.clone(),
            request_timeout: s.engine.limits.request_timeout(),
        };
        // The first signal starts a graceful stop; after the grace period the server exits even with requests
        // still running, so a stuck client cannot hold a deployment's rollout forever.
        let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stopping_tx.send(true);
        });
        let http = s.http_addr.map(|addr| {
            let mut stop_http = stopping.clone();
            crate::http::serve(
                crate::http::HttpOptions {
                    addr,
                    body_limit: crate::http::HttpOptions::body_limit_for(
                        s.engine.limits.max_image_bytes,
                    ),
                },
                crate::http::HttpState {
                    engine: engine.clone(),
                    metrics: metrics.clone(),
                    auth: auth.clone(),
                    limits: s.engine.limits.clone(),
                },
                tls.clone(),
                async move {
                    let _ = stop_http.wait_for(|stop| *stop).await;
                },
            )
        });
        let mut stop_serving = stopping.clone();
        let grpc = grpc::serve(options, engine, metrics, async move {
            let _ = stop_serving.wait_for(|stop| *stop).await;
        });
        let serve = async move {
            match http {
                Some(http) => tokio::try_join!(grpc, http).map(|_| ()),
                None => grpc.await,
            }
        };
        let mut grace_over = stopping;
        let grace = s.shutdown_grace_secs;
        tokio::select! {
            result = serve => result,
            _ = async move {
                let _ = grace_over.wait_for(|stop| *stop).await;
                tokio::time::sleep(Duration::from_secs(grace)).await;
            } => {
                tracing::warn!("shutdown grace period of {grace} s is over: exiting with requests in flight");
                Ok(())
            }
        }
    })?;
    tracing::info!("faceserve stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing requests in flight"),
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: finishing requests in flight"),
    }
}
