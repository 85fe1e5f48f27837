//! Helpers of the HTTP, auth, TLS and client tests: a server with an HTTP listener, curl, the `faceserve apps`
//! command, the specs' own example commands and JSON bodies (read from the specifications beside the workspace),
//! and a comparison of JSON shapes (keys and value types, not numbers).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[allow(unused_imports)]
pub use faceserve_testkit::{free_port, seeds};

use crate::common::TestServer;

/// A server with an HTTP listener on a free port, on a fresh data folder; returns it and the HTTP base URL.
pub async fn start_http(extra_args: &[&str]) -> (TestServer, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--http-addr", addr.as_str()];
    args.extend_from_slice(extra_args);
    let server = TestServer::start(&args).await;
    (server, format!("http://{addr}"))
}

/// As [`start_http`] on a given data folder (e.g. one whose applications were made beforehand).
pub async fn start_http_with_data(data_dir: &Path, extra_args: &[&str]) -> (TestServer, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--http-addr", addr.as_str()];
    args.extend_from_slice(extra_args);
    let server = TestServer::start_with_data(data_dir, &args).await;
    (server, format!("http://{addr}"))
}

pub fn faceserve() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faceserve"))
}

/// `faceserve apps create <app_id>` on a data folder; returns the printed key.
pub fn create_app(data_dir: &Path, app_id: &str) -> String {
    let out = faceserve()
        .args(["apps", "--data-dir"])
        .arg(data_dir)
        .args(["create", app_id, "--note", "test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apps create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(&format!("APP-ID: {app_id}")), "{stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("APP-KEY: "))
        .unwrap_or_else(|| panic!("no key in {stdout:?}"))
        .to_string()
}

pub fn run_apps(data_dir: &Path, args: &[&str]) -> std::process::Output {
    faceserve()
        .args(["apps", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap()
}

/// An HTTP answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

/// Runs curl with `args` (plus `-s -S` and a status trailer).
pub fn curl(args: &[&str]) -> Answer {
    let out = Command::new("curl")
        .args(["-s", "-S", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed");
    answer(out)
}

/// Runs a shell command line (a spec's curl example) with a status trailer appended.
pub fn shell_curl(command_line: &str) -> Answer {
    let line = format!("{command_line} -s -S -w '\\n%{{http_code}}'");
    let out = Command::new("bash").arg("-c").arg(&line).output().unwrap();
    answer(out)
}

fn answer(out: std::process::Output) -> Answer {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (text, status) = stdout
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("curl failed: {}", String::from_utf8_lossy(&out.stderr)));
    Answer {
        status: status.trim().parse().unwrap_or(0),
        body: serde_json::from_str(text).unwrap_or(Value::Null),
        text: text.to_string(),
    }
}

/// A test photo in base64, as the Image API carries it.
pub fn b64(relative: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crate::common::photo(relative))
}

/// POSTs a JSON body (through a file: photos in base64 are too long for a command line).
pub fn post_json(base: &str, route: &str, body: &Value) -> Answer {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(body).unwrap()).unwrap();
    curl(&[
        "-X",
        "POST",
        &format!("{base}{route}"),
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", file.path().display()),
    ])
}

/// The body of a 200 answer; anything else fails the test with the answer.
pub fn ok(answer: Answer, what: &str) -> Value {
    assert_eq!(answer.status, 200, "{what}: {}", answer.text);
    answer.body
}

/// The text of the spec whose file name starts with `prefix` (e.g. "000_").
pub fn spec(prefix: &str) -> String {
    let dir = seeds();
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no spec {prefix}* in {}", dir.display()));
    std::fs::read_to_string(path).unwrap()
}

/// The first JSON object after `marker` in a spec's text.
pub fn spec_json(text: &str, marker: &str) -> Value {
    let from = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in the spec"));
    let start = from + text[from..].find('{').unwrap();
    let mut depth = 0;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return serde_json::from_str(&text[start..=start + i]).unwrap();
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced JSON after {marker:?}")
}

/// The first JSON object after a sequence of markers, each searched after the previous one (e.g. a section title,
/// then "v2", then "Response example:").
pub fn spec_json_after(text: &str, markers: &[&str]) -> Value {
    let mut at = 0;
    for marker in markers {
        at += text[at..]
            .find(marker)
            .unwrap_or_else(|| panic!("{marker:?} not in the spec after {markers:?}"));
    }
    spec_json(&text[at..], markers.last().unwrap())
}

/// The spec's example curl command, its continuation lines joined.
pub fn spec_curl(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("curl "));
    let mut command = String::new();
    for line in lines.by_ref() {
        match line.strip_suffix('\\') {
            Some(continued) => command.push_str(continued),
            None => {
                command.push_str(line);
                break;
            }
        }
    }
    assert!(command.starts_with("curl "), "no curl example in the spec");
    command
}

/// Asserts `ours` has the spec's keys with the spec's value types (numbers are numbers; values are not compared).
/// A key whose path starts with one of `may_be_absent` may be missing (an estimator this server does not have).
pub fn assert_same_shape(spec: &Value, ours: &Value, path: &str, may_be_absent: &[&str]) {
    match (spec, ours) {
        (Value::Object(s), Value::Object(o)) => {
            for (key, spec_value) in s {
                let child = format!("{path}.{key}");
                match o.get(key) {
                    Some(value) => assert_same_shape(spec_value, value, &child, may_be_absent),
                    None => assert!(
                        may_be_absent.iter().any(|p| child.starts_with(p)),
                        "{child} is missing from {ours}"
                    ),
                }
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            if let Some(first) = s.first() {
                assert!(!o.is_empty(), "{path} is empty, the spec has items");
                for item in o {
                    assert_same_shape(first, item, &format!("{path}[]"), may_be_absent);
                }
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        _ => panic!("{path}: the spec has {spec}, faceserve answered {ours}"),
    }
}

/// The spec's pixel formats: an integer box and five integer [x, y] landmarks.
pub fn assert_pixel_face(face: &Value) {
    for key in ["x", "y", "w", "h"] {
        assert!(face["box"][key].is_i64(), "box.{key} in {face}");
    }
    let landmarks = face["landmarks"].as_array().unwrap();
    assert_eq!(landmarks.len(), 5, "{face}");
    for point in landmarks {
        let point = point.as_array().unwrap();
        assert!(
            point.len() == 2 && point.iter().all(Value::is_i64),
            "{face}"
        );
    }
}
