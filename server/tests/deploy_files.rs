//! The files of `deploy/` agree with the server: every settings file there (the container's, the systemd one and the
//! one inside the Kubernetes ConfigMap) is accepted by `faceserve config` and turns authentication on for its public
//! listeners; the Grafana dashboard only queries metrics the server defines; Prometheus scrapes the metrics port the
//! settings open; the dashboard's data source is the one Grafana is provisioned with. (The linters that check the
//! files' own syntax are in deploy/validate.sh.)

mod common;
mod http_support;

use std::collections::BTreeSet;

use common::workspace_root;
use http_support::faceserve;

fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The effective settings of a settings file, as `faceserve config` prints them.
fn effective(toml_text: &str) -> toml::Table {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faceserve.toml");
    std::fs::write(&file, toml_text).unwrap();
    let out = faceserve()
        .args(["config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "faceserve refuses the file:\n{toml_text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().parse().unwrap()
}

#[test]
fn every_settings_file_is_accepted_and_secured() {
    let manifest = read("deploy/kubernetes/faceserve.yaml");
    // The ConfigMap's `faceserve.toml: |` block, unindented.
    let in_configmap: String = manifest
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("faceserve.toml: |"))
        .skip(1)
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.get(4..).unwrap_or("")))
        .collect();
    for (name, text) in [
        ("deploy/faceserve.toml", read("deploy/faceserve.toml")),
        (
            "deploy/systemd/faceserve.toml",
            read("deploy/systemd/faceserve.toml"),
        ),
        ("the Kubernetes ConfigMap", in_configmap),
    ] {
        let settings = effective(&text);
        assert_eq!(
            settings["grpc_addr"].as_str(),
            Some("0.0.0.0:50051"),
            "{name}"
        );
        assert_eq!(settings["auth"]["enabled"].as_bool(), Some(true), "{name}");
    }
    let container = effective(&read("deploy/faceserve.toml"));
    assert_eq!(container["metrics_addr"].as_str(), Some("0.0.0.0:9464"));
    assert!(read("deploy/prometheus/prometheus.yml").contains("faceserve:9464"));
}

#[test]
fn the_dashboard_queries_only_metrics_the_server_defines() {
    let defined: BTreeSet<String> = metric_names(&read("server/src/metrics.rs"));
    assert!(defined.contains("faceserve_requests_total"), "{defined:?}");
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/dashboards/faceserve.json")).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let mut queried = BTreeSet::new();
    for panel in panels {
        assert_eq!(
            panel["datasource"]["uid"], "prometheus",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            queried.extend(metric_names(target["expr"].as_str().unwrap()));
        }
    }
    for name in &queried {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        assert!(
            defined.contains(family),
            "the dashboard queries {name}, which the server does not define"
        );
    }
    // The four things the dashboard exists for.
    for needed in [
        "faceserve_requests_total",
        "faceserve_request_duration_seconds_bucket",
        "faceserve_batch_size_bucket",
        "faceserve_queue_depth",
    ] {
        assert!(
            queried.contains(needed),
            "the dashboard does not show {needed}"
        );
    }
    let datasource = read("deploy/grafana/provisioning/datasources/prometheus.yaml");
    assert!(datasource.contains("uid: prometheus"));
}

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("faceserve_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}
