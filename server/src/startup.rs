//! Start-up: settings to running server. Fetches what is missing, loads the models, opens the gallery, then serves
//! gRPC and metrics until SIGTERM or Ctrl-C, finishing the requests in flight before exiting.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faceserve_batcher::BatcherConfig;
use faceserve_index::{EngineConfig, GalleryEngine};
use faceserve_models::{self as fetch, FetchOptions};
use faceserve_vision::calibration::Calibration;
use faceserve_vision::decode::DecodeLimits;
use faceserve_vision::detect::{DetectorKind, DetectorParams};
use faceserve_vision::pipeline::{DetectorConfig, FacePipeline, PipelineConfig, RecognizerConfig};
use faceserve_vision::runtime::{ExecutionProvider, Runtime, RuntimeConfig};

use crate::api::{Api, EstimatorModels, Matching};
use crate::config::{ModelQueueSettings, ProviderKind, Settings};
use crate::grpc::{self, GrpcOptions, streams::StreamLimits};
use crate::metrics::Metrics;

/// Files the server needs, all verified.
pub struct ModelFiles {
    pub detector: PathBuf,
    pub recognizer: PathBuf,
    pub onnxruntime: PathBuf,
}

pub fn fetch_options(s: &Settings) -> FetchOptions {
    FetchOptions {
        models_dir: s.models_dir.clone(),
        mirror: s
            .models_mirror
            .clone()
            .or_else(FetchOptions::default_mirror),
        allow_network: s.fetch,
    }
}

/// Makes sure the configured models and the ONNX Runtime library are present and verified.
pub fn fetch_models(s: &Settings) -> anyhow::Result<ModelFiles> {
    let opts = fetch_options(s);
    let detector = fetch::ensure_model(&opts, &s.detector.model)?;
    let recognizer = fetch::ensure_model(&opts, &s.recognizer.model)?;
    let onnxruntime = match &s.runtime.ort_library {
        Some(path) => path.clone(),
        None => match fetch::locate_onnxruntime(None, &s.models_dir) {
            Some(found) => found,
            None => fetch::ensure_onnxruntime(&opts)?,
        },
    };
    tracing::info!(detector = %detector.display(), recognizer = %recognizer.display(),
        onnxruntime = %onnxruntime.display(), "models ready");
    Ok(ModelFiles {
        detector,
        recognizer,
        onnxruntime,
    })
}

fn batcher_config(q: &ModelQueueSettings) -> BatcherConfig {
    BatcherConfig {
        max_batch_size: q.max_batch,
        max_queue_delay: Duration::from_millis(q.max_queue_delay_ms),
        queue_capacity: q.queue_capacity,
        workers: q.workers,
        warm_up: true,
    }
}

pub fn serve(s: Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    tracing::info!("effective settings:\n{}", s.to_toml());
    // Refusals that need no model come first, so a misconfigured deployment fails in milliseconds.
    let api_listeners: Vec<_> = std::iter::once(s.grpc_addr).chain(s.http_addr).collect();
    s.auth.check_exposure(&api_listeners)?;
    let tls = crate::tls::load(&s.tls)?.map(Arc::new);
    let files = fetch_models(&s)?;
    let provider = match s.runtime.execution_provider {
        ProviderKind::Cpu => ExecutionProvider::Cpu,
        ProviderKind::Cuda => ExecutionProvider::Cuda {
            device_id: s.runtime.device_id,
        },
        ProviderKind::Tensorrt => ExecutionProvider::TensorRt {
            device_id: s.runtime.device_id,
        },
    };
    let runtime = Runtime::init(RuntimeConfig {
        library: files.onnxruntime.clone(),
        provider,
        intra_threads: s.runtime.intra_threads,
        spin: s.runtime.spin,
    })?;
    let metrics = Arc::new(Metrics::new());
    let auth = match s.auth.enabled {
        true => Some(Arc::new(crate::auth::Authenticator::open(
            &s.data_dir,
            &s.auth,
            metrics.clone(),
        )?)),
        false => None,
    };
    let pipeline_config = PipelineConfig {
        detector: DetectorConfig {
            model: files.detector,
            kind: DetectorKind::of_model(&s.detector.model).map_err(anyhow::Error::msg)?,
            params: DetectorParams {
                score_threshold: s.detector.score_threshold,
                nms_iou: s.detector.nms_iou,
                max_upscale: s.detector.max_upscale,
                min_size: s.detector.min_size,
            },
            input_size: s.detector.input_size,
            batcher: batcher_config(&s.detector.queue()),
        },
        recognizer: RecognizerConfig {
            model: files.recognizer,
            name: s.recognizer.model.clone(),
            batcher: batcher_config(&s.recognizer),
        },
        limits: DecodeLimits {
            max_bytes: s.limits.max_image_bytes,
            max_pixels: s.limits.max_image_pixels,
        },
        min_face_size: s.matching.min_face_size,
    };
    let pipeline = Arc::new(FacePipeline::start(
        &runtime,
        &pipeline_config,
        metrics.clone(),
    )?);
    let galleries = Arc::new(GalleryEngine::open(EngineConfig {
        index: s.index.engine_config(),
        ..EngineConfig::new(
            s.data_dir.clone(),
            s.recognizer.model.clone(),
            pipeline.dimension(),
        )
    })?);
    let counted = galleries.clone();
    metrics.count_templates_with(move || counted.total_templates());
    let calibration = Calibration::bundled(&s.recognizer.model).map(Arc::new);
    if calibration.is_none() {
        tracing::warn!(recognizer = %s.recognizer.model, "no calibration table: scores and far thresholds are off");
    }
    let estimators = Arc::new(EstimatorModels::prepare(
        &s.estimators,
        &fetch_options(&s),
        &runtime,
        metrics.clone(),
    )?);
    let api = Arc::new(Api {
        pipeline,
        galleries,
        matching: Matching {
            default_threshold: s.matching.threshold,
            calibration,
        },
        estimators,
    });
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
                    body_limit: crate::http::HttpOptions::body_limit_for(s.limits.max_image_bytes),
                },
                crate::http::HttpState {
                    api: api.clone(),
                    metrics: metrics.clone(),
                    auth: auth.clone(),
                },
                tls.clone(),
                async move {
                    let _ = stop_http.wait_for(|stop| *stop).await;
                },
            )
        });
        let mut stop_serving = stopping.clone();
        let grpc = grpc::serve(options, api, metrics, async move {
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
