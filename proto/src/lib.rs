//! faceserve's protobuf API: generated message and service types, the descriptor set that gRPC reflection serves,
//! and the conversion of an [`v1::ErrorDetail`] to and from gRPC status details.

pub mod v1 {
    tonic::include_proto!("faceserve.v1");

    /// The encoded `FileDescriptorSet` of every faceserve proto, for `tonic-reflection`.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("faceserve_descriptor");
}

mod status;

pub use status::{error_detail_from_status, status_with_detail};
