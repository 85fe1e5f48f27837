//! Galleries without a model run per template: `Add` with a template made before (checked: recognizer, dimension,
//! finite values), `faceserve enrol` of a folder (resumable), and `faceserve export` / `import` of a gallery. One
//! server for the whole file.

mod common;

use std::path::Path;
use std::process::Command;

use common::{TestServer, encoded, engine_code, photo, testdata};
use faceserve_proto::v1 as pb;

async fn server() -> &'static TestServer {
    TestServer::shared(&[]).await
}

async fn template_of(server: &TestServer, relative: &str) -> pb::Template {
    let mut client = server.client().await;
    let gallery = format!("source-{}", uuid::Uuid::new_v4());
    let added = client
        .add(pb::AddRequest {
            image: encoded(photo(relative)),
            gallery: gallery.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    client
        .get_template(pb::GetTemplateRequest {
            gallery,
            template_id: added.template_id,
            include_embedding: true,
        })
        .await
        .unwrap()
        .into_inner()
        .template
        .expect("the embedding was asked for")
}

#[tokio::test]
async fn a_template_is_enrolled_without_a_photo_and_bad_ones_are_refused() {
    let server = server().await;
    let mut client = server.client().await;
    let amy = template_of(server, "faceapi_js_images/examples/images/amy/amy1.png").await;
    let add = |template: pb::Template| pb::AddRequest {
        template: Some(template),
        gallery: "imported".into(),
        ..Default::default()
    };
    let added = client.add(add(amy.clone())).await.unwrap().into_inner();
    assert!(added.face.is_none(), "no photo, no face analysis");
    let found = client
        .identify(pb::IdentifyRequest {
            image: encoded(photo("faceapi_js_images/examples/images/amy/amy4.png")),
            gallery: "imported".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.template_id, added.template_id, "{found:?}");

    let other_model = pb::Template {
        model: "another_recognizer".into(),
        ..amy.clone()
    };
    let short = pb::Template {
        embedding: amy.embedding[..128].to_vec(),
        ..amy.clone()
    };
    let mut nan = amy.clone();
    nan.embedding[7] = f32::NAN;
    for (template, code) in [
        (other_model, pb::ErrorCode::TemplateModelMismatch),
        (short, pb::ErrorCode::TemplateModelMismatch),
        (nan, pb::ErrorCode::InvalidArgument),
    ] {
        let status = client.add(add(template)).await.unwrap_err();
        assert_eq!(engine_code(&status), code, "{status:?}");
    }
    let both = pb::AddRequest {
        image: encoded(photo("faceapi_js_images/examples/images/amy/amy1.png")),
        ..add(amy.clone())
    };
    let status = client.add(both).await.unwrap_err();
    assert_eq!(engine_code(&status), pb::ErrorCode::InvalidArgument);
    let stats = client
        .get_gallery_stats(pb::GetGalleryStatsRequest {
            gallery: "imported".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.template_count, 1, "refused templates are not stored");
}

fn faceserve(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faceserve"))
        .args(args)
        .output()
        .expect("faceserve runs")
}

async fn count(server: &TestServer, gallery: &str) -> u64 {
    server
        .client()
        .await
        .get_gallery_stats(pb::GetGalleryStatsRequest {
            gallery: gallery.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .template_count
}

#[tokio::test]
async fn a_folder_is_enrolled_resumed_exported_and_imported() {
    let server = server().await;
    let url = format!("http://{}", server.grpc_addr);
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    for (person, files) in [
        ("amy", ["amy1.png", "amy2.png"]),
        ("raj", ["raj1.png", "raj2.png"]),
    ] {
        std::fs::create_dir_all(photos.join(person)).unwrap();
        for file in files {
            let from =
                testdata().join(format!("faceapi_js_images/examples/images/{person}/{file}"));
            std::fs::copy(from, photos.join(person).join(file)).unwrap();
        }
    }
    let folder = photos.to_str().unwrap();
    let enrol = faceserve(&["enrol", folder, "--gallery", "folder", "--server", &url]);
    assert!(
        enrol.status.success(),
        "{}",
        String::from_utf8_lossy(&enrol.stderr)
    );
    assert_eq!(count(server, "folder").await, 4);

    // A second run finds every photo enrolled: nothing is sent again.
    std::fs::write(photos.join("amy/broken.png"), b"not a photo").unwrap();
    let again = faceserve(&["enrol", folder, "--gallery", "folder", "--server", &url]);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success(),
        "a broken photo fails the run: {said}"
    );
    assert!(
        said.contains("4 already in gallery folder") && said.contains("broken.png"),
        "{said}"
    );
    assert_eq!(count(server, "folder").await, 4);

    let export = dir.path().join("folder.jsonl");
    let out = faceserve(&[
        "export",
        "--gallery",
        "folder",
        "--out",
        export.to_str().unwrap(),
        "--server",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&export).unwrap();
    assert_eq!(lines.lines().count(), 4);
    assert!(
        lines.contains("\"name\":\"raj1\""),
        "templates are named after their files"
    );
    let import = faceserve(&[
        "import",
        export.to_str().unwrap(),
        "--gallery",
        "copy",
        "--server",
        &url,
    ]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert_eq!(count(server, "copy").await, 4);
    let found = server
        .client()
        .await
        .identify(pb::IdentifyRequest {
            image: encoded(photo("faceapi_js_images/examples/images/raj/raj3.png")),
            gallery: "copy".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let raj = found.matches.first().expect("raj is found in the copy");
    assert!(raj.metadata["file"].starts_with("raj"), "{raj:?}");
    assert!(Path::new(&raj.metadata["file"]).extension().is_some());
}
