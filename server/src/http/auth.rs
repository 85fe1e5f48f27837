//! The HTTP side of authentication: a middleware in front of the API routes that reads the `APP-ID` / `APP-KEY`
//! headers and puts the caller's [`AppId`] into the request's extensions (the default application "" with
//! authentication off), or answers 401 in the route family's error shape before any handler runs.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::HttpState;
use super::error::{ErrorStyle, error_response};
use crate::auth::grpc::refusal;
use crate::auth::{AppId, Surface, credentials};

pub async fn require_app(
    State(state): State<HttpState>,
    mut request: Request,
    next: Next,
) -> Response {
    let app = match &state.auth {
        None => AppId(String::new()),
        Some(auth) => {
            let (app_id, key) = credentials(request.headers());
            match auth
                .authenticate(Surface::Http, app_id.as_deref(), key.as_deref())
                .await
            {
                Ok(app) => app,
                Err(failure) => {
                    let style = ErrorStyle::of_path(request.uri().path());
                    return error_response(style, &refusal(&failure));
                }
            }
        }
    };
    request.extensions_mut().insert(app);
    next.run(request).await
}
