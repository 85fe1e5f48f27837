//! A small run of the crash harness (`faceserve-bench crash`, whose trial code is compiled in here): enrol over
//! gRPC and HTTP, kill -9 mid-traffic, restart, and find every acknowledged add and no acknowledged delete.

// The report's timings are printed by the bench, not read here.
#[allow(dead_code)]
#[path = "../../bench/src/crash/trial.rs"]
mod trial;

use std::sync::Arc;
use std::time::Duration;

use faceserve_testkit::{free_port, models_dir, photo};
use parking_lot::Mutex;
use trial::{Ledger, ServerCommand, run_trial};

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let command = ServerCommand {
        binary: env!("CARGO_BIN_EXE_faceserve").into(),
        data_dir: tmp.path().join("data"),
        models_dir: models_dir(),
        grpc_port: free_port(),
        http_port: free_port(),
        metrics_port: free_port(),
    };
    let photos = Arc::new(
        [
            "amy/amy1.png",
            "raj/raj1.png",
            "sheldon/sheldon1.png",
            "leonard/leonard1.png",
        ]
        .iter()
        .map(|name| photo(&format!("faceapi_js_images/examples/images/{name}")))
        .collect::<Vec<_>>(),
    );
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (mut server, _) = command.start().await.unwrap();
    let mut acknowledged = 0;
    for kill_after in [Duration::from_millis(2_500), Duration::from_millis(1_700)] {
        let (restarted, report) = run_trial(
            &command,
            server,
            photos.clone(),
            ledger.clone(),
            4,
            kill_after,
        )
        .await
        .unwrap();
        server = restarted;
        assert_eq!((report.lost, report.resurrected), (0, 0), "{report:?}");
        acknowledged += report.acknowledged_adds;
    }
    assert!(acknowledged > 0, "the clients enrolled nothing");
    let book = ledger.lock();
    assert!(
        book.in_doubt.is_empty(),
        "every write in doubt was resolved"
    );
}
