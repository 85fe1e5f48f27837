//! faceserve's protobuf API: generated message types (and, with the `grpc` feature, the service types and the
//! conversion of an [`v1::ErrorDetail`] to and from gRPC status details), and the descriptor set that gRPC
//! reflection serves.

pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/faceserve.v1.rs"));

    /// The encoded `FileDescriptorSet` of every faceserve proto, for `tonic-reflection`.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/faceserve_descriptor.bin"));

    impl ErrorDetail {
        pub fn new(code: ErrorCode, info: impl Into<String>) -> Self {
            Self {
                code: code as i32,
                info: info.into(),
            }
        }
    }
}

#[cfg(feature = "grpc")]
mod status;

#[cfg(feature = "grpc")]
pub use status::{
    error_detail_from_status, retry_delay_from_status, status_with_detail, status_with_retry,
};
