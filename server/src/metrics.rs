//! Every Prometheus metric of the server, defined in one place, and the `/metrics` listener.
//!
//! Batch size is readable the way Triton reports it: average batch = `faceserve_inference_items_total` /
//! `faceserve_inference_executions_total` for a model.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use faceserve_batcher::Observer;
use faceserve_index::FeedStatus;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    queue_seconds: HistogramVec,
    inference_seconds: HistogramVec,
    batch_size: HistogramVec,
    inference_items: IntCounterVec,
    inference_executions: IntCounterVec,
    inference_failures: IntCounterVec,
    queue_depth: IntGaugeVec,
    rejected: IntCounterVec,
    over_budget: IntCounterVec,
    expired: IntCounterVec,
    dropped: IntCounterVec,
    skipped_frames: IntCounter,
    auth_failures: IntCounterVec,
    templates: IntGauge,
    /// Reads the gallery size when metrics are scraped, so no write path has to remember to update it.
    template_count: OnceLock<Box<dyn Fn() -> u64 + Send + Sync>>,
    feed: FeedGauges,
    /// Reads where this server stands with a shared store's change feed, when scraped.
    feed_status: OnceLock<Box<dyn Fn() -> Option<FeedStatus> + Send + Sync>>,
}

/// A shared store's change feed, as this server follows it.
struct FeedGauges {
    stale: IntGauge,
    reachable: IntGauge,
    applied: IntGauge,
    behind: IntGauge,
    since_contact: Gauge,
    from_memory: IntCounter,
}

impl FeedGauges {
    fn register(registry: &Registry) -> Self {
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let since_contact = Gauge::new(
            "faceserve_store_seconds_since_contact",
            "Seconds since the shared template store last answered this server's change-feed follower",
        )
        .expect("valid metric");
        registry
            .register(Box::new(since_contact.clone()))
            .expect("unique metric");
        let from_memory = IntCounter::new(
            "faceserve_searches_from_memory_total",
            "Searches answered from memory because the shared template store was unreachable (possibly stale)",
        )
        .expect("valid metric");
        registry
            .register(Box::new(from_memory.clone()))
            .expect("unique metric");
        FeedGauges {
            stale: gauge(
                "faceserve_gallery_stale",
                "1 while searches may miss committed changes: the shared store is unreachable or changes wait",
            ),
            reachable: gauge(
                "faceserve_store_reachable",
                "1 while the shared template store answers this server's change-feed follower",
            ),
            applied: gauge(
                "faceserve_feed_applied_sequence",
                "The last change of the shared store's feed in this server's indexes",
            ),
            behind: gauge(
                "faceserve_feed_behind_changes",
                "Committed changes this server has seen but not applied yet",
            ),
            since_contact,
            from_memory,
        }
    }

    fn show(&self, status: &FeedStatus) {
        self.stale.set(i64::from(status.is_stale()));
        self.reachable.set(i64::from(status.reachable));
        self.applied.set(status.applied as i64);
        self.behind
            .set(status.head.saturating_sub(status.applied) as i64);
        self.since_contact
            .set(status.since_contact.map_or(f64::NAN, |d| d.as_secs_f64()));
        let counted = self.from_memory.get();
        if status.answered_from_memory > counted {
            self.from_memory
                .inc_by(status.answered_from_memory - counted);
        }
    }
}

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
            .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let model = &["model"];
        Self {
            requests: counter(
                "faceserve_requests_total",
                "API requests (stream items count one each) by RPC, gRPC code and engine code",
                &["rpc", "code", "engine_code"],
            ),
            request_seconds: histogram(
                "faceserve_request_duration_seconds",
                "End-to-end time of a request (stream items: of the item), by RPC",
                &["rpc"],
                LATENCY_BUCKETS,
            ),
            queue_seconds: histogram(
                "faceserve_queue_duration_seconds",
                "Time a request waited in a model's queue before its batch ran",
                model,
                LATENCY_BUCKETS,
            ),
            inference_seconds: histogram(
                "faceserve_inference_duration_seconds",
                "Time one batch took to run, by model",
                model,
                LATENCY_BUCKETS,
            ),
            batch_size: histogram(
                "faceserve_batch_size",
                "Requests per executed batch",
                model,
                BATCH_BUCKETS,
            ),
            inference_items: counter(
                "faceserve_inference_items_total",
                "Requests run through a model",
                model,
            ),
            inference_executions: counter(
                "faceserve_inference_executions_total",
                "Batches a model executed",
                model,
            ),
            inference_failures: counter(
                "faceserve_inference_failures_total",
                "Batches that failed",
                model,
            ),
            queue_depth: {
                let g = IntGaugeVec::new(
                    Opts::new("faceserve_queue_depth", "Requests waiting per model"),
                    model,
                )
                .expect("valid metric");
                registry
                    .register(Box::new(g.clone()))
                    .expect("unique metric");
                g
            },
            rejected: counter(
                "faceserve_rejected_requests_total",
                "Requests refused because a model queue was full (RESOURCE_EXHAUSTED)",
                model,
            ),
            over_budget: counter(
                "faceserve_budget_rejected_requests_total",
                "Requests refused because their expected queue time was over the model's budget (max_queue_ms, \
                 RESOURCE_EXHAUSTED)",
                model,
            ),
            expired: counter(
                "faceserve_expired_requests_total",
                "Requests not run because their deadline passed in the queue or would have before their turn \
                 (DEADLINE_EXCEEDED)",
                model,
            ),
            dropped: counter(
                "faceserve_dropped_requests_total",
                "Requests dropped before inference because their caller left",
                model,
            ),
            skipped_frames: {
                let c = IntCounter::new(
                    "faceserve_skipped_frames_total",
                    "Stream frames answered as skipped because a newer frame arrived (latest frame wins)",
                )
                .expect("valid metric");
                registry
                    .register(Box::new(c.clone()))
                    .expect("unique metric");
                c
            },
            templates: {
                let g = IntGauge::new(
                    "faceserve_gallery_templates",
                    "Templates stored, all galleries",
                )
                .expect("valid metric");
                registry
                    .register(Box::new(g.clone()))
                    .expect("unique metric");
                g
            },
            auth_failures: counter(
                "faceserve_auth_failures_total",
                "Calls refused for missing or wrong APP-ID / APP-KEY credentials, by surface (grpc, http) and reason",
                &["surface", "reason"],
            ),
            template_count: OnceLock::new(),
            feed: FeedGauges::register(&registry),
            feed_status: OnceLock::new(),
            registry,
        }
    }

    pub fn request_done(&self, rpc: &str, code: tonic::Code, engine_code: i32, elapsed: Duration) {
        let engine = engine_code.to_string();
        self.requests
            .with_label_values(&[rpc, grpc_code_name(code), engine.as_str()])
            .inc();
        self.request_seconds
            .with_label_values(&[rpc])
            .observe(elapsed.as_secs_f64());
    }

    pub fn auth_failed(&self, surface: &str, reason: &str) {
        self.auth_failures
            .with_label_values(&[surface, reason])
            .inc();
    }

    pub fn frame_skipped(&self) {
        self.skipped_frames.inc();
    }

    pub fn count_templates_with(&self, count: impl Fn() -> u64 + Send + Sync + 'static) {
        let _ = self.template_count.set(Box::new(count));
    }

    /// Shows a shared store's change feed (the stale gauge and its companions) from `status` when scraped.
    pub fn watch_feed_with(&self, status: impl Fn() -> Option<FeedStatus> + Send + Sync + 'static) {
        let _ = self.feed_status.set(Box::new(status));
    }

    pub fn render(&self) -> String {
        if let Some(count) = self.template_count.get() {
            self.templates.set(count() as i64);
        }
        if let Some(status) = self.feed_status.get().and_then(|status| status()) {
            self.feed.show(&status);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of metrics cannot fail");
        String::from_utf8(out).expect("metrics text is UTF-8")
    }
}

impl Observer for Metrics {
    fn queue_depth(&self, model: &str, depth: usize) {
        self.queue_depth
            .with_label_values(&[model])
            .set(depth as i64);
    }

    fn rejected(&self, model: &str) {
        self.rejected.with_label_values(&[model]).inc();
    }

    fn over_budget(&self, model: &str) {
        self.over_budget.with_label_values(&[model]).inc();
    }

    fn expired(&self, model: &str, count: usize) {
        self.expired
            .with_label_values(&[model])
            .inc_by(count as u64);
    }

    fn dropped(&self, model: &str, count: usize) {
        self.dropped
            .with_label_values(&[model])
            .inc_by(count as u64);
    }

    fn batch_done(
        &self,
        model: &str,
        batch_size: usize,
        queue_times: &[Duration],
        inference: Duration,
        ok: bool,
    ) {
        let labels = &[model];
        for t in queue_times {
            self.queue_seconds
                .with_label_values(labels)
                .observe(t.as_secs_f64());
        }
        self.inference_seconds
            .with_label_values(labels)
            .observe(inference.as_secs_f64());
        self.batch_size
            .with_label_values(labels)
            .observe(batch_size as f64);
        self.inference_items
            .with_label_values(labels)
            .inc_by(batch_size as u64);
        self.inference_executions.with_label_values(labels).inc();
        if !ok {
            self.inference_failures.with_label_values(labels).inc();
        }
    }
}

fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Serves `GET /metrics` on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("can not listen for metrics on {addr}: {e}"))?;
    tracing::info!(%addr, "metrics listening on /metrics");
    axum::serve(listener, app).await?;
    Ok(())
}
