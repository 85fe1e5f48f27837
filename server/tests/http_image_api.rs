//! The Image API over HTTP, compared with the spec's own examples (`../shared/seeds/002_*.txt`, keys and value
//! types): the face fitter finds the faces, the estimators take its objects as the spec chains them, v1 enums are
//! upper-case and v2 lower-case, templates go from template-extractor to verify-matcher, and errors are
//! `{"detail": ...}` (bad base64: "Failed to decode base64 string").

mod common;
mod http_support;

use http_support::{
    assert_same_shape, b64, ok, post_json as post, spec, spec_json_after, start_http,
};
use serde_json::{Value, json};

const AMY1: &str = "faceapi_js_images/examples/images/amy/amy1.png";
const AMY4: &str = "faceapi_js_images/examples/images/amy/amy4.png";
const RAJ1: &str = "faceapi_js_images/examples/images/raj/raj1.png";
const WHITE: &str = "faceapi_js_images/test/images/white.png";

#[tokio::test]
async fn services_answer_in_the_specs_shapes_in_both_versions() {
    let (_server, base) = start_http(&[]).await;
    let text = spec("002_");
    let image = b64(AMY1);

    // The fitter detects and fits; its objects feed the estimators, as the spec chains its services.
    let fitted_v1 = ok(
        post(
            &base,
            "/v1/face-detector-face-fitter",
            &json!({"$image": image}),
        ),
        "fitter v1",
    );
    let spec_fitter_v1 = spec_json_after(
        &text,
        &["Fitting of Face Landmarks", "v1", "Response example:"],
    );
    assert_same_shape(&spec_fitter_v1, &fitted_v1, "", &[]);
    assert_eq!(fitted_v1["objects"].as_array().unwrap().len(), 1);
    assert_eq!(
        fitted_v1["objects"][0]["fitter"]["keypoints"]
            .as_array()
            .unwrap()
            .len(),
        63
    );
    let fitted_v2 = ok(
        post(
            &base,
            "/v2/face-detector-face-fitter",
            &json!({"_image": {"blob": image, "format": "IMAGE"}}),
        ),
        "fitter v2",
    );
    let spec_fitter_v2 = spec_json_after(
        &text,
        &["Fitting of Face Landmarks", "v2", "Response example:"],
    );
    assert_same_shape(&spec_fitter_v2, &fitted_v2, "", &[]);

    let objects_v1 = fitted_v1["objects"].clone();
    let objects_v2 = fitted_v2["objects"].clone();
    for (section, service, key) in [
        ("Gender Estimation", "gender-estimator", "gender"),
        ("Age Estimation", "age-estimator", "age"),
        ("Emotion Estimation", "emotion-estimator", "emotions"),
        ("Face Mask Check", "mask-estimator", "mask"),
    ] {
        let v1 = ok(
            post(
                &base,
                &format!("/v1/{service}"),
                &json!({"$image": image, "objects": objects_v1}),
            ),
            service,
        );
        let spec_v1 = spec_json_after(&text, &[section, "v1", "Response example:"]);
        assert_same_shape(&spec_v1, &v1, "", &[]);
        let v2 = ok(
            post(
                &base,
                &format!("/v2/{service}"),
                &json!({"_image": {"blob": image, "format": "IMAGE"}, "objects": objects_v2}),
            ),
            service,
        );
        let spec_v2 = spec_json_after(&text, &[section, "v2", "Response example:"]);
        assert_same_shape(&spec_v2, &v2, "", &[]);
        // The caller's object comes back with the estimate added (the fitter's keypoints are still there).
        assert!(v1["objects"][0].get("fitter").is_some(), "{service}: {v1}");
        assert!(
            v2["objects"][0].get("keypoints").is_some(),
            "{service}: {v2}"
        );
        let v2_key = if key == "mask" {
            "has_medical_mask"
        } else {
            key
        };
        assert!(v1["objects"][0].get(key).is_some(), "{service}: {v1}");
        assert!(v2["objects"][0].get(v2_key).is_some(), "{service}: {v2}");
    }

    // Enum spelling: v1 upper-case, v2 lower-case.
    let gender =
        |route: &str, body: Value| post(&base, route, &body).body["objects"][0]["gender"].clone();
    let g1 = gender("/v1/gender-estimator", json!({"$image": image}));
    let g2 = gender(
        "/v2/gender-estimator",
        json!({"_image": {"blob": image, "format": "IMAGE"}}),
    );
    assert_eq!(g1, "FEMALE", "amy is a woman");
    assert_eq!(g2, "female");
    let age = post(&base, "/v1/age-estimator", &json!({"$image": image})).body;
    let years: f64 = age["objects"][0]["age"].as_str().unwrap().parse().unwrap();
    assert!((15.0..60.0).contains(&years), "{age}");

    let bodies = ok(
        post(&base, "/v1/body-detector", &json!({"$image": image})),
        "body",
    );
    let spec_body = spec_json_after(&text, &["Body Detection", "v1", "Response example:"]);
    assert_same_shape(&spec_body, &bodies, "", &[]);
}

#[tokio::test]
async fn templates_round_trip_to_the_verify_matcher() {
    let (_server, base) = start_http(&[]).await;
    let text = spec("002_");
    let extract = |version: &str, relative: &str| {
        let body = match version {
            "v1" => json!({"$image": b64(relative)}),
            _ => json!({"_image": {"blob": b64(relative), "format": "IMAGE"}}),
        };
        let answer = ok(
            post(
                &base,
                &format!("/{version}/face-detector-template-extractor"),
                &body,
            ),
            "template",
        );
        answer["objects"][0].clone()
    };
    let (a, b, other) = (
        extract("v1", AMY1),
        extract("v1", AMY4),
        extract("v1", RAJ1),
    );
    let spec_extract = spec_json_after(
        &text,
        &[
            "face-detector-template-extractor",
            "v1",
            "Response example:",
        ],
    );
    assert_same_shape(&spec_extract["objects"][0], &a, "", &[]);

    let same = ok(
        post(&base, "/v1/verify-matcher", &json!({"objects": [a, b]})),
        "verify",
    );
    let spec_verify = spec_json_after(&text, &["Face Verification", "v1", "Response example:"]);
    assert_same_shape(&spec_verify["verification"], &same["verification"], "", &[]);
    let different = ok(
        post(&base, "/v1/verify-matcher", &json!({"objects": [a, other]})),
        "verify",
    );
    assert!(
        same["verification"]["distance"].as_f64() < different["verification"]["distance"].as_f64(),
        "{same} {different}"
    );
    assert_eq!(same["verification"]["verified"], true);
    assert_eq!(different["verification"]["verified"], false);

    let (a2, b2) = (extract("v2", AMY1), extract("v2", AMY4));
    let spec_extract_v2 = spec_json_after(
        &text,
        &[
            "face-detector-template-extractor",
            "v2",
            "Response example:",
        ],
    );
    // The template's key names the extractor: the spec's is another engine's.
    assert_same_shape(
        &spec_extract_v2["objects"][0],
        &a2,
        "",
        &[".template._face_template_extractor_1000_12"],
    );
    let same_v2 = ok(
        post(&base, "/v2/verify-matcher", &json!({"objects": [a2, b2]})),
        "verify v2",
    );
    assert_eq!(same_v2["verification"]["verified"], true);

    // A template that is not base64: the spec's error.
    let broken = post(
        &base,
        "/v1/verify-matcher",
        &json!({"objects": [{"$template": "%%%"}, {"$template": "%%%"}]}),
    );
    assert_eq!(broken.status, 400);
    assert_eq!(
        broken.body,
        json!({"detail": "Failed to decode base64 string"})
    );
}

#[tokio::test]
async fn errors_answer_the_specs_detail() {
    // The emotion model switched off: its service must say so, never answer a made-up estimate.
    let (_server, base) = start_http(&["--emotion-model="]).await;
    for (route, body) in [
        (
            "/v1/age-estimator",
            json!({"$image": "this is not base64!"}),
        ),
        (
            "/v2/age-estimator",
            json!({"_image": {"blob": "this is not base64!", "format": "IMAGE"}}),
        ),
    ] {
        let answer = post(&base, route, &body);
        assert_eq!(answer.status, 400, "{}", answer.text);
        assert_eq!(
            answer.body,
            json!({"detail": "Failed to decode base64 string"})
        );
    }
    let no_face = post(&base, "/v1/age-estimator", &json!({"$image": b64(WHITE)}));
    assert_eq!(
        (no_face.status, no_face.body["detail"].as_str()),
        (400, Some("can not detect face"))
    );
    let switched_off = post(
        &base,
        "/v2/emotion-estimator",
        &json!({"_image": {"blob": b64(AMY1), "format": "IMAGE"}}),
    );
    assert_eq!(switched_off.status, 400, "{}", switched_off.text);
    assert!(
        switched_off.body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("not available")),
        "{}",
        switched_off.text
    );
    assert!(switched_off.body.get("objects").is_none());
    let empty = post(&base, "/v2/gender-estimator", &json!({}));
    assert_eq!(empty.body["detail"], "photo should not be empty");
    let unknown = post(&base, "/v1/race-estimator", &json!({"$image": b64(AMY1)}));
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("unknown service")
    );
    let not_json = http_support::curl(&[
        "-X",
        "POST",
        &format!("{base}/v1/age-estimator"),
        "-H",
        "Content-Type: application/json",
        "-d",
        "{not json",
    ]);
    assert_eq!(not_json.status, 400);
    assert!(
        not_json.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON body")
    );
}
