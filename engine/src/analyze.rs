//! Live frame analysis: every face of a frame, each optionally identified. A face that cannot be identified (too
//! small) carries its own error; only a frame that cannot be read at all fails as a whole.

use std::sync::Arc;

use faceserve_index::GalleryHandle;
use faceserve_proto::v1 as pb;
use faceserve_vision::detect::Detection;
use image::RgbImage;

use crate::convert::{self, gallery_name};
use crate::{ApiError, Engine, blocking};

/// What to identify the faces of a frame against.
struct Target {
    gallery: GalleryHandle,
    threshold: f32,
}

impl Engine {
    pub async fn analyze_frame(&self, app: &str, frame: pb::AnalyzeFrame) -> pb::AnalyzeResult {
        let frame_id = frame.frame_id.clone();
        self.try_analyze_frame(app, frame)
            .await
            .unwrap_or_else(|e| pb::AnalyzeResult {
                frame_id,
                error: Some(e.detail()),
                ..Default::default()
            })
    }

    async fn try_analyze_frame(
        &self,
        app: &str,
        frame: pb::AnalyzeFrame,
    ) -> Result<pb::AnalyzeResult, ApiError> {
        let target = if frame.identify {
            let gallery = gallery_name(&frame.gallery)?;
            let (galleries, app) = (self.galleries.clone(), app.to_string());
            Some(Target {
                gallery: blocking(move || galleries.find(&app, &gallery)).await??,
                threshold: self.matching.threshold(frame.threshold.as_ref())?,
            })
        } else {
            None
        };
        let image = self
            .pipeline
            .decode(convert::owned_image(frame.image)?)
            .await?;
        let faces = self.pipeline.detect(image.clone()).await?;
        // All faces are submitted at once so the recognizer queue can batch them.
        let analyzed = futures::future::join_all(
            faces
                .iter()
                .map(|face| self.analyze_face(image.clone(), face, target.as_ref())),
        )
        .await;
        Ok(pb::AnalyzeResult {
            frame_id: frame.frame_id,
            skipped: false,
            faces: analyzed,
            error: None,
            image_width: image.width(),
            image_height: image.height(),
        })
    }

    async fn analyze_face(
        &self,
        image: Arc<RgbImage>,
        face: &Detection,
        target: Option<&Target>,
    ) -> pb::AnalyzedFace {
        let mut out = pb::AnalyzedFace {
            face: Some(convert::face(face, image.width(), image.height())),
            ..Default::default()
        };
        let Some(target) = target else { return out };
        match self.best_match(image, face, target).await {
            Ok(Some((id, similarity))) => {
                out.matched = similarity >= target.threshold;
                out.similarity = similarity;
                if out.matched {
                    out.template_id = id;
                }
            }
            Ok(None) => {}
            Err(e) => out.error = Some(e.detail()),
        }
        out
    }

    async fn best_match(
        &self,
        image: Arc<RgbImage>,
        face: &Detection,
        target: &Target,
    ) -> Result<Option<(String, f32)>, ApiError> {
        let embedding = self.pipeline.embed(image, face).await?;
        let (galleries, gallery) = (self.galleries.clone(), target.gallery.clone());
        let hits = blocking(move || galleries.search_in(&gallery, &embedding.vector, 1)).await??;
        Ok(hits
            .into_iter()
            .next()
            .map(|h| (h.id.to_string(), h.similarity)))
    }
}
