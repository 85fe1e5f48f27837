//! Every engine error from a real bad input, over gRPC: the right gRPC code and the spec's code and text in the
//! status details.

mod common;

use common::{TestServer, encoded, engine_code, photo, testdata};
use faceserve_proto::v1 as pb;
use faceserve_proto::v1::ErrorCode;
use tonic::Code;

async fn add_error(server: &TestServer, image: Option<pb::Image>) -> tonic::Status {
    let mut client = server.client().await;
    client
        .add(pb::AddRequest {
            image,
            ..Default::default()
        })
        .await
        .expect_err("the add must fail")
}

fn assert_error(status: &tonic::Status, grpc: Code, code: ErrorCode, info: &str) {
    assert_eq!(status.code(), grpc, "{status:?}");
    assert_eq!(engine_code(status), code, "{status:?}");
    let detail = faceserve_proto::error_detail_from_status(status).unwrap();
    assert!(
        detail.info.starts_with(info),
        "info {:?} should start with {info:?}",
        detail.info
    );
}

/// A photo of one face made small enough that the face is under the 32-pixel bound of error 9.
fn tiny_face_png() -> Vec<u8> {
    let full = image::load_from_memory(&photo(
        "faceapi_js_images/examples/images/sheldon/sheldon1.png",
    ))
    .unwrap();
    let small = full.resize_exact(26, 26, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    small.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn spec_engine_errors_from_real_inputs() {
    let server = TestServer::start(&[]).await;
    let invalid = Code::InvalidArgument;

    let status = add_error(&server, None).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::PhotoEmpty,
        "photo should not be empty",
    );

    let status = add_error(&server, encoded(Vec::new())).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::PhotoZeroBytes,
        "photo size is 0 bytes",
    );

    let text = std::fs::read(testdata().join("README.md")).unwrap();
    let status = add_error(&server, encoded(text)).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::WrongMimeType,
        "wrong mime-type in input data",
    );

    // A WebP file named .jpg: the type is read from the bytes, not the name.
    let webp = photo("ultraface_crowd_imgs/masked_face/imgs/img3.jpg");
    assert_eq!(&webp[8..12], b"WEBP");
    let status = add_error(&server, encoded(webp)).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::WrongMimeType,
        "wrong mime-type in input data",
    );

    let jpeg = photo("face_recognition_examples/examples/knn_examples/test/obama1.jpg");
    let status = add_error(&server, encoded(jpeg[..jpeg.len() / 2].to_vec())).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::CanNotDecode,
        "can not decode image",
    );

    let status = add_error(
        &server,
        encoded(photo("faceapi_js_images/test/images/white.png")),
    )
    .await;
    assert_error(&status, invalid, ErrorCode::NoFace, "can not detect face");

    let status = add_error(&server, encoded(photo("deepface_unit_dataset/couple.jpg"))).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::MoreThanOneFace,
        "more than one face detected on photo",
    );

    let status = add_error(&server, encoded(tiny_face_png())).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::FaceTooSmall,
        "can not extract features from sample",
    );
}

#[tokio::test]
async fn limits_and_arguments_are_refused_precisely() {
    let server = TestServer::start(&[]).await;
    let invalid = Code::InvalidArgument;

    // A decompression bomb of 3.6 gigapixels: refused from the header, over gRPC's 50 megapixels.
    let status = add_error(
        &server,
        encoded(faceserve_testkit::bomb_png(60_000, 60_000)),
    )
    .await;
    assert_error(
        &status,
        invalid,
        ErrorCode::TooManyPixels,
        "image is 60000x60000 pixels",
    );

    let mut padded = photo("face_recognition_examples/examples/knn_examples/test/obama1.jpg");
    padded.resize(20_000_001, 0);
    let status = add_error(&server, encoded(padded)).await;
    assert_error(
        &status,
        invalid,
        ErrorCode::ImageTooLarge,
        "image is 20000001 bytes",
    );

    let raw = Some(pb::Image {
        source: Some(pb::image::Source::Raw(pb::RawImage {
            width: 10,
            height: 10,
            format: pb::PixelFormat::Rgb8 as i32,
            pixels: vec![0; 299],
        })),
    });
    let status = add_error(&server, raw).await;
    assert_error(&status, invalid, ErrorCode::InvalidRawImage, "raw image");

    let mut client = server.client().await;
    let status = client
        .add(pb::AddRequest {
            image: encoded(photo("faceapi_js_images/examples/images/amy/amy1.png")),
            template_id: "not-a-uuid".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&status, invalid, ErrorCode::InvalidArgument, "templateId");

    let id = uuid::Uuid::new_v4().to_string();
    let add = || pb::AddRequest {
        image: encoded(photo("faceapi_js_images/examples/images/amy/amy1.png")),
        template_id: id.clone(),
        ..Default::default()
    };
    client.add(add()).await.unwrap();
    let status = client.add(add()).await.unwrap_err();
    assert_error(&status, Code::AlreadyExists, ErrorCode::TemplateExists, "");
    client
        .add(pb::AddRequest {
            replace: true,
            ..add()
        })
        .await
        .expect("replace overwrites");

    let status = client
        .identify(pb::IdentifyRequest {
            image: encoded(photo("faceapi_js_images/examples/images/amy/amy2.png")),
            gallery: "nobody-here".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::NotFound, ErrorCode::GalleryNotFound, "");

    let status = client
        .get_template(pb::GetTemplateRequest {
            template_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::NotFound, ErrorCode::TemplateNotFound, "");
}
