//! Enrolment, identification and verification.

use faceserve_index::embedding::validate_embedding;
use faceserve_index::simd::dot;
use faceserve_index::{FaceGeometry, GalleryError, NewTemplate};
use faceserve_proto::v1 as pb;
use faceserve_vision::pipeline::FacePolicy;

use crate::analysis::AnalysisOptions;
use crate::convert::{self, gallery_name};
use crate::{ApiError, Engine, blocking};

const MAX_TOP_K: u32 = 100;

/// What Identify answers for a gallery that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingGallery {
    /// GALLERY_NOT_FOUND (113): a named gallery the caller expects to exist (gRPC).
    NotFound,
    /// A search with no result (`matched: false`): the first spec's identify on an empty database, for the HTTP
    /// API's default gallery, which exists once something was added.
    NoMatch,
}

impl Engine {
    /// Enrols the face of a photo, or a template made before (no model runs then).
    pub async fn add(
        &self,
        app: &str,
        mut req: pb::AddRequest,
    ) -> Result<pb::AddResponse, ApiError> {
        let gallery = gallery_name(&req.gallery)?;
        let id = convert::optional_template_id(&req.template_id)?;
        let metadata = convert::metadata(std::mem::take(&mut req.metadata))?;
        let policy = convert::face_policy(req.face_policy)?;
        let (embedding, face, analysis) = match given_template(&mut req)? {
            Some(template) => (
                self.client_template(template)?,
                FaceGeometry::default(),
                None,
            ),
            None => {
                let face = self
                    .pipeline
                    .embed_one_face(convert::owned_image(req.image)?, policy)
                    .await?;
                let options = AnalysisOptions {
                    liveness: req.check_liveness,
                    deepfake: req.check_deepfake,
                    quality: req.include_quality,
                };
                let analysis = self.face_analysis(&face, options).await?;
                let geometry = convert::geometry(&face.face);
                (face.embedding.vector, geometry, Some(analysis))
            }
        };
        let template = NewTemplate {
            app: app.to_string(),
            gallery: gallery.clone(),
            id,
            embedding,
            face,
            metadata,
            replace: req.replace,
        };
        let galleries = self.galleries.clone();
        let record = blocking(move || galleries.add(template)).await??;
        Ok(pb::AddResponse {
            transaction_id: convert::transaction_id(),
            template_id: record.id.to_string(),
            gallery,
            face: analysis,
        })
    }

    /// Identify; a gallery that does not exist yet is GALLERY_NOT_FOUND (113).
    pub async fn identify(
        &self,
        app: &str,
        req: pb::IdentifyRequest,
    ) -> Result<pb::IdentifyResponse, ApiError> {
        self.identify_in(app, req, MissingGallery::NotFound).await
    }

    /// Identify, answering a gallery that does not exist yet as `missing` says. The photo is checked first, so
    /// a request without a usable photo gets the photo's error whatever the gallery.
    pub async fn identify_in(
        &self,
        app: &str,
        req: pb::IdentifyRequest,
        missing: MissingGallery,
    ) -> Result<pb::IdentifyResponse, ApiError> {
        let gallery = gallery_name(&req.gallery)?;
        let top_k = match req.top_k {
            0 => 1,
            k if k <= MAX_TOP_K => k,
            k => {
                return Err(ApiError::invalid(format!(
                    "top_k {k} is outside 1..{MAX_TOP_K}"
                )));
            }
        };
        let threshold = self.matching.threshold(req.threshold.as_ref())?;
        let policy = convert::face_policy(req.face_policy)?;
        let image = self
            .pipeline
            .decode(convert::owned_image(req.image)?)
            .await?;
        // The gallery is looked up once, before any model runs: a missing one costs no inference.
        let target = {
            let (galleries, app, gallery) =
                (self.galleries.clone(), app.to_string(), gallery.clone());
            match blocking(move || galleries.find(&app, &gallery)).await? {
                Ok(target) => Some(target),
                Err(GalleryError::GalleryNotFound { .. }) if missing == MissingGallery::NoMatch => {
                    None
                }
                Err(e) => return Err(e.into()),
            }
        };
        let face = self.pipeline.embed_one_face_of(image, policy).await?;
        let options = AnalysisOptions {
            liveness: req.check_liveness,
            deepfake: req.check_deepfake,
            quality: req.include_quality,
        };
        // The face's analysis runs beside the search: they need nothing of each other.
        let (galleries, query) = (self.galleries.clone(), face.embedding.vector.clone());
        let (analysis, hits) = tokio::join!(self.face_analysis(&face, options), async {
            match target {
                Some(target) => Ok::<_, ApiError>(
                    blocking(move || galleries.search_in(&target, &query, top_k as usize))
                        .await??,
                ),
                None => Ok(Vec::new()),
            }
        });
        let (analysis, hits) = (analysis?, hits?);
        let best_similarity = hits.first().map_or(0.0, |h| h.similarity);
        let matches: Vec<pb::Match> = hits
            .into_iter()
            .filter(|h| h.similarity >= threshold)
            .map(|h| {
                let scored = self.matching.score(h.similarity);
                pb::Match {
                    template_id: h.id.to_string(),
                    similarity: h.similarity,
                    score: scored.score,
                    fa_r: scored.fa_r,
                    fr_r: scored.fr_r,
                    metadata: h.metadata.into_iter().collect(),
                }
            })
            .collect();
        let best = matches.first();
        Ok(pb::IdentifyResponse {
            transaction_id: convert::transaction_id(),
            matched: best.is_some(),
            template_id: best.map(|m| m.template_id.clone()).unwrap_or_default(),
            similarity: best.map_or(0.0, |m| m.similarity),
            best_similarity,
            threshold,
            face: Some(analysis),
            gallery,
            matches,
        })
    }

    pub async fn verify(
        &self,
        app: &str,
        req: pb::VerifyRequest,
    ) -> Result<pb::VerifyResponse, ApiError> {
        let gallery = gallery_name(&req.gallery)?;
        let threshold = self.matching.threshold(req.threshold.as_ref())?;
        let policy = convert::face_policy(req.face_policy)?;
        let (a, b) = tokio::join!(
            self.verify_side(app, &gallery, req.a, policy),
            self.verify_side(app, &gallery, req.b, policy)
        );
        let ((emb_a, face_a), (emb_b, face_b)) = (a?, b?);
        let similarity = dot(&emb_a, &emb_b);
        let scored = self.matching.score(similarity);
        Ok(pb::VerifyResponse {
            transaction_id: convert::transaction_id(),
            verified: similarity >= threshold,
            similarity,
            score: scored.score,
            fa_r: scored.fa_r,
            fr_r: scored.fr_r,
            threshold,
            face_a,
            face_b,
        })
    }

    /// The embedding of one side of a verification, and the face analysis when it was a photo.
    async fn verify_side(
        &self,
        app: &str,
        gallery: &str,
        input: Option<pb::FaceInput>,
        policy: FacePolicy,
    ) -> Result<(Vec<f32>, Option<pb::FaceAnalysis>), ApiError> {
        use pb::face_input::Source;
        match input.and_then(|i| i.source) {
            None => Err(ApiError::new(
                pb::ErrorCode::PhotoEmpty,
                "photo should not be empty",
            )),
            Some(Source::Image(image)) => {
                let face = self
                    .pipeline
                    .embed_one_face(convert::owned_image(Some(image))?, policy)
                    .await?;
                let analysis = self
                    .face_analysis(&face, AnalysisOptions::default())
                    .await?;
                Ok((face.embedding.vector, Some(analysis)))
            }
            Some(Source::TemplateId(id)) => {
                let id = convert::template_id(&id)?;
                let (galleries, app, gallery) =
                    (self.galleries.clone(), app.to_string(), gallery.to_string());
                let record = blocking(move || galleries.get(&app, &gallery, id)).await??;
                Ok((record.embedding, None))
            }
            Some(Source::Template(template)) => Ok((self.client_template(template)?, None)),
        }
    }

    /// Checks a template a client sent: same recognizer, right dimension, finite and unit-length.
    fn client_template(&self, template: pb::Template) -> Result<Vec<f32>, ApiError> {
        let model = self.pipeline.recognizer_name();
        if template.model != model {
            return Err(ApiError::new(
                pb::ErrorCode::TemplateModelMismatch,
                format!(
                    "template was made by {:?}, this server's recognizer is {model:?}",
                    template.model
                ),
            ));
        }
        Ok(validate_embedding(
            &template.embedding,
            self.pipeline.dimension(),
        )?)
    }
}

/// The template an `Add` gives instead of a photo, if any: exactly one source, and the photo-only checks refused.
fn given_template(req: &mut pb::AddRequest) -> Result<Option<pb::Template>, ApiError> {
    let bytes = std::mem::take(&mut req.template_bytes);
    let template = match (req.template.take(), bytes.is_empty()) {
        (None, true) => return Ok(None),
        (Some(_), false) => {
            return Err(ApiError::invalid(
                "give one of image, template and template_bytes",
            ));
        }
        (Some(template), true) => template,
        (None, false) => crate::template::decode(&bytes)?,
    };
    if req.image.is_some() {
        return Err(ApiError::invalid(
            "give one of image, template and template_bytes",
        ));
    }
    if req.check_liveness || req.check_deepfake || req.include_quality {
        return Err(ApiError::invalid(
            "check_liveness, check_deepfake and include_quality need a photo, not a template",
        ));
    }
    Ok(Some(template))
}
