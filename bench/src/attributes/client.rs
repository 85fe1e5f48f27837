//! Sending photos to a running server's `EstimateStream` and collecting the answers in order (the server bounds
//! the requests in flight: `streams.max_in_flight`).

use std::path::Path;

use anyhow::Context;
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::estimate_service_client::EstimateServiceClient;
use futures::StreamExt;
use tonic::transport::Channel;

use super::Faces;

pub struct Client {
    inner: EstimateServiceClient<Channel>,
    faces: Faces,
}

/// The answer for one photo: the server's, or its error.
pub type Answer = Result<pb::EstimateResponse, pb::ErrorDetail>;

impl Client {
    pub async fn connect(addr: &str, faces: Faces) -> anyhow::Result<Self> {
        let inner = EstimateServiceClient::connect(addr.to_string())
            .await
            .with_context(|| format!("connecting to {addr}"))?
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        Ok(Self { inner, faces })
    }

    /// Runs `estimators` on every photo of `paths` (through `faces`: the client's default, or `Detect` to force the
    /// detector); one answer per photo, in order.
    pub async fn estimate(
        &self,
        paths: &[impl AsRef<Path>],
        estimators: &[pb::Estimator],
        faces: Option<Faces>,
    ) -> anyhow::Result<Vec<Answer>> {
        let whole = faces.unwrap_or(self.faces) == Faces::Whole;
        let requests: Vec<pb::EstimateStreamRequest> = paths
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let bytes = std::fs::read(path.as_ref())
                    .with_context(|| format!("reading {}", path.as_ref().display()))?;
                Ok(pb::EstimateStreamRequest {
                    request_id: i.to_string(),
                    request: Some(pb::EstimateRequest {
                        image: Some(pb::Image {
                            source: Some(pb::image::Source::Encoded(bytes)),
                        }),
                        estimators: estimators.iter().map(|&e| e as i32).collect(),
                        faces: if whole {
                            vec![pb::FaceRegion {
                                bbox: vec![0.0, 0.0, 1.0, 1.0],
                                ..Default::default()
                            }]
                        } else {
                            Vec::new()
                        },
                        include_landmarks_106: false,
                    }),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let mut client = self.inner.clone();
        let answers = client
            .estimate_stream(futures::stream::iter(requests))
            .await
            .context("EstimateStream")?
            .into_inner();
        let answers: Vec<_> = answers.collect().await;
        answers
            .into_iter()
            .map(|a| {
                use pb::estimate_stream_response::Result as R;
                match a.context("stream item")?.result {
                    Some(R::Ok(ok)) => Ok(Ok(ok)),
                    Some(R::Error(e)) => Ok(Err(e)),
                    None => anyhow::bail!("an answer without a result"),
                }
            })
            .collect()
    }
}

/// The largest face of an answer (the detector's list is largest first).
pub fn main_face(answer: &Answer) -> Option<&pb::FaceObject> {
    answer.as_ref().ok().and_then(|a| a.faces.first())
}
