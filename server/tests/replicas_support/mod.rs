//! Several real `faceserve` replicas on one PostgreSQL database (the test binary's throwaway server, from
//! `faceserve_index::store::postgres::throwaway`), and the metadata of read-your-writes.
#![allow(dead_code)]

use std::path::Path;

use faceserve_proto::v1 as pb;

use crate::common::{TestServer, encoded, photo};

/// People with five photos each in the test photos.
pub const PEOPLE: [&str; 8] = [
    "amy",
    "bernadette",
    "howard",
    "leonard",
    "penny",
    "raj",
    "sheldon",
    "stuart",
];

/// Photo `n` (1-5) of `person`.
pub fn face(person: &str, n: u32) -> Option<pb::Image> {
    encoded(photo(&format!(
        "faceapi_js_images/examples/images/{person}/{person}{n}.png"
    )))
}

/// A replica on the database at `url` with its own data folder; started once it answers SERVING (caught up).
pub async fn replica(url: &str, data: &Path, extra: &[&str]) -> TestServer {
    let mut args = vec!["--store", url, "--store-poll-interval-ms", "200"];
    args.extend_from_slice(extra);
    TestServer::start_with_data(data, &args).await
}

/// The `faceserve-seq` of an answer.
pub fn seq_of<T>(response: &tonic::Response<T>) -> u64 {
    response
        .metadata()
        .get("faceserve-seq")
        .expect("answers on a shared store carry faceserve-seq")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A request that must see change `seq`.
pub fn at_least<T>(message: T, seq: u64) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("faceserve-min-seq", seq.to_string().parse().unwrap());
    request
}

pub fn add_request(person: &str, n: u32, gallery: &str) -> pb::AddRequest {
    pb::AddRequest {
        image: face(person, n),
        gallery: gallery.into(),
        metadata: [("name".to_string(), person.to_string())].into(),
        ..Default::default()
    }
}

pub fn identify_request(person: &str, n: u32, gallery: &str) -> pb::IdentifyRequest {
    pb::IdentifyRequest {
        image: face(person, n),
        gallery: gallery.into(),
        top_k: 3,
        ..Default::default()
    }
}
