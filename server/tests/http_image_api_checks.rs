//! The Image API's liveness and quality services over HTTP, compared with the spec's own examples
//! (`../shared/seeds/002_*.txt`, keys and value types) in both versions: liveness values are upper-case in v1 and
//! lower-case in v2; a quality check that can not be computed is absent only when `not_computed` names it.

mod common;
mod http_support;

use http_support::{
    assert_same_shape, b64, ok, post_json as post, spec, spec_json_after, start_http,
};
use serde_json::json;

const AMY1: &str = "faceapi_js_images/examples/images/amy/amy1.png";

#[tokio::test]
async fn liveness_and_quality_services_answer_in_the_specs_shapes() {
    let (_server, base) = start_http(&[]).await;
    let text = spec("002_");
    let image = b64(AMY1);
    for (version, body) in [
        ("v1", json!({"$image": image})),
        ("v2", json!({"_image": {"blob": image, "format": "IMAGE"}})),
    ] {
        let live = ok(
            post(
                &base,
                &format!("/{version}/face-detector-liveness-estimator"),
                &body,
            ),
            "liveness",
        );
        let spec_live = spec_json_after(
            &text,
            &[
                "face-detector-liveness-estimator module",
                version,
                "Response example:",
            ],
        );
        assert_same_shape(&spec_live, &live, "", &[]);
        let value = live["objects"][0]["liveness"]["value"].as_str().unwrap();
        let expected: &[&str] = if version == "v1" {
            &["REAL", "FAKE"]
        } else {
            &["real", "fake"]
        };
        assert!(expected.contains(&value), "{version}: {live}");

        // Quality takes the fitter's faces, as the spec chains them.
        let fitted = ok(
            post(
                &base,
                &format!("/{version}/face-detector-face-fitter"),
                &body,
            ),
            "fitter",
        );
        let mut with_objects = body.clone();
        with_objects["objects"] = fitted["objects"].clone();
        let quality = ok(
            post(
                &base,
                &format!("/{version}/quality-assessment-estimator"),
                &with_objects,
            ),
            "quality",
        );
        let mut spec_quality = spec_json_after(
            &text,
            &["Image Quality Assessment", version, "Response example:"],
        );
        if version == "v2" {
            // The spec's v2 example echoes the photo as v1's "$image", unlike every other v2 example: v2 is `_image`.
            let echoed = spec_quality.as_object_mut().unwrap().remove("$image");
            assert!(echoed.is_some(), "the spec was corrected: drop this");
            assert!(quality["_image"]["blob"].is_string(), "{quality}");
        }
        let ours = &quality["objects"][0]["quality"];
        let checks = if version == "v1" { &ours["qaa"] } else { ours };
        // A check this server can not compute is absent only when `not_computed` names it ("watermark: ...").
        let not_computed = if version == "v1" {
            "notComputed"
        } else {
            "not_computed"
        };
        let topics: Vec<String> = checks[not_computed]
            .as_array()
            .map(|reasons| {
                reasons
                    .iter()
                    .map(|r| {
                        r.as_str()
                            .unwrap()
                            .split(':')
                            .next()
                            .unwrap()
                            .to_lowercase()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (spec_checks, prefix) = if version == "v1" {
            (
                &spec_quality["objects"][0]["quality"]["qaa"],
                ".objects[].quality.qaa",
            )
        } else {
            (&spec_quality["objects"][0]["quality"], ".objects[].quality")
        };
        let absent: Vec<String> = spec_checks
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| {
                topics
                    .iter()
                    .any(|t| key.to_lowercase().contains(t.as_str()))
            })
            .map(|key| format!("{prefix}.{key}"))
            .collect();
        let absent: Vec<&str> = absent.iter().map(String::as_str).collect();
        assert_same_shape(&spec_quality, &quality, "", &absent);
        let total = if version == "v1" {
            "totalScore"
        } else {
            "total_score"
        };
        assert!(checks[total].is_number(), "{version}: {quality}");
    }
}
