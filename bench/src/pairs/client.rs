//! The gRPC side shared by `pairs` and `identify`: connecting, and sorting a call's outcome into an answer, a photo
//! where the server found no usable face (a measured failure), a retry (queue full) or a run-stopping error.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use tonic::transport::Channel;

pub async fn connect(addr: &str) -> anyhow::Result<FaceServiceClient<Channel>> {
    let channel = Channel::from_shared(addr.to_string())?
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    Ok(FaceServiceClient::new(channel)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20))
}

pub fn encoded(bytes: Vec<u8>) -> pb::Image {
    pb::Image {
        source: Some(pb::image::Source::Encoded(bytes)),
    }
}

/// A call's result as the benchmarks count it.
#[derive(Debug)]
pub enum Outcome<T> {
    Answer(T),
    /// The server found no face it could use (engine codes 5, 6 and 9): counted, never skipped.
    NoFace(String),
}

const ATTEMPTS: u32 = 30;

/// Runs `call`, retrying while the server's queues are full; any error other than a missing face stops the run,
/// since it means the setup is wrong (bad address, unreadable photo, wrong gallery), not that the models failed.
pub async fn counted<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<Outcome<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    use pb::ErrorCode;
    for attempt in 1..=ATTEMPTS {
        let status = match call().await {
            Ok(answer) => return Ok(Outcome::Answer(answer.into_inner())),
            Err(status) => status,
        };
        let detail = faceserve_proto::error_detail_from_status(&status);
        match detail.as_ref().map(|d| d.code()) {
            Some(ErrorCode::NoFace | ErrorCode::MoreThanOneFace | ErrorCode::FaceTooSmall) => {
                return Ok(Outcome::NoFace(status.message().to_string()));
            }
            Some(ErrorCode::Overloaded) if attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            _ => anyhow::bail!("{what}: {:?}: {}", status.code(), status.message()),
        }
    }
    anyhow::bail!("{what}: the server stayed overloaded after {ATTEMPTS} attempts")
}
