//! The cloud API over HTTP: the specs' own curl examples (host, photo path and UUID filled in, as the specs tell the
//! reader to) answer with the specs' JSON shapes; every engine error comes back in the spec's error body with its
//! HTTP status; the OpenAPI document and the router agree.

mod common;
mod http_support;

use common::testdata;
use http_support::{
    assert_pixel_face, assert_same_shape, curl, shell_curl, spec, spec_curl, spec_json, start_http,
};
use serde_json::Value;

const AMY1: &str = "faceapi_js_images/examples/images/amy/amy1.png";
const AMY4: &str = "faceapi_js_images/examples/images/amy/amy4.png";
const RAJ1: &str = "faceapi_js_images/examples/images/raj/raj1.png";
const SPEC_HOST: &str = "https://cloud.ooto-ai.com";

fn path(relative: &str) -> String {
    testdata().join(relative).to_string_lossy().into_owned()
}

/// Blocks of the specs that need an estimator this server may not have: absent then, compared when present.
const ESTIMATOR_BLOCKS: &[&str] = &[
    ".result.face.liveness",
    ".result.face.deepfake",
    ".result.face.quality",
];

#[tokio::test]
async fn the_specs_curl_examples_answer_in_the_specs_shape() {
    let (_server, base) = start_http(&[]).await;
    let template_id = uuid::Uuid::new_v4().to_string();

    let add_spec = spec("000_");
    let command = spec_curl(&add_spec)
        .replace(SPEC_HOST, &base)
        .replace("/path/to/photo", &path(AMY1))
        .replace("<UUID>", &template_id);
    assert!(
        command.contains("--header 'APP-ID: <put_app_id_here>'"),
        "{command}"
    );
    let added = shell_curl(&command);
    assert_eq!(added.status, 200, "{}", added.text);
    assert_same_shape(
        &spec_json(&add_spec, "Response (HTTP 200)"),
        &added.body,
        "",
        ESTIMATOR_BLOCKS,
    );
    assert_eq!(added.body["result"]["templateId"], template_id.as_str());
    assert_pixel_face(&added.body["result"]["face"]);
    // check_liveness / check_deepfake were asked for: each block is there, or named as unavailable with a reason.
    for check in ["liveness", "deepfake"] {
        let face = &added.body["result"]["face"];
        assert!(
            face.get(check).is_some()
                || face["unavailable"][check]
                    .as_str()
                    .is_some_and(|why| why.starts_with("not available")),
            "{check}: {face}"
        );
    }

    let identify_spec = spec("001_");
    let command = spec_curl(&identify_spec)
        .replace(SPEC_HOST, &base)
        .replace("/path/to/photo", &path(AMY4));
    let found = shell_curl(&command);
    assert_eq!(found.status, 200, "{}", found.text);
    assert_same_shape(
        &spec_json(&identify_spec, "Successful Response (HTTP 200)"),
        &found.body,
        "",
        ESTIMATOR_BLOCKS,
    );
    assert_eq!(found.body["result"]["templateId"], template_id.as_str());
    assert_eq!(found.body["result"]["matched"], true);
    assert_pixel_face(&found.body["result"]["face"]);

    // The spec's error example has the same shape as ours (its code 1, a request without a photo).
    let empty = curl(&["-X", "POST", &format!("{base}/api/v1.0/identify")]);
    assert_eq!(empty.status, 400);
    assert_same_shape(
        &spec_json(&identify_spec, "Error Response (HTTP 400)"),
        &empty.body,
        "",
        &[],
    );
    assert_eq!(
        empty.body["result"],
        serde_json::json!({"status": "error", "code": 1, "info": "photo should not be empty"})
    );

    // Another person finds no match: templateId is null, the best similarity is still reported.
    let other = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/identify"),
        "-F",
        &format!("photo=@{}", path(RAJ1)),
    ]);
    assert_eq!(other.status, 200, "{}", other.text);
    assert_eq!(other.body["result"]["templateId"], Value::Null);
    assert_eq!(other.body["result"]["matched"], false);
    assert!(other.body["result"]["similarity"].as_f64().unwrap() < 0.3);
}

#[tokio::test]
async fn verify_and_delete_in_the_same_style() {
    let (_server, base) = start_http(&[]).await;
    let post = |route: &str, fields: &[String]| {
        let mut args = vec!["-X".to_string(), "POST".into(), format!("{base}{route}")];
        for field in fields {
            args.push("-F".into());
            args.push(field.clone());
        }
        curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let same = post(
        "/api/v1.0/verify",
        &[
            format!("photo=@{}", path(AMY1)),
            format!("photo2=@{}", path(AMY4)),
        ],
    );
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(same.body["result"]["verified"], true, "{}", same.text);
    assert_pixel_face(&same.body["result"]["face"]);
    assert_pixel_face(&same.body["result"]["face2"]);

    let added = post("/api/v1.0/add", &[format!("photo=@{}", path(RAJ1))]);
    let id = added.body["result"]["templateId"]
        .as_str()
        .unwrap()
        .to_string();
    let against_template = post(
        "/api/v1.0/verify",
        &[format!("photo=@{}", path(AMY4)), format!("templateId={id}")],
    );
    assert_eq!(against_template.status, 200, "{}", against_template.text);
    assert_eq!(against_template.body["result"]["verified"], false);
    assert!(against_template.body["result"].get("face2").is_none());

    let deleted = post("/api/v1.0/delete", &[format!("templateId={id}")]);
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["result"]["templateId"], id.as_str());
    assert!(uuid::Uuid::parse_str(deleted.body["transactionId"].as_str().unwrap()).is_ok());
    let again = post("/api/v1.0/delete", &[format!("templateId={id}")]);
    assert_eq!(
        (again.status, again.body["result"]["code"].as_i64()),
        (404, Some(111))
    );
}

/// A photo of one face made small enough that the face is under the 32-pixel bound of error 9.
fn tiny_face_png(dir: &std::path::Path) -> String {
    let full = image::open(path(
        "faceapi_js_images/examples/images/sheldon/sheldon1.png",
    ))
    .unwrap();
    let file = dir.join("tiny.png");
    full.resize_exact(26, 26, image::imageops::FilterType::Triangle)
        .save(&file)
        .unwrap();
    file.to_string_lossy().into_owned()
}

#[tokio::test]
async fn every_engine_error_in_the_specs_error_body() {
    let (_server, base) = start_http(&[]).await;
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let file = tmp.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        file.to_string_lossy().into_owned()
    };
    let obama = std::fs::read(path(
        "face_recognition_examples/examples/knn_examples/test/obama1.jpg",
    ))
    .unwrap();
    let mut padded = obama.clone();
    padded.resize(20_000_001, 0);
    let add = |query: &str, fields: &[String]| {
        let mut args = vec![
            "-X".to_string(),
            "POST".into(),
            format!("{base}/api/v1.0/add{query}"),
        ];
        for field in fields {
            args.push("-F".into());
            args.push(field.clone());
        }
        curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let photo = |file: &str| vec![format!("photo=@{file}")];
    let cases: Vec<(&str, Vec<String>, u16, i64, &str)> = vec![
        ("", vec![], 400, 1, "photo should not be empty"),
        (
            "",
            photo(&write("text.jpg", b"not an image")),
            400,
            2,
            "wrong mime-type in input data",
        ),
        (
            "",
            photo(&write("empty.jpg", b"")),
            400,
            3,
            "photo size is 0 bytes",
        ),
        (
            "",
            photo(&write("half.jpg", &obama[..obama.len() / 2])),
            400,
            4,
            "can not decode image, check it is valid jpeg or png file",
        ),
        (
            "",
            photo(&path("faceapi_js_images/test/images/white.png")),
            400,
            5,
            "can not detect face",
        ),
        (
            "",
            photo(&path("deepface_unit_dataset/couple.jpg")),
            400,
            6,
            "more than one face detected on photo",
        ),
        (
            "",
            photo(&tiny_face_png(tmp.path())),
            400,
            9,
            "can not extract features from sample, probably it is too small",
        ),
        (
            "",
            photo(&write("padded.jpg", &padded)),
            400,
            100,
            "image is 20000001 bytes",
        ),
        (
            "",
            photo(&write(
                "bomb.png",
                &faceserve_testkit::bomb_png(60_000, 60_000),
            )),
            400,
            101,
            "image is 60000x60000 pixels",
        ),
        (
            "",
            vec![
                format!("photo=@{}", path(AMY1)),
                "templateId=not-a-uuid".into(),
            ],
            400,
            110,
            "templateId \"not-a-uuid\" is not a UUID",
        ),
        (
            "?check_liveness=maybe",
            photo(&path(AMY1)),
            400,
            110,
            "query parameter check_liveness",
        ),
    ];
    for (query, fields, status, code, info) in cases {
        let answer = add(query, &fields);
        assert_eq!(answer.status, status, "code {code}: {}", answer.text);
        assert_eq!(answer.body["result"]["status"], "error", "{}", answer.text);
        assert_eq!(answer.body["result"]["code"], code, "{}", answer.text);
        let text = answer.body["result"]["info"].as_str().unwrap();
        assert!(
            text.starts_with(info),
            "code {code}: {text:?} should start with {info:?}"
        );
        assert!(answer.body["transactionId"].is_string());
    }

    // 112: the same template id twice; 113: a gallery that does not exist.
    let id = uuid::Uuid::new_v4().to_string();
    let fields = vec![format!("photo=@{}", path(AMY1)), format!("templateId={id}")];
    assert_eq!(add("", &fields).status, 200);
    let twice = add("", &fields);
    assert_eq!(
        (twice.status, twice.body["result"]["code"].as_i64()),
        (409, Some(112))
    );
    let nowhere = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/identify?gallery=nowhere"),
        "-F",
        &format!("photo=@{}", path(AMY4)),
    ]);
    assert_eq!(
        (nowhere.status, nowhere.body["result"]["code"].as_i64()),
        (404, Some(113))
    );

    // Not multipart at all: there is no photo.
    let json = curl(&[
        "-X",
        "POST",
        &format!("{base}/api/v1.0/add"),
        "-H",
        "Content-Type: application/json",
        "-d",
        "{}",
    ]);
    assert_eq!(
        (json.status, json.body["result"]["code"].as_i64()),
        (400, Some(1))
    );
}

#[tokio::test]
async fn the_openapi_document_and_the_router_agree() {
    let (_server, base) = start_http(&[]).await;
    let doc = curl(&[&format!("{base}/openapi.json")]);
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().unwrap();
    for route in [
        "/api/v1.0/add",
        "/api/v1.0/identify",
        "/api/v1.0/verify",
        "/api/v1.0/delete",
        "/health",
    ] {
        assert!(paths.contains_key(route), "{route} is not documented");
    }
    // Every documented operation is served (an unknown route answers "no such endpoint").
    for (route, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = route.replace("{service}", "age-estimator");
            let answer = curl(&["-X", &method.to_uppercase(), &format!("{base}{concrete}")]);
            assert!(
                !answer.text.contains("no such endpoint") && answer.status != 405,
                "{method} {route} is documented but not served: {} {}",
                answer.status,
                answer.text
            );
        }
    }
    let add = &paths["/api/v1.0/add"]["post"];
    let params: Vec<&str> = add["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"check_liveness") && params.contains(&"check_deepfake"));
    assert!(add["requestBody"]["content"]["multipart/form-data"].is_object());
    assert!(add["security"][0]["app_id"].is_array());
    let health = curl(&[&format!("{base}/health")]);
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("SERVING"))
    );
}
