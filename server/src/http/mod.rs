//! The HTTP listener (`--http-addr`): the specs' JSON APIs on the same [`Engine`] operations as gRPC, its OpenAPI
//! document at `GET /openapi.json` and `GET /health`. Handlers are thin: a request becomes the API's request
//! message, the answer becomes the spec's JSON, an [`ApiError`] becomes the spec's error body.

mod auth;
mod compat;
mod compat_body;
mod deadline;
pub mod error;
mod form;
#[cfg(test)]
mod fuzz_tests;
mod image_api;
mod openapi;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authenticator;
use crate::metrics::Metrics;
use crate::tls::TlsIdentity;
use error::{ErrorStyle, error_response};
use faceserve_engine::settings::LimitSettings;
use faceserve_engine::{ApiError, Engine};

/// What every handler needs.
#[derive(Clone)]
pub struct HttpState {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// `None`: authentication off, every caller is the default application.
    pub auth: Option<Arc<Authenticator>>,
    /// Photo limits per API and the request timeout.
    pub limits: LimitSettings,
}

pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Largest request body: room for two photos at the image byte limit, base64-encoded.
    pub body_limit: usize,
}

impl HttpOptions {
    /// The body limit for a given photo limit: a verify carries two photos, the Image API carries base64 (4/3).
    pub fn body_limit_for(max_image_bytes: usize) -> usize {
        max_image_bytes.saturating_mul(3).saturating_add(1 << 20)
    }
}

impl HttpState {
    /// Records a finished call in the request metrics and turns its result into the response.
    fn reply<T: Serialize>(
        &self,
        route: &str,
        style: ErrorStyle,
        started: Instant,
        result: Result<T, ApiError>,
    ) -> Response {
        let (code, engine) = result.as_ref().err().map_or((tonic::Code::Ok, 0), |e| {
            (crate::status::grpc_code(e.code), e.code as i32)
        });
        self.metrics
            .request_done(route, code, engine, started.elapsed());
        match result {
            Ok(body) => Json(body).into_response(),
            Err(error) => error_response(style, &error),
        }
    }
}

/// The router and the OpenAPI document built from the same route list.
pub fn router(state: HttpState, body_limit: usize) -> (Router, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(compat::add))
        .routes(routes!(compat::identify))
        .routes(routes!(compat::verify))
        .routes(routes!(compat::delete))
        .routes(routes!(image_api::v1))
        .routes(routes!(image_api::v2))
        // Everything above needs credentials (when on); what follows stays open.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_app,
        ))
        .routes(routes!(health))
        .split_for_parts();
    let document = serde_json::to_string_pretty(&doc).expect("the OpenAPI document serialises");
    let router = router
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            deadline::bounded,
        ))
        .with_state(state);
    (router, doc)
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    #[schema(example = "SERVING")]
    status: &'static str,
}

/// Liveness for HTTP load balancers (the models are loaded before the listener opens).
#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "The server is serving", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "SERVING" })
}

async fn not_found(uri: Uri) -> Response {
    let error = ApiError::invalid(format!(
        "no such endpoint: {} (see /openapi.json)",
        faceserve_engine::convert::echo(uri.path())
    ));
    let mut response = error_response(ErrorStyle::of_path(uri.path()), &error);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A known path with another method (a GET of `/api/v1.0/add`): 405 with the API's error body.
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let error = ApiError::invalid(format!(
        "{method} is not allowed on {} (see /openapi.json)",
        faceserve_engine::convert::echo(uri.path())
    ));
    let mut response = error_response(ErrorStyle::of_path(uri.path()), &error);
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Serves until `shutdown` resolves, then lets the requests in flight finish.
pub async fn serve(
    options: HttpOptions,
    state: HttpState,
    tls: Option<Arc<TlsIdentity>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (app, _) = router(state, options.body_limit);
    let tcp = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| anyhow::anyhow!("can not listen for HTTP on {}: {e}", options.addr))?;
    match tls {
        Some(identity) => {
            tracing::info!(addr = %options.addr, "HTTPS listening");
            axum::serve(identity.listener(tcp)?, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        None => {
            tracing::info!(addr = %options.addr, "HTTP listening");
            axum::serve(tcp, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves is in the document, with its credentials requirement.
    #[test]
    fn the_document_lists_every_route() {
        let doc = serde_json::to_value(openapi::ApiDoc::openapi()).unwrap();
        assert_eq!(doc["info"]["title"], "faceserve HTTP API");
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["app_id"]["name"], "APP-ID");
        assert_eq!(schemes["app_key"]["name"], "APP-KEY");
    }
}
