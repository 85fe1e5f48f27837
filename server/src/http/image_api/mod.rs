//! The face SDK's Image API (`../shared/seeds/002_*.txt`): `POST /v1/<service>` with `{"$image": base64}` and
//! `POST /v2/<service>` with `{"_image": {"blob", "format": "IMAGE"}}`, each service a fixed set of estimators of the
//! `Estimate` operation (only those models run). Services that take `objects` (a previous service's faces, with
//! normalised `bbox`) estimate those faces and answer them back with the new fields added; the others detect the
//! faces themselves. `verify-matcher` compares two templates of `template-extractor`. Errors answer the spec's
//! `{"detail": "..."}`, e.g. `{"detail": "Failed to decode base64 string"}`.

pub(super) mod request;
mod response;
use faceserve_engine::template;

use std::time::Instant;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use faceserve_proto::v1::{self as pb, Estimator as E};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::HttpState;
use super::error::{ErrorStyle, error_response};
use crate::auth::AppId;
use faceserve_engine::ApiError;
use request::{Version, decode_base64, face_region, is_face};

const TAG: &str = "Image API (spec 002)";

/// One service of the spec and the estimators behind it.
struct Service {
    name: &'static str,
    estimators: &'static [E],
    /// Finds the faces itself (input `objects` are not used).
    detects: bool,
}

const SERVICES: &[Service] = &[
    Service {
        name: "body-detector",
        estimators: &[E::BodyDetection],
        detects: true,
    },
    Service {
        name: "gender-estimator",
        estimators: &[E::Gender],
        detects: false,
    },
    Service {
        name: "age-estimator",
        estimators: &[E::Age],
        detects: false,
    },
    Service {
        name: "emotion-estimator",
        estimators: &[E::Emotion],
        detects: false,
    },
    Service {
        name: "mask-estimator",
        estimators: &[E::Mask],
        detects: false,
    },
    Service {
        name: "liveness-estimator",
        estimators: &[E::Liveness],
        detects: false,
    },
    Service {
        name: "face-detector-liveness-estimator",
        estimators: &[E::FaceDetection, E::Liveness],
        detects: true,
    },
    Service {
        name: "face-detector-face-fitter",
        estimators: &[E::FaceDetection, E::Keypoints, E::Pose],
        detects: true,
    },
    Service {
        name: "quality-assessment-estimator",
        estimators: &[E::Quality],
        detects: false,
    },
    Service {
        name: "face-detector-template-extractor",
        estimators: &[E::FaceDetection, E::Template],
        detects: true,
    },
    Service {
        name: "template-extractor",
        estimators: &[E::Template],
        detects: false,
    },
    // faceserve: detection alone (the spec's detection services all add something).
    Service {
        name: "face-detector",
        estimators: &[E::FaceDetection],
        detects: true,
    },
];
const VERIFY_MATCHER: &str = "verify-matcher";

/// Every service name, for the unknown-service error and the OpenAPI document.
fn service_names() -> Vec<&'static str> {
    SERVICES
        .iter()
        .map(|s| s.name)
        .chain([VERIFY_MATCHER])
        .collect()
}

/// v1 request body (documentation only; the handler reads the JSON itself so every error has the spec's shape).
#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct V1Request {
    /// The photo (JPEG or PNG) in base64.
    #[schema(rename = "$image")]
    image: Option<String>,
    /// Faces from a previous service (`id`, `class`, normalised `bbox`, v1 `fitter`), or two templates for
    /// verify-matcher (`$template`).
    #[schema(value_type = Option<Vec<Object>>)]
    objects: Option<Vec<Value>>,
}

#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct V2Image {
    /// The photo (JPEG or PNG) in base64.
    blob: String,
    /// "IMAGE".
    format: String,
}

/// v2 request body (documentation only).
#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct V2Request {
    #[schema(rename = "_image")]
    image: Option<V2Image>,
    /// Faces from a previous service, or two templates for verify-matcher (`template`).
    #[schema(value_type = Option<Vec<Object>>)]
    objects: Option<Vec<Value>>,
}

/// The answer: the request's image echoed, `objects` with the service's fields; verify-matcher adds
/// `verification {distance, fa_r, fr_r, score, similarity}`.
#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct ImageApiResponse {
    #[schema(value_type = Vec<Object>)]
    objects: Vec<Value>,
}

#[utoipa::path(post, path = "/v1/{service}", tag = TAG,
    params(("service" = String, Path, description = "body-detector, gender-estimator, age-estimator, \
        emotion-estimator, mask-estimator, liveness-estimator, face-detector-liveness-estimator, \
        face-detector-face-fitter, quality-assessment-estimator, face-detector-template-extractor, \
        template-extractor, verify-matcher, face-detector (faceserve)", example = "age-estimator")),
    request_body(content = V1Request, content_type = "application/json"),
    responses(
        (status = 200, description = "The objects with the service's fields; v1 enums upper-case", body = ImageApiResponse),
        (status = 400, description = "{\"detail\": ...}: e.g. \"Failed to decode base64 string\", \"can not detect face\", \
            or \"not available: ...\" for an estimator without a model", body = super::error::DetailError),
        (status = 401, description = "Missing or wrong APP-ID / APP-KEY", body = super::error::DetailError),
        (status = 404, description = "Unknown service", body = super::error::DetailError),
    ),
    security(("app_id" = [], "app_key" = [])))]
pub async fn v1(
    State(state): State<HttpState>,
    Extension(app): Extension<AppId>,
    Path(service): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    serve(state, app, Version::V1, service, body).await
}

#[utoipa::path(post, path = "/v2/{service}", tag = TAG,
    params(("service" = String, Path, description = "as /v1/{service}", example = "age-estimator")),
    request_body(content = V2Request, content_type = "application/json"),
    responses(
        (status = 200, description = "The objects with the service's fields; v2 enums lower-case", body = ImageApiResponse),
        (status = 400, description = "{\"detail\": ...}", body = super::error::DetailError),
        (status = 401, description = "Missing or wrong APP-ID / APP-KEY", body = super::error::DetailError),
        (status = 404, description = "Unknown service", body = super::error::DetailError),
    ),
    security(("app_id" = [], "app_key" = [])))]
pub async fn v2(
    State(state): State<HttpState>,
    Extension(app): Extension<AppId>,
    Path(service): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    serve(state, app, Version::V2, service, body).await
}

async fn serve(
    state: HttpState,
    app: AppId,
    version: Version,
    service: String,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let started = Instant::now();
    let prefix = match version {
        Version::V1 => "v1",
        Version::V2 => "v2",
    };
    let Some(name) = service_names().into_iter().find(|n| *n == service) else {
        let error = ApiError::invalid(format!(
            "unknown service {}; this server offers: {}",
            faceserve_engine::convert::echo(&service),
            service_names().join(", ")
        ));
        let mut response = error_response(ErrorStyle::Detail, &error);
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let result = async {
        let Json(body) =
            body.map_err(|e| ApiError::invalid(format!("malformed JSON body: {}", e.body_text())))?;
        if name == VERIFY_MATCHER {
            verify_matcher(&state, &app, version, body).await
        } else {
            let service = SERVICES
                .iter()
                .find(|s| s.name == name)
                .expect("listed service");
            estimate(&state, version, service, body).await
        }
    }
    .await;
    state.reply(
        &format!("POST /{prefix}/{name}"),
        ErrorStyle::Detail,
        started,
        result,
    )
}

async fn estimate(
    state: &HttpState,
    version: Version,
    service: &Service,
    body: Value,
) -> Result<Value, ApiError> {
    let request = request::parse(version, body)?;
    let mut objects = request.objects;
    let face_slots: Vec<usize> = if service.detects {
        objects.clear();
        Vec::new()
    } else {
        (0..objects.len())
            .filter(|&i| is_face(&objects[i]))
            .collect()
    };
    let faces = face_slots
        .iter()
        .map(|&i| face_region(i, &objects[i], version))
        .collect::<Result<Vec<_>, _>>()?;
    // The second spec limits every service to 4.7 MB, and its liveness modules to 10 megapixels.
    let limits = state
        .limits
        .image_api(service.estimators.contains(&E::Liveness));
    let estimated = state
        .engine
        .estimate_within(
            pb::EstimateRequest {
                image: request.image.map(|bytes| pb::Image {
                    source: Some(pb::image::Source::Encoded(bytes)),
                }),
                estimators: service.estimators.iter().map(|&e| e as i32).collect(),
                faces,
                include_landmarks_106: false,
            },
            limits,
        )
        .await?;
    let recognizer = state.engine.pipeline.recognizer_name();
    if service.estimators.contains(&E::BodyDetection) {
        objects = estimated.bodies.iter().map(response::body).collect();
    } else if face_slots.is_empty() {
        for face in &estimated.faces {
            let mut object = response::detected_face(face);
            response::add_estimates(&mut object, face, version, recognizer);
            objects.push(Value::Object(object));
        }
    } else {
        // Faces given by the caller come back in request order, one per given face.
        for (&slot, face) in face_slots.iter().zip(&estimated.faces) {
            if let Value::Object(object) = &mut objects[slot] {
                response::add_estimates(object, face, version, recognizer);
            }
        }
    }
    let mut answer = Map::new();
    if let Some(echo) = request.echo {
        answer.insert(version.image_key().into(), echo);
    }
    answer.insert("objects".into(), Value::Array(objects));
    Ok(Value::Object(answer))
}

/// Compares the templates of two objects (`$template` in v1, `template.<extractor>.blob` in v2).
async fn verify_matcher(
    state: &HttpState,
    app: &AppId,
    version: Version,
    body: Value,
) -> Result<Value, ApiError> {
    let request = request::parse(version, body)?;
    let [a, b] = request.objects.as_slice() else {
        return Err(ApiError::invalid(format!(
            "verify-matcher compares two objects with templates; got {}",
            request.objects.len()
        )));
    };
    let side = |object: &Value| -> Result<pb::FaceInput, ApiError> {
        let blob = match version {
            Version::V1 => object.get("$template").and_then(Value::as_str),
            Version::V2 => object
                .get("template")
                .and_then(Value::as_object)
                .and_then(|t| t.values().next())
                .and_then(|t| t.get("blob"))
                .and_then(Value::as_str),
        }
        .ok_or_else(|| {
            ApiError::invalid("every object needs its template (from template-extractor)")
        })?;
        let template = template::decode(&decode_base64(blob)?)?;
        Ok(pb::FaceInput {
            source: Some(pb::face_input::Source::Template(template)),
        })
    };
    let verdict = state
        .engine
        .verify(
            &app.0,
            pb::VerifyRequest {
                a: Some(side(a)?),
                b: Some(side(b)?),
                ..Default::default()
            },
        )
        .await?;
    let mut verification = Map::new();
    // The spec's distance belongs to its engine; here it is 1 - cosine similarity (0 identical, 2 opposite).
    verification.insert("distance".into(), json!(1.0 - verdict.similarity));
    for (key, value) in [
        ("fa_r", verdict.fa_r),
        ("fr_r", verdict.fr_r),
        ("score", verdict.score.map(f64::from)),
    ] {
        if let Some(value) = value {
            verification.insert(key.into(), json!(value));
        }
    }
    verification.insert("similarity".into(), json!(verdict.similarity));
    verification.insert("verified".into(), json!(verdict.verified));
    Ok(json!({"objects": request.objects, "verification": verification}))
}
