//! Read-your-writes across servers on a shared store: the last change this server has applied (answered in the
//! `faceserve-seq` metadata), and waiting, up to a bound, for a change a client asks for (`faceserve-min-seq`).

use faceserve_proto::v1::ErrorCode;

use crate::{ApiError, Engine, blocking};

impl Engine {
    /// The last change of the shared store's feed in this server's indexes; `None` on SQLite.
    pub fn applied_seq(&self) -> Option<u64> {
        self.galleries.applied_seq()
    }

    /// Waits until this server has applied change `seq`, at most `max_seq_wait`; `ReplicaBehind` when it has not.
    /// At once on SQLite, where every write is this server's own.
    pub async fn wait_for_seq(&self, seq: u64) -> Result<(), ApiError> {
        let Some(applied) = self.galleries.applied_seq() else {
            return Ok(());
        };
        if applied >= seq {
            return Ok(());
        }
        let (galleries, bound) = (self.galleries.clone(), self.max_seq_wait);
        if blocking(move || galleries.wait_for_seq(seq, bound)).await? {
            return Ok(());
        }
        let applied = self.galleries.applied_seq().unwrap_or(applied);
        Err(ApiError::new(
            ErrorCode::ReplicaBehind,
            format!(
                "this server has applied changes up to {applied} and the request asks for {seq}; it did not get \
                 there within {} ms (it is catching up, or cut off from the template store): retry, on another \
                 server if need be",
                bound.as_millis()
            ),
        ))
    }
}
