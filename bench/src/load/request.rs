//! One load request of each kind, and what became of it: answered, refused by the budget (RESOURCE_EXHAUSTED),
//! expired (DEADLINE_EXCEEDED) or failed otherwise.

use std::time::{Duration, Instant};

use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use tonic::transport::Channel;

use super::{GALLERY, Rpc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answered,
    Refused,
    Expired,
    Failed,
}

/// One finished request.
pub struct Sample {
    pub latency: Duration,
    pub faces: usize,
    pub outcome: Outcome,
}

fn image(bytes: &[u8]) -> Option<pb::Image> {
    Some(pb::Image {
        source: Some(pb::image::Source::Encoded(bytes.to_vec())),
    })
}

fn outcome<T>(result: &Result<T, tonic::Status>) -> Outcome {
    match result {
        Ok(_) => Outcome::Answered,
        Err(s) if s.code() == tonic::Code::ResourceExhausted => Outcome::Refused,
        Err(s) if s.code() == tonic::Code::DeadlineExceeded => Outcome::Expired,
        Err(_) => Outcome::Failed,
    }
}

fn with_deadline<T>(message: T, deadline: Option<Duration>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(deadline) = deadline {
        request.set_timeout(deadline);
    }
    request
}

/// Sends request number `i` of kind `rpc` (mixed cycles through identify, add + delete, verify and list).
pub async fn send(
    client: &mut FaceServiceClient<Channel>,
    rpc: Rpc,
    photos: &[Vec<u8>],
    i: usize,
    deadline: Option<Duration>,
) -> Sample {
    let photo = &photos[i % photos.len()];
    let started = Instant::now();
    let kind = match rpc {
        Rpc::Mixed => [
            Rpc::Identify,
            Rpc::Identify,
            Rpc::Identify,
            Rpc::Add,
            Rpc::Verify,
            Rpc::List,
        ][i % 6],
        other => other,
    };
    let result = match kind {
        Rpc::Identify | Rpc::Mixed | Rpc::Detect => {
            let req = pb::IdentifyRequest {
                image: image(photo),
                gallery: GALLERY.into(),
                face_policy: pb::FacePolicy::Largest as i32,
                ..Default::default()
            };
            outcome(&client.identify(with_deadline(req, deadline)).await)
        }
        Rpc::Add => {
            let req = pb::AddRequest {
                image: image(photo),
                gallery: format!("{GALLERY}-add"),
                face_policy: pb::FacePolicy::Largest as i32,
                ..Default::default()
            };
            let added = client.add(with_deadline(req, deadline)).await;
            // A mixed run deletes what it added, so a long soak keeps the gallery's size.
            if rpc == Rpc::Mixed
                && let Ok(added) = &added
            {
                let _ = client
                    .delete_template(pb::DeleteTemplateRequest {
                        template_id: added.get_ref().template_id.clone(),
                        gallery: format!("{GALLERY}-add"),
                    })
                    .await;
            }
            outcome(&added)
        }
        Rpc::Verify => {
            let other = &photos[(i + 1) % photos.len()];
            let side = |bytes: &[u8]| pb::FaceInput {
                source: Some(pb::face_input::Source::Image(pb::Image {
                    source: Some(pb::image::Source::Encoded(bytes.to_vec())),
                })),
            };
            let req = pb::VerifyRequest {
                a: Some(side(photo)),
                b: Some(side(other)),
                face_policy: pb::FacePolicy::Largest as i32,
                ..Default::default()
            };
            outcome(&client.verify(with_deadline(req, deadline)).await)
        }
        Rpc::List => {
            let req = pb::ListTemplatesRequest {
                gallery: GALLERY.into(),
                page_size: 50,
                ..Default::default()
            };
            outcome(&client.list_templates(with_deadline(req, deadline)).await)
        }
    };
    Sample {
        latency: started.elapsed(),
        faces: usize::from(result == Outcome::Answered && kind != Rpc::List),
        outcome: result,
    }
}
