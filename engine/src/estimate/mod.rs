//! The Image API's `Estimate`: the caller names its estimators, only their models run. Faces come from the request
//! (normalised `bbox` or pixel `box`, optional five points) or from the detector; every face's estimators run
//! concurrently so the models' queues batch the faces of all requests.

mod answer;
mod face;
mod quality;
mod request;

use std::sync::Arc;

use faceserve_proto::v1 as pb;
use faceserve_vision::decode::DecodeLimits;
use faceserve_vision::estimate::FaceRegion;
use faceserve_vision::pipeline::PipelineError;
use image::RgbImage;

use crate::estimators::{MaskEngine, Slot};
use crate::{ApiError, Engine, convert};
use answer as out;
use request::{Region, Wanted, regions};

impl Engine {
    pub async fn estimate(
        &self,
        req: pb::EstimateRequest,
    ) -> Result<pb::EstimateResponse, ApiError> {
        self.estimate_within(req, self.pipeline.limits()).await
    }

    /// `Estimate` with the photo limits of the API it came through (the Image API keeps the second spec's).
    pub async fn estimate_within(
        &self,
        req: pb::EstimateRequest,
        limits: DecodeLimits,
    ) -> Result<pb::EstimateResponse, ApiError> {
        let wanted = Wanted::parse(&req.estimators)?;
        self.check_estimators(&wanted, &req.faces)?;
        let image = self
            .pipeline
            .decode_within(convert::owned_image(req.image)?, limits)
            .await?;
        let (width, height) = image.dimensions();
        let faces = if !wanted.any_face() {
            Vec::new()
        } else if req.faces.is_empty() {
            self.detected(image.clone()).await?
        } else {
            regions(&req.faces, width, height)?
        };
        if faces.is_empty() && wanted.needs_face() {
            return Err(PipelineError::NoFace.into());
        }
        let bodies = async {
            if !wanted.body {
                return Ok(Vec::new());
            }
            self.estimators.body.infer(image.clone()).await
        };
        let mask_boxes = async {
            match &self.estimators.mask {
                MaskEngine::Detector(Slot::Ready(m))
                    if !faces.is_empty() && self.uses_mask(&wanted) =>
                {
                    m.infer(image.clone()).await.map(Some)
                }
                _ => Ok(None),
            }
        };
        let (bodies, mask_boxes) = tokio::join!(bodies, mask_boxes);
        let (bodies, mask_boxes) = (bodies?, mask_boxes?);
        let estimated = futures::future::join_all(faces.iter().enumerate().map(|(id, region)| {
            self.estimate_face(
                image.clone(),
                id as u32,
                region,
                &wanted,
                req.include_landmarks_106,
                mask_boxes.as_deref(),
            )
        }))
        .await;
        Ok(pb::EstimateResponse {
            transaction_id: convert::transaction_id(),
            image_width: width,
            image_height: height,
            faces: estimated.into_iter().collect::<Result<_, _>>()?,
            bodies: bodies
                .iter()
                .enumerate()
                .map(|(id, p)| out::body(id as u32, p, width, height))
                .collect(),
        })
    }

    /// Refuses, before any model runs, a request naming an estimator without a model.
    fn check_estimators(&self, wanted: &Wanted, faces: &[pb::FaceRegion]) -> Result<(), ApiError> {
        let e = &self.estimators;
        let checks: [(bool, Result<(), ApiError>); 9] = [
            (wanted.age, e.age.get().map(drop)),
            (wanted.gender, e.gender.get().map(drop)),
            (wanted.emotion, e.emotion.get().map(drop)),
            (wanted.liveness, e.liveness.get().map(drop)),
            (wanted.mask, e.check_mask()),
            (wanted.keypoints, e.landmarks.get().map(drop)),
            (wanted.pose, e.pose.get().map(drop)),
            (wanted.body, e.body.get().map(drop)),
            (
                wanted.deepfake,
                Err(ApiError::not_available(e.deepfake_reason.clone())),
            ),
        ];
        for (asked, available) in checks {
            if asked {
                available?;
            }
        }
        // A template aligns the face on five points; a face given by its box alone gets them from the keypoints model.
        if wanted.template && faces.iter().any(|f| f.landmarks.is_empty()) {
            e.landmarks.get().map_err(|err| {
                ApiError::not_available(format!(
                    "{} (a template of a face given without landmarks needs the keypoints model to align it)",
                    err.info
                ))
            })?;
        }
        Ok(())
    }

    async fn detected(&self, image: Arc<RgbImage>) -> Result<Vec<Region>, ApiError> {
        let mut faces = self.pipeline.detect(image).await?;
        faces.sort_by(|a, b| b.area().total_cmp(&a.area()));
        Ok(faces
            .iter()
            .map(|d| Region {
                face: FaceRegion::from(d),
                score: d.score,
            })
            .collect())
    }

    /// Whether a request's mask verdicts are needed: asked for, or for the quality assessment when available.
    fn uses_mask(&self, wanted: &Wanted) -> bool {
        wanted.mask || (wanted.quality && self.estimators.mask.is_ready())
    }
}
