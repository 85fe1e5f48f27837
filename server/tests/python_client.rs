//! The Python example of `clients/python` against a real server with authentication on: a virtual environment with
//! `grpcio` / `grpcio-tools` from PyPI (kept in `target/` between runs), stubs generated from `proto/`, a folder of
//! five people enrolled (plus a two-face photo that must fail alone with error 6), then a sixth photo of one of them
//! identified.

mod common;
mod http_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{testdata, workspace_root};
use http_support::{create_app, start_http_with_data};

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A virtual environment with the example's requirements, made once per target folder.
fn venv(client: &Path) -> PathBuf {
    let venv = workspace_root().join("target/python-client-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    }
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(client.join("requirements.txt")));
    python
}

#[tokio::test]
async fn the_python_example_enrols_a_folder_and_identifies_a_photo() {
    let client = workspace_root().join("clients/python");
    let python = venv(&client);
    let tmp = tempfile::tempdir().unwrap();
    let stubs = tmp.path().join("stubs");
    let bin = python.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(Command::new("bash")
        .arg(client.join("generate_stubs.sh"))
        .arg(&stubs)
        .env("PATH", &path));

    // One sub-folder per person, the first photo of each; a photo with two faces among them.
    let images = testdata().join("faceapi_js_images/examples/images");
    let folder = tmp.path().join("people");
    for person in ["amy", "raj", "sheldon", "leonard", "penny"] {
        std::fs::create_dir_all(folder.join(person)).unwrap();
        std::fs::copy(
            images.join(format!("{person}/{person}1.png")),
            folder.join(format!("{person}/{person}1.png")),
        )
        .unwrap();
    }
    std::fs::copy(
        testdata().join("deepface_unit_dataset/couple.jpg"),
        folder.join("couple.jpg"),
    )
    .unwrap();

    let data = tmp.path().join("data");
    let key = create_app(&data, "python-example");
    let (server, _) = start_http_with_data(&data, &["--auth"]).await;
    let output = run(Command::new(&python)
        .arg(client.join("enrol_and_identify.py"))
        .args(["--server", &server.grpc_addr, "--app-id", "python-example"])
        .args(["--app-key", &key])
        .arg(&folder)
        .arg(images.join("sheldon/sheldon3.png"))
        .env("FACESERVE_STUBS", &stubs));
    let summary: serde_json::Value = serde_json::from_str(output.lines().last().unwrap()).unwrap();
    assert_eq!(summary["enrolled"], 5, "{output}");
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{output}");
    assert_eq!(failed[0]["code"], 6, "{output}");
    assert_eq!(summary["match"]["person"], "sheldon", "{output}");

    // Without the key the server refuses the client.
    let refused = Command::new(&python)
        .arg(client.join("enrol_and_identify.py"))
        .args(["--server", &server.grpc_addr])
        .arg(&folder)
        .arg(images.join("sheldon/sheldon3.png"))
        .env("FACESERVE_STUBS", &stubs)
        .env_remove("FACESERVE_APP_KEY")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("faceserve: UNAUTHENTICATED"), "{stderr}");
}
