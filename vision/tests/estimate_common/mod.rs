//! Shared helpers of the estimator tests: the real models, the default detector, and faces of real photos.
#![allow(dead_code)]

use std::sync::Arc;

use faceserve_batcher::NoopObserver;
use faceserve_vision::estimate::model::{BoxedModel, Estimator, LoadSpec, load};
use faceserve_vision::estimate::registry::find;
use faceserve_vision::estimate::{FaceJob, FaceRegion};
use faceserve_vision::pipeline::{FacePipeline, OwnedImage};
use image::RgbImage;

use crate::support::{default_pipeline_config, model, photo, runtime};

/// The registry's model `name` as a family-`E` batcher model.
pub fn estimator<E: Estimator>(name: &str, max_batch: usize) -> BoxedModel<E::Input, E::Output> {
    let spec = LoadSpec {
        name: name.to_string(),
        family: find(name).expect("a registry model").family,
        max_batch,
        min_confidence: 0.3,
    };
    load::<E>(&runtime(), &model(name), &spec).expect("the model loads")
}

pub async fn pipeline() -> FacePipeline {
    FacePipeline::start(
        &runtime(),
        &default_pipeline_config(),
        Arc::new(NoopObserver),
    )
    .expect("pipeline starts")
}

pub async fn decode(p: &FacePipeline, bytes: Vec<u8>) -> Arc<RgbImage> {
    p.decode(OwnedImage::Encoded(bytes))
        .await
        .expect("photo decodes")
}

/// Every face the detector finds in `image`, largest first.
pub async fn faces_of(p: &FacePipeline, image: Arc<RgbImage>) -> Vec<FaceJob> {
    let mut faces = p.detect(image.clone()).await.expect("detection runs");
    faces.sort_by(|a, b| b.area().total_cmp(&a.area()));
    faces
        .iter()
        .map(|d| FaceJob {
            image: image.clone(),
            face: FaceRegion::from(d),
        })
        .collect()
}

/// The largest face of a test photo.
pub async fn face(p: &FacePipeline, relative: &str) -> FaceJob {
    let image = decode(p, photo(relative)).await;
    faces_of(p, image)
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{relative}: no face"))
}

/// The same photo flipped left to right, with its face found again.
pub async fn mirrored(p: &FacePipeline, job: &FaceJob) -> FaceJob {
    let flipped = Arc::new(image::imageops::flip_horizontal(job.image.as_ref()));
    faces_of(p, flipped)
        .await
        .into_iter()
        .next()
        .expect("mirrored face")
}

/// The whole photo as the face region: for datasets of face crops (UTKFace, FER2013).
pub fn whole(image: Arc<RgbImage>) -> FaceJob {
    let (w, h) = image.dimensions();
    FaceJob {
        image,
        face: FaceRegion {
            bbox: [0.0, 0.0, w as f32, h as f32],
            landmarks: None,
        },
    }
}
