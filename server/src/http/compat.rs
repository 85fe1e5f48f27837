//! The cloud API of the first spec: `POST /api/v1.0/add` and `/api/v1.0/identify` exactly as
//! `../shared/seeds/000_*.txt` and `001_*.txt` (multipart `photo`, optional `templateId`, query `check_liveness` /
//! `check_deepfake`), plus `verify` and `delete` in the same style. Each handler only translates the form into the
//! API's request message and the answer into the spec's JSON. Templates live in the gallery "default" unless the
//! query names another (`?gallery=`, a faceserve addition).

use std::time::Instant;

use axum::Extension;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use faceserve_proto::v1 as pb;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::HttpState;
use super::compat_body::{
    AddEnvelope, AddResult, DeleteEnvelope, DeleteResult, FaceBlock, IdentifyEnvelope,
    IdentifyResult, VerifyEnvelope, VerifyResult,
};
use super::error::{ErrorEnvelope, ErrorStyle};
use super::form::{Form, PHOTO, PHOTO2, TEMPLATE_ID, flag};
use crate::auth::AppId;
use faceserve_engine::convert::{DEFAULT_GALLERY, echo};
use faceserve_engine::{ApiError, MissingGallery};

const TAG: &str = "cloud API (spec 000/001)";

/// The query of every cloud API call.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompatQuery {
    /// Run the liveness check and return `face.liveness` (experimental; absent when no model is configured).
    #[param(value_type = Option<bool>)]
    check_liveness: Option<String>,
    /// Run the deepfake check and return `face.deepfake` (absent when no model is configured).
    #[param(value_type = Option<bool>)]
    check_deepfake: Option<String>,
    /// faceserve: the gallery to use, 1-64 characters of [A-Za-z0-9_.-] (default "default").
    gallery: Option<String>,
    /// faceserve: return the spec's `face.quality` block (default true; false skips its estimator models).
    #[param(value_type = Option<bool>)]
    quality: Option<String>,
    /// faceserve: which face of a photo with several to use: `single` (default: error 6 for a group photo) or
    /// `largest` (the largest face), as gRPC's `face_policy`.
    face_policy: Option<String>,
}

impl CompatQuery {
    fn of(query: Result<Query<CompatQuery>, QueryRejection>) -> Result<CompatQuery, ApiError> {
        query
            .map(|Query(q)| q)
            .map_err(|e| ApiError::invalid(format!("malformed query: {}", e.body_text())))
    }

    fn flags(&self) -> Result<(bool, bool), ApiError> {
        Ok((
            flag("check_liveness", self.check_liveness.as_deref())?,
            flag("check_deepfake", self.check_deepfake.as_deref())?,
        ))
    }

    /// Whether to compute the quality block: on unless `quality=false`.
    fn quality(&self) -> Result<bool, ApiError> {
        Ok(self.quality.is_none() || flag("quality", self.quality.as_deref())?)
    }

    fn gallery(&self) -> String {
        self.gallery.clone().unwrap_or_default()
    }

    /// Identify on the default gallery before anything was added is "no match", the first spec's search of an
    /// empty database; a gallery the caller names must exist (code 113).
    fn missing_gallery(&self) -> MissingGallery {
        match self.gallery.as_deref() {
            None | Some("" | DEFAULT_GALLERY) => MissingGallery::NoMatch,
            Some(_) => MissingGallery::NotFound,
        }
    }

    /// The face policy as the gRPC enum's value.
    fn face_policy(&self) -> Result<i32, ApiError> {
        let policy = match self
            .face_policy
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("" | "single") => pb::FacePolicy::Single,
            Some("largest") => pb::FacePolicy::Largest,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "query parameter face_policy={} is not single or largest",
                    echo(other)
                )));
            }
        };
        Ok(policy as i32)
    }
}

// The multipart forms, for the OpenAPI document only: the handlers read the stream themselves so that a missing
// photo is the spec's error 1 rather than a framework rejection.
#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct AddForm {
    /// The selfie image file (JPEG or PNG).
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
    /// Optional template id (UUID); a new one is made when absent.
    #[schema(rename = "templateId")]
    template_id: Option<String>,
}

#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct IdentifyForm {
    /// JPEG or PNG image with one clear face.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
}

#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct VerifyForm {
    /// The first face.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
    /// The second face as a photo; give this or `templateId`.
    #[schema(value_type = Option<String>, format = Binary)]
    photo2: Option<Vec<u8>>,
    /// The second face as an enrolled template of the gallery; give this or `photo2`.
    #[schema(rename = "templateId")]
    template_id: Option<String>,
}

#[expect(dead_code, reason = "a schema of the OpenAPI document, never built")]
#[derive(ToSchema)]
struct DeleteForm {
    #[schema(rename = "templateId")]
    template_id: String,
}

/// Enrol the one face of a photo as a template (answered once it is synced to disk).
#[utoipa::path(post, path = "/api/v1.0/add", tag = TAG, params(CompatQuery),
    request_body(content = AddForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Template stored", body = AddEnvelope),
        (status = 400, description = "Engine error (codes 1-9, 100-115)", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong APP-ID / APP-KEY (code 130)", body = ErrorEnvelope),
        (status = 409, description = "templateId already in the gallery (code 112)", body = ErrorEnvelope),
        (status = 429, description = "A model queue is full; retry later (code 120)", body = ErrorEnvelope),
    ),
    security(("app_id" = [], "app_key" = [])))]
pub async fn add(
    State(state): State<HttpState>,
    Extension(app): Extension<AppId>,
    query: Result<Query<CompatQuery>, QueryRejection>,
    multipart: Result<Option<Multipart>, MultipartRejection>,
) -> Response {
    let started = Instant::now();
    let result = async {
        let mut form = Form::read(multipart).await?;
        let query = CompatQuery::of(query)?;
        let (check_liveness, check_deepfake) = query.flags()?;
        let request = pb::AddRequest {
            image: form.image(PHOTO),
            template_id: form.text(TEMPLATE_ID)?.unwrap_or_default(),
            gallery: query.gallery(),
            face_policy: query.face_policy()?,
            check_liveness,
            check_deepfake,
            include_quality: query.quality()?,
            ..Default::default()
        };
        let added = state.engine.add(&app.0, request).await?;
        Ok(AddEnvelope {
            transaction_id: added.transaction_id,
            result: AddResult {
                template_id: added.template_id,
                face: face_block(added.face)?,
            },
        })
    }
    .await;
    state.reply("POST /api/v1.0/add", ErrorStyle::Envelope, started, result)
}

/// 1:N search: the most similar template of the gallery for the one face of a photo.
#[utoipa::path(post, path = "/api/v1.0/identify", tag = TAG, params(CompatQuery),
    request_body(content = IdentifyForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Best match, or templateId null when none reaches the threshold", body = IdentifyEnvelope),
        (status = 400, description = "Engine error (codes 1-9, 100-115)", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong APP-ID / APP-KEY (code 130)", body = ErrorEnvelope),
        (status = 404, description = "A gallery named by ?gallery= does not exist yet (code 113); the default gallery answers no match instead", body = ErrorEnvelope),
        (status = 429, description = "A model queue is full; retry later (code 120)", body = ErrorEnvelope),
    ),
    security(("app_id" = [], "app_key" = [])))]
pub async fn identify(
    State(state): State<HttpState>,
    Extension(app): Extension<AppId>,
    query: Result<Query<CompatQuery>, QueryRejection>,
    multipart: Result<Option<Multipart>, MultipartRejection>,
) -> Response {
    let started = Instant::now();
    let result = async {
        let mut form = Form::read(multipart).await?;
        let query = CompatQuery::of(query)?;
        let (check_liveness, check_deepfake) = query.flags()?;
        let request = pb::IdentifyRequest {
            image: form.image(PHOTO),
            gallery: query.gallery(),
            face_policy: query.face_policy()?,
            check_liveness,
            check_deepfake,
            include_quality: query.quality()?,
            ..Default::default()
        };
        let found = state
            .engine
            .identify_in(&app.0, request, query.missing_gallery())
            .await?;
        let best = found.matches.first();
        Ok(IdentifyEnvelope {
            transaction_id: found.transaction_id.clone(),
            result: IdentifyResult {
                template_id: found.matched.then(|| found.template_id.clone()),
                similarity: if found.matched {
                    found.similarity
                } else {
                    found.best_similarity
                },
                matched: found.matched,
                threshold: found.threshold,
                score: best.and_then(|m| m.score),
                face: face_block(found.face)?,
            },
        })
    }
    .await;
    state.reply(
        "POST /api/v1.0/identify",
        ErrorStyle::Envelope,
        started,
        result,
    )
}

/// 1:1: compares `photo` with `photo2` or with the enrolled template `templateId`.
#[utoipa::path(post, path = "/api/v1.0/verify", tag = TAG, params(CompatQuery),
    request_body(content = VerifyForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Similarity and verdict", body = VerifyEnvelope),
        (status = 400, description = "Engine error (codes 1-9, 100-115)", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong APP-ID / APP-KEY (code 130)", body = ErrorEnvelope),
        (status = 404, description = "templateId not in the gallery (code 111)", body = ErrorEnvelope),
    ),
    security(("app_id" = [], "app_key" = [])))]
pub async fn verify(
    State(state): State<HttpState>,
    Extension(app): Extension<AppId>,
    query: Result<Query<CompatQuery>, QueryRejection>,
    multipart: Result<Option<Multipart>, MultipartRejection>,
) -> Response {
    use pb::face_input::Source;
    let started = Instant::now();
    let result = async {
        let mut form = Form::read(multipart).await?;
        let query = CompatQuery::of(query)?;
        let template_id = form.text(TEMPLATE_ID)?;
        if template_id.is_some() && form.has(PHOTO2) {
            return Err(ApiError::invalid(
                "give the second face as photo2 or as templateId, not both",
            ));
        }
        let a = form.image(PHOTO).map(|image| pb::FaceInput {
            source: Some(Source::Image(image)),
        });
        let b = match template_id {
            Some(id) => Some(Source::TemplateId(id)),
            None => form.image(PHOTO2).map(Source::Image),
        };
        let request = pb::VerifyRequest {
            a: Some(a.unwrap_or_default()),
            b: Some(pb::FaceInput { source: b }),
            gallery: query.gallery(),
            face_policy: query.face_policy()?,
            ..Default::default()
        };
        let verdict = state.engine.verify(&app.0, request).await?;
        Ok(VerifyEnvelope {
            transaction_id: verdict.transaction_id,
            result: VerifyResult {
                verified: verdict.verified,
                similarity: verdict.similarity,
                threshold: verdict.threshold,
                score: verdict.score,
                fa_r: verdict.fa_r,
                fr_r: verdict.fr_r,
                face: FaceBlock::of(verdict.face_a),
                face2: FaceBlock::of(verdict.face_b),
            },
        })
    }
    .await;
    state.reply(
        "POST /api/v1.0/verify",
        ErrorStyle::Envelope,
        started,
        result,
    )
}

/// Deletes a template (form field `templateId`).
#[utoipa::path(post, path = "/api/v1.0/delete", tag = TAG, params(CompatQuery),
    request_body(content = DeleteForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Template deleted", body = DeleteEnvelope),
        (status = 400, description = "templateId missing or not a UUID (code 110)", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong APP-ID / APP-KEY (code 130)", body = ErrorEnvelope),
        (status = 404, description = "No such template in the gallery (code 111)", body = ErrorEnvelope),
    ),
    security(("app_id" = [], "app_key" = [])))]
pub async fn delete(
    State(state): State<HttpState>,
    Extension(app): Extension<AppId>,
    query: Result<Query<CompatQuery>, QueryRejection>,
    multipart: Result<Option<Multipart>, MultipartRejection>,
) -> Response {
    let started = Instant::now();
    let result = async {
        let form = Form::read(multipart).await?;
        let query = CompatQuery::of(query)?;
        let template_id = form
            .text(TEMPLATE_ID)?
            .ok_or_else(|| ApiError::invalid("form field templateId is required"))?;
        let request = pb::DeleteTemplateRequest {
            template_id: template_id.clone(),
            gallery: query.gallery(),
        };
        let deleted = state.engine.delete_template(&app.0, request).await?;
        Ok(DeleteEnvelope {
            transaction_id: deleted.transaction_id,
            result: DeleteResult {
                template_id,
                deleted: true,
            },
        })
    }
    .await;
    state.reply(
        "POST /api/v1.0/delete",
        ErrorStyle::Envelope,
        started,
        result,
    )
}

fn face_block(analysis: Option<pb::FaceAnalysis>) -> Result<FaceBlock, ApiError> {
    FaceBlock::of(analysis).ok_or_else(|| ApiError::internal("the answer has no face"))
}
