//! Engine errors travel as a `faceserve.v1.ErrorDetail` packed into the standard `google.rpc.Status` details, so
//! grpcurl and every gRPC client library can decode them without knowing faceserve.

use prost::Message;

use crate::v1::ErrorDetail;

const DETAIL_TYPE_URL: &str = "type.googleapis.com/faceserve.v1.ErrorDetail";

/// A gRPC status carrying `detail` in its details, with `info` as the status message.
pub fn status_with_detail(code: tonic::Code, detail: ErrorDetail) -> tonic::Status {
    let rpc_status = tonic_types::pb::Status {
        code: code as i32,
        message: detail.info.clone(),
        details: vec![prost_types::Any {
            type_url: DETAIL_TYPE_URL.to_string(),
            value: detail.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(code, detail.info, rpc_status.encode_to_vec().into())
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
