//! The gRPC side of authentication: a tower layer in front of every service. It reads the `app-id` / `app-key`
//! metadata, puts the [`AppId`](super::AppId) into the request's extensions (tonic hands them to the handler, where
//! [`caller_app`](super::caller_app) reads them) or answers UNAUTHENTICATED with a typed `ErrorDetail` (code 130)
//! before any handler runs. Health and reflection pass untouched.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use faceserve_proto::v1::ErrorCode;
use tower::{Layer, Service};

use super::{AuthFailure, Authenticator, Surface, credentials};
use faceserve_engine::ApiError;

/// Services a load balancer or a tool must reach without credentials.
const OPEN_PREFIXES: &[&str] = &["/grpc.health.v1.Health/", "/grpc.reflection."];

#[derive(Clone)]
pub struct GrpcAuthLayer {
    auth: Option<Arc<Authenticator>>,
}

impl GrpcAuthLayer {
    /// `None`: authentication off, every call passes as the default application.
    pub fn new(auth: Option<Arc<Authenticator>>) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for GrpcAuthLayer {
    type Service = GrpcAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAuth {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GrpcAuth<S> {
    inner: S,
    auth: Option<Arc<Authenticator>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for GrpcAuth<S>
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

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let Some(auth) = self
            .auth
            .clone()
            .filter(|_| !OPEN_PREFIXES.iter().any(|open| path.starts_with(open)))
        else {
            return Box::pin(self.inner.call(request));
        };
        // The service that was polled ready is the one to call; a fresh clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (app_id, key) = credentials(request.headers());
        Box::pin(async move {
            match auth
                .authenticate(Surface::Grpc, app_id.as_deref(), key.as_deref())
                .await
            {
                Ok(app) => {
                    request.extensions_mut().insert(app);
                    inner.call(request).await
                }
                Err(failure) => Ok(crate::status::to_status(&refusal(&failure)).into_http()),
            }
        })
    }
}

/// The error a refused call gets: UNAUTHENTICATED (code 130), or INTERNAL when the registry could not be read.
pub fn refusal(failure: &AuthFailure) -> ApiError {
    match failure {
        AuthFailure::Unavailable(_) => ApiError::internal(failure.message()),
        _ => ApiError::new(ErrorCode::Unauthenticated, failure.message()),
    }
}
