//! Bidirectional streams that answer every request exactly once, in request order, with at most `max_in_flight`
//! requests of one stream running at a time (backpressure: the stream is not read further while it is full).
//!
//! "Latest frame wins": for live cameras a frame that is still waiting for a slot when a newer frame of the same
//! stream arrives is answered as skipped instead of being processed late. A frame that already runs is never
//! skipped, so the newest frame always gets through.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::sync::{Semaphore, watch};
use tonic::{Status, Streaming};

pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Requests of one stream processed at once.
    pub max_in_flight: usize,
    /// Requests read ahead while waiting for a slot, so a newer frame can be seen (only with latest-frame-wins).
    pub read_ahead: usize,
}

/// How a stream treats requests that are still waiting when a newer one arrives.
pub enum Skipping<Req, Resp> {
    /// Every request is processed.
    Never,
    /// Requests for which `enabled` is true are answered with `answer` when a newer request arrived before they ran.
    LatestWins {
        enabled: fn(&Req) -> bool,
        answer: Box<dyn Fn(Req) -> Resp + Send + Sync>,
    },
}

/// Answers `incoming` with `handle`, in order. An error reading the incoming stream ends the answer stream with it.
pub fn ordered<Req, Resp, H, Fut>(
    incoming: Streaming<Req>,
    limits: StreamLimits,
    skipping: Skipping<Req, Resp>,
    handle: H,
) -> ResponseStream<Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    H: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let (newest_tx, newest_rx) = watch::channel(0u64);
    let handle = Arc::new(handle);
    let skipping = Arc::new(skipping);
    let read_ahead = match *skipping {
        Skipping::Never => limits.max_in_flight.max(1),
        Skipping::LatestWins { .. } => limits.read_ahead.max(limits.max_in_flight).max(1),
    };
    let mut seq = 0u64;
    let answers = incoming
        .map(move |item| {
            seq += 1;
            newest_tx.send_replace(seq);
            let (slots, newest, handle, skipping) = (
                slots.clone(),
                newest_rx.clone(),
                handle.clone(),
                skipping.clone(),
            );
            let my_seq = seq;
            async move {
                let req = item?;
                let skippable = match &*skipping {
                    Skipping::LatestWins { enabled, .. } => enabled(&req),
                    Skipping::Never => false,
                };
                match wait_for_slot(&slots, newest, my_seq, skippable).await {
                    Some(_slot) => Ok(handle(req).await),
                    None => match &*skipping {
                        Skipping::LatestWins { answer, .. } => Ok(answer(req)),
                        Skipping::Never => {
                            unreachable!("only skippable requests give up their slot")
                        }
                    },
                }
            }
        })
        .buffered(read_ahead)
        // Stop after the first error so the client sees it as the stream's final status.
        .scan(false, |failed, answer: Result<Resp, Status>| {
            let out = (!*failed).then_some(answer);
            if let Some(Err(_)) = &out {
                *failed = true;
            }
            futures::future::ready(out)
        });
    Box::pin(answers)
}

/// A slot for request `seq`; None when it is skippable and a newer request arrived while it waited.
async fn wait_for_slot(
    slots: &Arc<Semaphore>,
    mut newest: watch::Receiver<u64>,
    seq: u64,
    skippable: bool,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    loop {
        if skippable && *newest.borrow_and_update() > seq {
            return None;
        }
        tokio::select! {
            permit = slots.clone().acquire_owned() => return permit.ok(),
            changed = newest.changed(), if skippable => {
                if changed.is_err() {
                    // The reader is gone; nothing newer can arrive.
                    return slots.clone().acquire_owned().await.ok();
                }
            }
        }
    }
}

/// The error for a stream item without its request.
pub fn missing_request() -> faceserve_engine::ApiError {
    faceserve_engine::ApiError::new(
        faceserve_proto::v1::ErrorCode::PhotoEmpty,
        "photo should not be empty",
    )
}
