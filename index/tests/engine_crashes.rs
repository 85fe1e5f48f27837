//! Crashes: a process writing, saving and rebuilding an approximate gallery is killed (SIGKILL) at random
//! moments, mid-save or mid-rebuild included, and every restart answers correctly: the index equals the store,
//! acknowledged templates are found, acknowledged deletions never returned, and a torn save leaves no files behind.
//!
//! The killed process is this test binary itself, running the ignored test `crash_child`.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{MODEL, Rng, template};
use faceserve_index::{EngineConfig, GalleryEngine, GalleryError, IndexEngine};
use uuid::Uuid;

const DIM: usize = 256;
const LOG: &str = "acknowledged.log";
const KILLS: u64 = 5;

fn config(dir: &Path, engine: IndexEngine) -> EngineConfig {
    let mut config = EngineConfig::new(dir, MODEL, DIM);
    config.index.exact_max_templates = 300;
    config.index.engine = engine;
    config.index.maintenance_interval = None;
    config.index.checkpoint_after_changes = 1;
    config
}

/// The embedding of template number `n`: both processes derive it, so the log needs only numbers.
fn embedding(n: u64) -> Vec<f32> {
    Rng::new(7_000_000 + n).unit_vector(DIM)
}

/// The workload killed by the parent: rounds of adds and deletes, each round saved, every other one rebuilt.
/// Every operation is logged after the engine acknowledged it.
#[test]
#[ignore = "run by the crash tests as a child process"]
fn crash_child() {
    let (Ok(dir), Ok(engine), Ok(first)) = (
        std::env::var("FACESERVE_CRASH_DIR"),
        std::env::var("FACESERVE_CRASH_ENGINE"),
        std::env::var("FACESERVE_CRASH_FIRST"),
    ) else {
        return;
    };
    let dir = Path::new(&dir);
    let engine = GalleryEngine::open(config(dir, engine.parse().unwrap())).unwrap();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(LOG))
        .unwrap();
    let mut n: u64 = first.parse().unwrap();
    let mut added: Vec<(u64, Uuid)> = Vec::new();
    let mut rng = Rng::new(n);
    for round in 0.. {
        for _ in 0..20 {
            let record = engine.add(template("", "g", embedding(n))).unwrap();
            writeln!(log, "add {n} {}", record.id).unwrap();
            added.push((n, record.id));
            n += 1;
        }
        for _ in 0..5 {
            let (gone, id) = added.swap_remove((rng.next_u64() % added.len() as u64) as usize);
            engine.delete("", "g", id).unwrap();
            writeln!(log, "delete {gone} {id}").unwrap();
        }
        engine.checkpoint().unwrap();
        if round % 2 == 1 {
            engine.rebuild_index("", "g").unwrap();
        }
    }
}

/// Runs `crash_child` on `dir` and kills it after `after`.
fn run_and_kill(dir: &Path, engine: IndexEngine, first: u64, after: Duration) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env("FACESERVE_CRASH_DIR", dir)
        .env("FACESERVE_CRASH_ENGINE", engine.as_str())
        .env("FACESERVE_CRASH_FIRST", first.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    // SIGKILL: no destructor, no flush, no checkpoint.
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Template numbers logged as added and not deleted, and those logged as deleted.
fn acknowledged(dir: &Path) -> (HashMap<u64, Uuid>, HashMap<u64, Uuid>) {
    let (mut live, mut deleted) = (HashMap::new(), HashMap::new());
    let text = std::fs::read_to_string(dir.join(LOG)).unwrap_or_default();
    // A line cut by the kill is not an acknowledgement anyone relied on.
    for line in text.lines().filter(|l| l.split(' ').count() == 3) {
        let mut parts = line.split(' ');
        let (op, n, id) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let (Ok(n), Ok(id)) = (n.parse::<u64>(), id.parse::<Uuid>()) else {
            continue;
        };
        if op == "add" {
            live.insert(n, id);
        } else {
            live.remove(&n);
            deleted.insert(n, id);
        }
    }
    (live, deleted)
}

fn check_answers(engine: &GalleryEngine, dir: &Path, stage: &str) {
    let check = engine.verify_index("", "g").unwrap();
    assert!(check.is_consistent(), "{stage}: {check:?}");
    let (live, deleted) = acknowledged(dir);
    let mut missed = 0;
    for (n, id) in live.iter().filter(|(n, _)| *n % 5 == 0) {
        assert!(
            engine.get("", "g", *id).is_ok(),
            "{stage}: acknowledged template {n} lost"
        );
        if engine.search("", "g", &embedding(*n), 1).unwrap()[0].id != *id {
            missed += 1;
        }
    }
    assert!(
        missed <= 1 + live.len() / 250,
        "{stage}: {missed} templates not their own nearest"
    );
    for (n, id) in &deleted {
        assert!(matches!(
            engine.get("", "g", *id),
            Err(GalleryError::TemplateNotFound { .. })
        ));
        let hits = engine.search("", "g", &embedding(*n), 10).unwrap();
        assert!(
            hits.iter().all(|h| h.id != *id),
            "{stage}: deleted template {n} returned"
        );
    }
}

/// After a restart the gallery's folder holds its manifest, the files it names and this process's live files:
/// nothing a torn save or an earlier process left.
fn check_no_leftovers(dir: &Path) {
    let gallery = dir.join("indexes/gallery-1");
    let Ok(manifest) = std::fs::read(gallery.join("manifest.json")) else {
        return;
    };
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let named: HashSet<String> = manifest["saved"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    let mine = format!("live-{}-", std::process::id());
    for entry in std::fs::read_dir(&gallery).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "manifest.json" || named.contains(&name) || name.starts_with(&mine),
            "left behind: {name}"
        );
    }
}

fn survives_kills_mid_save_and_mid_rebuild(engine: IndexEngine) {
    let dir = tempfile::tempdir().unwrap();
    {
        let gallery = GalleryEngine::open(config(dir.path(), engine)).unwrap();
        let mut log = std::fs::File::create(dir.path().join(LOG)).unwrap();
        for n in 0..400 {
            let record = gallery.add(template("", "g", embedding(n))).unwrap();
            writeln!(log, "add {n} {}", record.id).unwrap();
        }
        gallery.run_maintenance().unwrap();
    }
    let mut rng = Rng::new(99);
    for kill in 1..=KILLS {
        let after = Duration::from_millis(300 + rng.next_u64() % 1500);
        run_and_kill(dir.path(), engine, kill * 100_000, after);
        let stage = format!("{} after kill {kill} at {after:?}", engine.as_str());
        eprintln!("{stage}: {} acknowledged", acknowledged(dir.path()).0.len());
        let gallery = GalleryEngine::open(config(dir.path(), engine)).unwrap();
        check_no_leftovers(dir.path());
        check_answers(&gallery, dir.path(), &stage);
        gallery.run_maintenance().unwrap();
        check_answers(&gallery, dir.path(), &format!("{stage}, upkeep done"));
        assert_ne!(
            gallery.stats("", "g").unwrap().index_kind,
            "exact",
            "{stage}"
        );
    }
}

#[test]
fn binary_survives_kills_mid_save_and_mid_rebuild() {
    survives_kills_mid_save_and_mid_rebuild(IndexEngine::Binary);
}

#[test]
fn usearch_survives_kills_mid_save_and_mid_rebuild() {
    survives_kills_mid_save_and_mid_rebuild(IndexEngine::Usearch);
}

#[test]
fn hnsw_rs_survives_kills_mid_save_and_mid_rebuild() {
    survives_kills_mid_save_and_mid_rebuild(IndexEngine::HnswRs);
}

/// A save cut between its files (no manifest yet) and a save whose file was cut short after the manifest: the
/// first leaves the previous save in force, the second falls back to exact search until rebuilt; both answer.
#[test]
fn torn_saves_are_survived() {
    for engine in [IndexEngine::Binary, IndexEngine::Usearch] {
        let dir = tempfile::tempdir().unwrap();
        let gallery_dir = dir.path().join("indexes/gallery-1");
        {
            let gallery = GalleryEngine::open(config(dir.path(), engine)).unwrap();
            let mut log = std::fs::File::create(dir.path().join(LOG)).unwrap();
            for n in 0..400 {
                let record = gallery.add(template("", "g", embedding(n))).unwrap();
                writeln!(log, "add {n} {}", record.id).unwrap();
            }
            gallery.run_maintenance().unwrap();
        }
        // Kill between files: a later save's files without its manifest, one of them half written.
        let files: Vec<_> = std::fs::read_dir(&gallery_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        for (i, path) in files
            .iter()
            .filter(|p| !p.ends_with("manifest.json"))
            .enumerate()
        {
            let name = path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replacen("index-", "index-9", 1);
            let bytes = std::fs::read(path).unwrap();
            let keep = if i == 0 { bytes.len() / 3 } else { bytes.len() };
            std::fs::write(gallery_dir.join(name), &bytes[..keep]).unwrap();
        }
        let gallery = GalleryEngine::open(config(dir.path(), engine)).unwrap();
        assert!(matches!(
            gallery.startup_report().galleries[0].origin,
            faceserve_index::IndexOrigin::Reloaded { .. }
        ));
        check_no_leftovers(dir.path());
        check_answers(
            &gallery,
            dir.path(),
            &format!("{}: torn between files", engine.as_str()),
        );
        drop(gallery);

        // A file the manifest names, cut short.
        let named = std::fs::read_dir(&gallery_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| !p.ends_with("manifest.json") && !p.to_string_lossy().ends_with(".json"))
            .unwrap();
        let bytes = std::fs::read(&named).unwrap();
        std::fs::write(&named, &bytes[..bytes.len() / 2]).unwrap();
        let gallery = GalleryEngine::open(config(dir.path(), engine)).unwrap();
        assert!(matches!(
            gallery.startup_report().galleries[0].origin,
            faceserve_index::IndexOrigin::AwaitingBuild { .. }
        ));
        check_answers(
            &gallery,
            dir.path(),
            &format!("{}: truncated file", engine.as_str()),
        );
        gallery.run_maintenance().unwrap();
        assert_eq!(gallery.stats("", "g").unwrap().index_kind, engine.as_str());
        check_answers(
            &gallery,
            dir.path(),
            &format!("{}: rebuilt", engine.as_str()),
        );
    }
}
