//! Engine errors travel as a `faceserve.v1.ErrorDetail` packed into the standard `google.rpc.Status` details, so
//! grpcurl and every gRPC client library can decode them without knowing faceserve.

use prost::Message;

use crate::v1::ErrorDetail;

const DETAIL_TYPE_URL: &str = "type.googleapis.com/faceserve.v1.ErrorDetail";
const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// A gRPC status carrying `detail` in its details, with `info` as the status message.
pub fn status_with_detail(code: tonic::Code, detail: ErrorDetail) -> tonic::Status {
    status_with_retry(code, detail, None)
}

/// As [`status_with_detail`], plus the standard `google.rpc.RetryInfo` when the server knows when a retry can
/// expect to be admitted (a refusal by load).
pub fn status_with_retry(
    code: tonic::Code,
    detail: ErrorDetail,
    retry_after: Option<std::time::Duration>,
) -> tonic::Status {
    let mut details = vec![prost_types::Any {
        type_url: DETAIL_TYPE_URL.to_string(),
        value: detail.encode_to_vec(),
    }];
    if let Some(delay) = retry_after {
        let info = tonic_types::pb::RetryInfo {
            retry_delay: Some(prost_types::Duration {
                seconds: delay.as_secs() as i64,
                nanos: delay.subsec_nanos() as i32,
            }),
        };
        details.push(prost_types::Any {
            type_url: RETRY_INFO_TYPE_URL.to_string(),
            value: info.encode_to_vec(),
        });
    }
    let rpc_status = tonic_types::pb::Status {
        code: code as i32,
        message: detail.info.clone(),
        details,
    };
    tonic::Status::with_details(code, detail.info, rpc_status.encode_to_vec().into())
}

/// The retry delay a status carries in a `google.rpc.RetryInfo`, if any.
pub fn retry_delay_from_status(status: &tonic::Status) -> Option<std::time::Duration> {
    let rpc_status = tonic_types::pb::Status::decode(status.details()).ok()?;
    let info = rpc_status
        .details
        .iter()
        .find(|any| any.type_url == RETRY_INFO_TYPE_URL)
        .and_then(|any| tonic_types::pb::RetryInfo::decode(any.value.as_slice()).ok())?;
    let delay = info.retry_delay?;
    Some(std::time::Duration::new(
        delay.seconds.max(0) as u64,
        delay.nanos.max(0) as u32,
    ))
}

/// The `ErrorDetail` a status carries, if any.
pub fn error_detail_from_status(status: &tonic::Status) -> Option<ErrorDetail> {
    let rpc_status = tonic_types::pb::Status::decode(status.details()).ok()?;
    rpc_status
        .details
        .iter()
        .find(|any| any.type_url == DETAIL_TYPE_URL)
        .and_then(|any| ErrorDetail::decode(any.value.as_slice()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::ErrorCode;

    #[test]
    fn detail_survives_a_round_trip_through_status() {
        let status = status_with_detail(
            tonic::Code::InvalidArgument,
            ErrorDetail::new(ErrorCode::NoFace, "can not detect face"),
        );
        assert_eq!(status.message(), "can not detect face");
        let detail = error_detail_from_status(&status).expect("detail present");
        assert_eq!(detail.code(), ErrorCode::NoFace);
        assert_eq!(detail.info, "can not detect face");
    }
}
