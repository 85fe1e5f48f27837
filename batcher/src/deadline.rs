//! The caller's deadline, carried by the task instead of by every function between the wire and the queue: a
//! handler runs its operation inside [`with_deadline`] and each batcher submission in it reads
//! [`current_deadline`], so a gRPC `grpc-timeout` or an HTTP timeout reaches every model queue the request touches
//! without threading a parameter through the engine and the pipeline.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static DEADLINE: Option<Instant>;
}

/// Runs `future` with `deadline` as the deadline of every batcher request it makes (the earlier one wins when
/// scopes nest). Futures spawned onto other tasks do not inherit it.
pub async fn with_deadline<F: Future>(deadline: Option<Instant>, future: F) -> F::Output {
    let deadline = earliest(deadline, current_deadline());
    DEADLINE.scope(deadline, future).await
}

/// The deadline of the running task, if it runs inside [`with_deadline`] with one.
pub fn current_deadline() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok().flatten()
}

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_earliest_deadline_of_nested_scopes_wins() {
        assert_eq!(current_deadline(), None);
        let soon = Instant::now() + Duration::from_secs(1);
        let later = soon + Duration::from_secs(1);
        let seen = with_deadline(Some(soon), async {
            with_deadline(Some(later), async { current_deadline() }).await
        })
        .await;
        assert_eq!(seen, Some(soon));
        assert_eq!(
            with_deadline(None, async { current_deadline() }).await,
            None
        );
    }
}
