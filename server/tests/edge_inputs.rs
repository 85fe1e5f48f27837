//! Inputs an outside tester tripped over (issue 15), each answered precisely: long values are echoed cut, an
//! oversized gRPC message is RESOURCE_EXHAUSTED with its limit, template ids have one spelling, 405 and 414 carry
//! the error body, the quality block says why `distortion` is absent, identify checks the photo before the
//! gallery, phone photos pass where the specs do not limit them, and group photos take `?face_policy=largest`.

mod common;
mod http_support;

use common::{TestServer, encoded, engine_code, photo, testdata};
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::ErrorCode;
use http_support::{b64, curl, post_json, start_http};
use serde_json::json;
use tonic::Code;

const AMY1: &str = "faceapi_js_images/examples/images/amy/amy1.png";
const COUPLE: &str = "deepface_unit_dataset/couple.jpg";
/// A 36-megapixel (4912x7360) portrait of 2.5 MB, as a phone takes them.
const PHONE_PHOTO: &str = "compreface_samples/001_A.jpg";

fn path(relative: &str) -> String {
    testdata().join(relative).to_string_lossy().into_owned()
}

fn detail(status: &tonic::Status) -> pb::ErrorDetail {
    faceserve_proto::error_detail_from_status(status)
        .unwrap_or_else(|| panic!("status without ErrorDetail: {status:?}"))
}

#[tokio::test]
async fn long_values_are_echoed_cut_with_their_error_detail() {
    let (server, base) = start_http(&[]).await;
    let mut client = server.client().await;
    let long_gallery = "g".repeat(10_000);
    let status = client
        .list_templates(pb::ListTemplatesRequest {
            gallery: long_gallery.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let info = detail(&status).info;
    assert_eq!(detail(&status).code(), ErrorCode::InvalidArgument);
    assert!(info.len() < 300, "{} bytes echoed", info.len());
    assert!(info.contains("(10000 characters)"), "{info}");

    let long_id = "f".repeat(6_000);
    let status = client
        .get_template(pb::GetTemplateRequest {
            template_id: long_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(engine_code(&status), ErrorCode::InvalidArgument);
    assert!(status.message().len() < 300, "{}", status.message().len());

    let answer = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/delete"),
        "-F",
        &format!("templateId={long_id}"),
    ]);
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.body["result"]["code"], 110);
    let info = answer.body["result"]["info"].as_str().unwrap();
    assert!(
        info.len() < 300 && info.contains("(6000 characters)"),
        "{info}"
    );
}

#[tokio::test]
async fn an_oversized_grpc_message_is_resource_exhausted_naming_the_limit() {
    let server = TestServer::start(&[]).await;
    let mut client = server.client().await;
    let side = 3_400_u32; // 3400 x 3400 x 3 bytes = 34.7 MB, over the 32 MiB message limit
    let status = client
        .add(pb::AddRequest {
            image: Some(pb::Image {
                source: Some(pb::image::Source::Raw(pb::RawImage {
                    width: side,
                    height: side,
                    format: pb::PixelFormat::Rgb8 as i32,
                    pixels: vec![128; (side * side * 3) as usize],
                })),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let detail = detail(&status);
    assert_eq!(detail.code(), ErrorCode::ImageTooLarge);
    assert!(detail.info.contains("33554432"), "{}", detail.info);
}

#[tokio::test]
async fn template_ids_have_one_spelling() {
    let (server, base) = start_http(&[]).await;
    let mut client = server.client().await;
    let id = uuid::Uuid::new_v4().to_string();
    for spelling in [id.to_uppercase(), format!("{{{id}}}")] {
        let status = client
            .add(pb::AddRequest {
                image: encoded(photo(AMY1)),
                template_id: spelling.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            engine_code(&status),
            ErrorCode::InvalidArgument,
            "{spelling}"
        );
        assert!(
            detail(&status).info.contains(&id),
            "{}",
            detail(&status).info
        );
    }
    let added = client
        .add(pb::AddRequest {
            image: encoded(photo(AMY1)),
            template_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        added.template_id, id,
        "the caller's canonical id is kept as sent"
    );

    let answer = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/delete"),
        "-F",
        &format!("templateId={}", id.to_uppercase()),
    ]);
    assert_eq!(
        (answer.status, answer.body["result"]["code"].as_i64()),
        (400, Some(110)),
        "{}",
        answer.text
    );
    let found = client
        .get_template(pb::GetTemplateRequest {
            template_id: id.clone(),
            ..Default::default()
        })
        .await;
    assert!(found.is_ok(), "a refused spelling deletes nothing");
}

#[tokio::test]
async fn method_and_uri_errors_carry_the_error_body() {
    let (_server, base) = start_http(&[]).await;
    let wrong_method = curl(&[&format!("{base}/api/v1.0/add")]);
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.text);
    assert_eq!(wrong_method.body["result"]["status"], "error");
    assert_eq!(wrong_method.body["result"]["code"], 110);
    assert!(wrong_method.body["transactionId"].is_string());

    let long_uri = format!("{base}/api/v1.0/identify?gallery={}", "x".repeat(9_000));
    let too_long = curl(&["-X", "POST", &long_uri]);
    assert_eq!(too_long.status, 414, "{}", too_long.text);
    assert_eq!(too_long.body["result"]["status"], "error");
    assert_eq!(too_long.body["result"]["code"], 110);
}

#[tokio::test]
async fn identify_checks_the_photo_first_and_the_default_gallery_starts_empty() {
    let (server, base) = start_http(&[]).await;
    let mut client = server.client().await;
    let status = client
        .identify(pb::IdentifyRequest {
            gallery: "nobody-here".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(engine_code(&status), ErrorCode::PhotoEmpty, "{status:?}");
    let status = client
        .identify(pb::IdentifyRequest {
            image: encoded(photo(AMY1)),
            gallery: "nobody-here".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(engine_code(&status), ErrorCode::GalleryNotFound);

    // Nothing was ever added: the HTTP API's default gallery answers "no match", with the face found.
    let answer = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/identify"),
        "-F",
        &format!("photo=@{}", path(AMY1)),
    ]);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.body["result"]["templateId"].is_null(),
        "{}",
        answer.text
    );
    assert_eq!(answer.body["result"]["matched"], false);
    assert!(answer.body["result"]["face"]["box"]["w"].as_i64().unwrap() > 32);
    // A photo-less identify is error 1 there too.
    let answer = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/identify"),
        "-F",
        "x=y",
    ]);
    assert_eq!(answer.body["result"]["code"], 1, "{}", answer.text);
}

#[tokio::test]
async fn the_quality_block_says_why_distortion_is_absent() {
    let (_server, base) = start_http(&[]).await;
    let answer = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/add"),
        "-F",
        &format!("photo=@{}", path(AMY1)),
    ]);
    assert_eq!(answer.status, 200, "{}", answer.text);
    let face = &answer.body["result"]["face"];
    assert!(face["quality"].is_object(), "{}", answer.text);
    assert!(face["quality"].get("distortion").is_none());
    let why = face["unavailable"]["quality.distortion"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("distortion"), "{}", answer.text);
}

#[tokio::test]
async fn phone_photos_pass_where_the_specs_do_not_limit_them() {
    let (server, base) = start_http(&[]).await;
    let mut client = server.client().await;
    let added = client
        .add(pb::AddRequest {
            image: encoded(photo(PHONE_PHOTO)),
            ..Default::default()
        })
        .await
        .expect("a 36-megapixel phone photo is enrolled over gRPC")
        .into_inner();
    // The photo is decoded at half scale (18 of 36 megapixels would exceed 16): its face box is still large.
    let face = added.face.unwrap().face.unwrap();
    assert!(face.r#box.unwrap().w > 200, "{face:?}");

    let answer = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/identify"),
        "-F",
        &format!("photo=@{}", path(PHONE_PHOTO)),
    ]);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["result"]["matched"], true, "{}", answer.text);

    // The Image API keeps the second spec's limits: 10 megapixels for its liveness services.
    let liveness = post_json(
        &base,
        "/v1/liveness-estimator",
        &json!({"$image": b64(PHONE_PHOTO), "objects": [{"id": 0, "class": "face", "bbox": [0.2, 0.2, 0.8, 0.8]}]}),
    );
    assert_eq!(liveness.status, 400, "{}", liveness.text);
    assert!(
        liveness.body["detail"]
            .as_str()
            .unwrap()
            .contains("over the limit of 10000000 pixels"),
        "{}",
        liveness.text
    );
    // A decompression bomb is refused from its header everywhere.
    let status = client
        .add(pb::AddRequest {
            image: encoded(faceserve_testkit::bomb_png(20_000, 20_000)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(engine_code(&status), ErrorCode::TooManyPixels);
}

#[tokio::test]
async fn group_photos_take_the_largest_face_when_asked() {
    let (_server, base) = start_http(&[]).await;
    let add = |query: &str| {
        curl(&[
            "-X",
            "POST",
            &format!("{base}/api/v1.0/add{query}"),
            "-F",
            &format!("photo=@{}", path(COUPLE)),
        ])
    };
    let single = add("");
    assert_eq!(single.body["result"]["code"], 6, "{}", single.text);
    let largest = add("?face_policy=largest");
    assert_eq!(largest.status, 200, "{}", largest.text);
    assert!(largest.body["result"]["templateId"].is_string());
    let unknown = add("?face_policy=smallest");
    assert_eq!(unknown.body["result"]["code"], 110, "{}", unknown.text);
}
