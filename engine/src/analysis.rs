//! What `Add`, `Identify` and `Verify` report about the face they were answered for: its box, the recognizer's
//! embedding norm, and the optional checks a request asks for: liveness (`check_liveness`, EXPERIMENTAL: the
//! configured liveness model and threshold), deepfake (`check_deepfake`: no model exists, so always "not
//! available") and the first spec's quality block (`include_quality`). A check without a model answers
//! "not available" with the reason; it never reports a score it did not compute.

use faceserve_proto::v1 as pb;
use faceserve_vision::estimate::{FaceJob, FaceRegion};
use faceserve_vision::pipeline::EmbeddedFace;

use crate::{ApiError, Engine, convert};

/// The optional parts of a face analysis a request asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalysisOptions {
    pub liveness: bool,
    pub deepfake: bool,
    pub quality: bool,
}

impl Engine {
    pub(crate) async fn face_analysis(
        &self,
        face: &EmbeddedFace,
        options: AnalysisOptions,
    ) -> Result<pb::FaceAnalysis, ApiError> {
        let quality = async {
            if options.quality {
                let q = self
                    .face_quality(face.image.clone(), &face.face, face.embedding.raw_norm)
                    .await?;
                Ok::<_, ApiError>(Some(q))
            } else {
                Ok(None)
            }
        };
        let (liveness, quality) =
            tokio::join!(self.liveness_check(options.liveness, face), quality);
        Ok(pb::FaceAnalysis {
            face: Some(convert::face(
                &face.face,
                face.image.width(),
                face.image.height(),
            )),
            liveness: liveness?,
            deepfake: options
                .deepfake
                .then(|| unavailable(&self.estimators.deepfake_reason)),
            embedding_norm: face.embedding.raw_norm,
            quality: quality?,
        })
    }

    async fn liveness_check(
        &self,
        requested: bool,
        face: &EmbeddedFace,
    ) -> Result<Option<pb::CheckResult>, ApiError> {
        if !requested {
            return Ok(None);
        }
        let model = match self.estimators.liveness.get() {
            Ok(model) => model,
            Err(e) => return Ok(Some(unavailable(&e.info))),
        };
        let job = FaceJob {
            image: face.image.clone(),
            face: FaceRegion::from(&face.face),
        };
        let score = model.infer(job).await?;
        Ok(Some(pb::CheckResult {
            available: true,
            score,
            fine: score >= self.estimators.liveness_threshold,
            unavailable_reason: String::new(),
            experimental: true,
        }))
    }
}

fn unavailable(reason: &str) -> pb::CheckResult {
    pb::CheckResult {
        available: false,
        unavailable_reason: reason.to_string(),
        ..Default::default()
    }
}
