//! The OpenAPI document of the HTTP side. Paths and schemas come from the handlers' `#[utoipa::path]` annotations
//! as the router registers them (utoipa-axum), so a route can not exist without its documentation; this module
//! adds the title, the credentials scheme and the tag texts. Served at `GET /openapi.json`.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "faceserve HTTP API",
        description = "Drop-in HTTP endpoints of the two specifications faceserve implements: the cloud face API \
            (`/api/v1.0/add`, `/api/v1.0/identify`, plus `verify` and `delete`) and the face SDK's Image API \
            (`/v1/<service>` with `$image`, `/v2/<service>` with `_image`). Errors of the cloud API carry the \
            spec's engine codes in `{transactionId, result: {status: \"error\", code, info}}`; the Image API \
            answers `{detail}`. With authentication on, every call needs the `APP-ID` and `APP-KEY` headers \
            (`faceserve apps create`). A block whose estimator is not available on the server is absent from the \
            answer and named in `face.unavailable`; no score is ever made up.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&Credentials),
    tags(
        (name = "cloud API (spec 000/001)", description = "Multipart photo uploads; templates in the gallery \"default\" unless `?gallery=` names another."),
        (name = "Image API (spec 002)", description = "JSON with the photo in base64: v1 `{\"$image\"}` (upper-case enum values), v2 `{\"_image\": {\"blob\", \"format\": \"IMAGE\"}}` (lower-case). Services taking `objects` estimate those faces (normalised `bbox`) and answer them with the new fields; the others detect faces. Templates are faceserve's own (recognizer name + embedding); `race` is not offered (EU AI Act art. 5(1)(g)), emotion recognition is prohibited at work and in schools (art. 5(1)(f)), liveness is experimental."),
        (name = "service", description = "Health and this document; no credentials needed."),
    )
)]
pub struct ApiDoc;

struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "app_id",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "APP-ID",
                "Your application's identifier (`faceserve apps create`).",
            ))),
        );
        components.add_security_scheme(
            "app_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "APP-KEY",
                "Your application's key, shown once by `faceserve apps create`.",
            ))),
        );
    }
}
