//! Fuzzing what a client's bytes reach before any model runs (`faceserve_testkit::fuzz`, stable Rust): the cloud
//! API's multipart form parser, the Image API's JSON requests (body, base64, `objects` face regions), the Image
//! API's template bytes, and protobuf request messages with the engine's field checks the handlers run first.
//! Every input must be answered or refused with a bounded error, never a panic or a hang. The long run of
//! docs/RELIABILITY.md sets `FACESERVE_FUZZ_EXECS`.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use faceserve_engine::convert;
use faceserve_engine::{ApiError, MAX_INFO_BYTES, Matching};
use faceserve_proto::v1 as pb;
use faceserve_testkit::{fuzz, photo};
use prost::Message;
use serde_json::{Value, json};

use super::form::{Form, PHOTO, TEMPLATE_ID};
use super::image_api::request::{self, Version};
use faceserve_engine::template;

const BOUNDARY: &str = "fuzzboundary";

/// A small real photo: the seeds' image bytes.
fn small_photo() -> Vec<u8> {
    photo("faceapi_js_images/examples/images/amy/amy1.png")
}

/// An error must stay small enough for any client's header limits.
fn assert_bounded(error: &ApiError) {
    let status = crate::status::to_status(error);
    assert!(
        status.message().len() <= MAX_INFO_BYTES + 16,
        "{} bytes",
        status.message().len()
    );
}

fn multipart(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

#[test]
fn fuzzed_multipart_forms_are_read_or_refused() {
    let thumb = &small_photo()[..2_000];
    let seeds = vec![
        multipart(&[(PHOTO, thumb)]),
        multipart(&[
            (PHOTO, thumb),
            (TEMPLATE_ID, b"abb462cf-313f-448c-8dad-bcffbf61a825"),
        ]),
        multipart(&[(TEMPLATE_ID, b"x"), ("photo2", b"\xff\xd8\xff")]),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let report = fuzz::run(
        "multipart_form",
        &seeds,
        fuzz::executions(3_000),
        16_384,
        |bytes| {
            runtime.block_on(async {
                let request = axum::http::Request::builder()
                    .method("POST")
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={BOUNDARY}"),
                    )
                    .body(Body::from(bytes.to_vec()))
                    .unwrap();
                let multipart = Multipart::from_request(request, &()).await;
                match Form::read(multipart.map(Some)).await {
                    Ok(mut form) => {
                        if let Err(error) = form.text(TEMPLATE_ID) {
                            assert_bounded(&error);
                        }
                        let _ = form.image(PHOTO);
                    }
                    Err(error) => assert_bounded(&error),
                }
            });
        },
    );
    report.assert_clean();
}

#[test]
fn fuzzed_image_api_requests_are_parsed_or_refused() {
    let blob = request::encode_base64(&small_photo()[..3_000]);
    let template = request::encode_base64(&template::encode(&pb::Template {
        model: "w600k_mbf".into(),
        embedding: vec![0.5; 8],
    }));
    let seeds: Vec<Vec<u8>> = [
        json!({"$image": blob, "objects": [{"id": 0, "class": "face", "bbox": [0.1, 0.2, 0.5, 0.6]}]}),
        json!({"_image": {"blob": blob, "format": "IMAGE"}, "objects": [{"class": "face", "bbox": [0, 0, 1, 1],
            "keypoints": {"left_eye": {"proj": [0.3, 0.3]}}}]}),
        json!({"objects": [{"$template": template}, {"template": {"x": {"blob": template}}}]}),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect();
    let report = fuzz::run(
        "image_api_json",
        &seeds,
        fuzz::executions(3_000),
        16_384,
        |bytes| {
            let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
                return;
            };
            for version in [Version::V1, Version::V2] {
                match request::parse(version, body.clone()) {
                    Ok(parsed) => {
                        for (index, object) in parsed.objects.iter().enumerate() {
                            if let Err(error) = request::face_region(index, object, version) {
                                assert_bounded(&error);
                            }
                            for key in ["$template", "blob"] {
                                if let Some(text) = object.get(key).and_then(Value::as_str)
                                    && let Ok(bytes) = request::decode_base64(text)
                                {
                                    let _ = template::decode(&bytes);
                                }
                            }
                        }
                    }
                    Err(error) => assert_bounded(&error),
                }
            }
        },
    );
    report.assert_clean();
}

#[test]
fn fuzzed_template_bytes_round_trip_or_are_refused() {
    let seeds = vec![
        template::encode(&pb::Template {
            model: "w600k_mbf".into(),
            embedding: (0..512).map(|i| i as f32 / 512.0).collect(),
        }),
        template::encode(&pb::Template {
            model: String::new(),
            embedding: Vec::new(),
        }),
    ];
    let report = fuzz::run(
        "template_bytes",
        &seeds,
        fuzz::executions(20_000),
        4_096,
        |bytes| {
            match template::decode(bytes) {
                // A decoded template writes back to the same bytes (NaN payloads included: the bits are kept).
                Ok(decoded) => assert_eq!(template::encode(&decoded), bytes),
                Err(error) => assert_bounded(&error),
            }
        },
    );
    report.assert_clean();
}

/// Every request message a client can send, decoded from mutated bytes, through the field checks the engine runs
/// before any model or store (gallery names, template ids, metadata, thresholds, face policy, image form).
#[test]
fn fuzzed_protobuf_requests_are_checked_or_refused() {
    let matching = Matching {
        default_threshold: 0.3,
        calibration: None,
    };
    let image = Some(pb::Image {
        source: Some(pb::image::Source::Encoded(small_photo()[..1_000].to_vec())),
    });
    let seeds = vec![
        pb::AddRequest {
            image: image.clone(),
            gallery: "staff".into(),
            template_id: "abb462cf-313f-448c-8dad-bcffbf61a825".into(),
            metadata: [("name".to_string(), "Amy".to_string())].into(),
            ..Default::default()
        }
        .encode_to_vec(),
        pb::IdentifyRequest {
            image,
            top_k: 5,
            threshold: Some(pb::Threshold {
                kind: Some(pb::threshold::Kind::Far(1e-4)),
            }),
            face_policy: 2,
            ..Default::default()
        }
        .encode_to_vec(),
        pb::ListTemplatesRequest {
            gallery: "g".into(),
            page_size: 10,
            page_token: "01ff".into(),
            ..Default::default()
        }
        .encode_to_vec(),
    ];
    let check = |result: Result<(), ApiError>| {
        if let Err(error) = result {
            assert_bounded(&error);
        }
    };
    let report = fuzz::run(
        "protobuf_requests",
        &seeds,
        fuzz::executions(20_000),
        8_192,
        |bytes| {
            if let Ok(req) = pb::AddRequest::decode(bytes) {
                check(convert::gallery_name(&req.gallery).map(drop));
                check(convert::optional_template_id(&req.template_id).map(drop));
                check(convert::metadata(req.metadata).map(drop));
                check(convert::face_policy(req.face_policy).map(drop));
                check(convert::owned_image(req.image).map(drop));
            }
            if let Ok(req) = pb::IdentifyRequest::decode(bytes) {
                check(convert::gallery_name(&req.gallery).map(drop));
                check(matching.threshold(req.threshold.as_ref()).map(drop));
                check(convert::face_policy(req.face_policy).map(drop));
                check(convert::owned_image(req.image).map(drop));
            }
            if let Ok(req) = pb::VerifyRequest::decode(bytes) {
                for side in [req.a, req.b].into_iter().flatten() {
                    if let Some(pb::face_input::Source::TemplateId(id)) = side.source {
                        check(convert::template_id(&id).map(drop));
                    }
                }
            }
            if let Ok(req) = pb::GetTemplateRequest::decode(bytes) {
                check(convert::gallery_name(&req.gallery).map(drop));
                check(convert::template_id(&req.template_id).map(drop));
            }
            let _ = pb::EstimateRequest::decode(bytes);
            let _ = pb::ListTemplatesRequest::decode(bytes);
        },
    );
    report.assert_clean();
}
