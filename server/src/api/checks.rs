//! The optional per-face checks a request can ask for (`check_liveness`, `check_deepfake`). A check without a
//! model answers "not available" with the reason; it never reports a score it did not compute.

use faceserve_proto::v1 as pb;

#[derive(Default)]
pub struct Checks {}

impl Checks {
    pub fn liveness(&self, requested: bool) -> Option<pb::CheckResult> {
        requested.then(|| unavailable("not available: no liveness model is configured"))
    }

    pub fn deepfake(&self, requested: bool) -> Option<pb::CheckResult> {
        requested.then(|| unavailable("not available: no deepfake model is configured"))
    }
}

fn unavailable(reason: &str) -> pb::CheckResult {
    pb::CheckResult {
        available: false,
        unavailable_reason: reason.to_string(),
        ..Default::default()
    }
}
