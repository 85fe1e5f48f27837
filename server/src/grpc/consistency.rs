//! Read-your-writes across servers on a shared store, in gRPC metadata. Every unary answer carries
//! `faceserve-seq`: the last change of the store's feed this server has applied (after a write: at least that write's
//! own). A request carrying `faceserve-min-seq: N` (e.g. the `faceserve-seq` of an `Add` answered by another
//! server) waits until this server has applied change N, up to `store.min_seq_wait_ms`, and fails with
//! UNAVAILABLE (engine code 124, REPLICA_BEHIND) past it. On SQLite the header is accepted and never waits.

use faceserve_engine::Engine;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Response, Status};

/// The answer's header: the last applied change.
pub const SEQ_HEADER: &str = "faceserve-seq";
/// The request's header: the change the answer must reflect.
pub const MIN_SEQ_HEADER: &str = "faceserve-min-seq";

/// The request's `faceserve-min-seq`, if any.
pub fn min_seq(metadata: &MetadataMap) -> Result<Option<u64>, Status> {
    let Some(value) = metadata.get(MIN_SEQ_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "{MIN_SEQ_HEADER} must be a change sequence number (the {SEQ_HEADER} of an earlier answer)"
            ))
        })
}

/// Waits for the request's `faceserve-min-seq`, if it has one.
pub async fn wait_for_min_seq(engine: &Engine, metadata: &MetadataMap) -> Result<(), Status> {
    if let Some(seq) = min_seq(metadata)? {
        engine
            .wait_for_seq(seq)
            .await
            .map_err(|e| crate::status::to_status(&e))?;
    }
    Ok(())
}

/// Adds `faceserve-seq` to an answer, on a shared store.
pub fn with_seq<T>(engine: &Engine, mut response: Response<T>) -> Response<T> {
    if let Some(seq) = engine.applied_seq() {
        response
            .metadata_mut()
            .insert(SEQ_HEADER, MetadataValue::from(seq));
    }
    response
}
