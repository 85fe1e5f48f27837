//! What scores and thresholds mean: the bundled calibration table is sound, a photo verified against itself is a
//! certain match, and thresholds given as a false-accept rate reject the different-person pairs of the deepface
//! set (all of them at 1e-4; at 1e-3 all but at most one, the rate's own expectation being 0.26 of 262).

mod common;

use common::{TestServer, encoded, photo, testdata};
use faceserve_proto::v1 as pb;
use faceserve_vision::calibration::Calibration;

#[test]
fn the_bundled_calibration_table_loads_and_is_monotonic() {
    let table = Calibration::bundled("w600k_mbf").expect("w600k_mbf has a bundled table");
    assert_eq!(table.model, "w600k_mbf");
    assert!(table.genuine_pairs > 1000 && table.impostor_pairs > 1_000_000);
    let mut last = table.rates(-1.0);
    assert_eq!((last.far, last.frr), (1.0, 0.0));
    for i in -199..=200 {
        let r = table.rates(i as f32 / 200.0);
        assert!(
            r.far <= last.far && r.frr >= last.frr && r.score >= last.score,
            "not monotonic at cosine {}: {r:?} after {last:?}",
            i as f32 / 200.0
        );
        last = r;
    }
    // Stricter false-accept targets need higher cosines.
    let thresholds: Vec<f32> = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
        .iter()
        .map(|far| table.threshold_for_far(*far).unwrap())
        .collect();
    assert!(thresholds.windows(2).all(|w| w[1] > w[0]), "{thresholds:?}");
}

fn image_input(bytes: Vec<u8>) -> Option<pb::FaceInput> {
    Some(pb::FaceInput {
        source: Some(pb::face_input::Source::Image(encoded(bytes).unwrap())),
    })
}

#[tokio::test]
async fn a_photo_verified_against_itself_is_a_certain_match() {
    let server = TestServer::start(&[]).await;
    let mut client = server.client().await;
    let bytes = photo("lfw_view1/images/Abdullah_Gul/Abdullah_Gul_0013.jpg");
    let answer = client
        .verify(pb::VerifyRequest {
            a: image_input(bytes.clone()),
            b: image_input(bytes),
            face_policy: pb::FacePolicy::Largest as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(answer.verified && answer.similarity > 0.99, "{answer:?}");
    assert!(answer.fa_r.unwrap() < 1e-5, "fa_r {:?}", answer.fa_r);
    assert!(answer.score.unwrap() > 0.99, "score {:?}", answer.score);
}

#[tokio::test]
async fn far_thresholds_reject_the_deepface_different_pairs() {
    let csv = std::fs::read_to_string(testdata().join("deepface_unit_dataset/master.csv")).unwrap();
    let different: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split(',').collect();
            (f[2] == "No").then(|| (f[0].to_string(), f[1].to_string()))
        })
        .collect();
    assert_eq!(different.len(), 262);

    // Each photo is embedded once, as a template; the pairs are then verified by template id.
    let server = TestServer::start(&[]).await;
    let mut client = server.client().await;
    let mut files: Vec<&String> = different.iter().flat_map(|(x, y)| [x, y]).collect();
    files.sort();
    files.dedup();
    let mut template = std::collections::HashMap::new();
    for file in files {
        let added = client
            .add(pb::AddRequest {
                image: encoded(photo(&format!("deepface_unit_dataset/{file}"))),
                gallery: "deepface".into(),
                face_policy: pb::FacePolicy::Largest as i32,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("enrolling {file}: {s:?}"))
            .into_inner();
        template.insert(file.clone(), added.template_id);
    }
    let by_id = |file: &str| {
        Some(pb::FaceInput {
            source: Some(pb::face_input::Source::TemplateId(template[file].clone())),
        })
    };
    let table = Calibration::bundled("w600k_mbf").unwrap();
    let mut accepted = std::collections::BTreeMap::<String, Vec<String>>::new();
    for far in [1e-3, 1e-4] {
        let expected = table.threshold_for_far(far).unwrap();
        for (x, y) in &different {
            let answer = client
                .verify(pb::VerifyRequest {
                    a: by_id(x),
                    b: by_id(y),
                    gallery: "deepface".into(),
                    threshold: Some(pb::Threshold {
                        kind: Some(pb::threshold::Kind::Far(far)),
                    }),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(answer.threshold, expected);
            if answer.verified {
                accepted
                    .entry(format!("{far:e}"))
                    .or_default()
                    .push(format!("{x} {y}: similarity {}", answer.similarity));
            }
        }
    }
    eprintln!("different-person pairs accepted, by target FAR: {accepted:#?}");
    // 262 impostor pairs at FAR 1e-3 expect 0.26 false accepts; one happens (img22/img9, two blonde women at
    // cosine 0.25: LFW's random cross-person pairs are easier than these). Two would mean the table is off.
    assert!(
        accepted.get("1e-3").map_or(0, Vec::len) <= 1 && !accepted.contains_key("1e-4"),
        "different people accepted: {accepted:#?}"
    );
}
