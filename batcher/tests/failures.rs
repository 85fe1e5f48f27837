//! Start-up (warm-up, build failures, bad config) and models that fail, panic or miscount their outputs.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{
    ERROR_INPUT, FakeModel, Gate, PANIC_INPUT, RunLog, WRONG_LENGTH_INPUT, expected_output, start,
};
use faceserve_batcher::{
    BatchError, Batcher, BatcherConfig, ModelError, NoopObserver, warm_up_batch_sizes,
};

fn model_error_message(result: Result<u64, BatchError>) -> String {
    match result {
        Err(BatchError::Model(ModelError(message))) => message,
        other => panic!("expected a model error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_model_fails_only_its_batch_and_keeps_working() {
    let harness = start(BatcherConfig::default(), 8, None);
    let batcher = &harness.batcher;
    assert_eq!(
        model_error_message(batcher.infer(ERROR_INPUT).await),
        "fake model told to fail"
    );
    assert!(
        model_error_message(batcher.infer(PANIC_INPUT).await).contains("fake model told to panic")
    );
    assert_eq!(
        model_error_message(batcher.infer(WRONG_LENGTH_INPUT).await),
        "the model returned 0 outputs for a batch of 1"
    );
    assert_eq!(batcher.infer(5).await, Ok(expected_output(5)));
    assert_eq!(harness.observer.batches_failed.load(Ordering::Relaxed), 3);
    assert_eq!(harness.observer.batches_ok.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn every_request_in_a_panicking_batch_gets_the_error() {
    let gate = Gate::new(0);
    let harness = start(BatcherConfig::default(), 8, Some(gate.before_run()));
    let first = harness.batcher.submit(0, None).unwrap();
    gate.wait_until_started();
    let batch_mates: Vec<_> = [1, PANIC_INPUT, 2]
        .into_iter()
        .map(|input| harness.batcher.submit(input, None).unwrap())
        .collect();
    gate.open();

    assert_eq!(first.await, Ok(expected_output(0)));
    for reply in batch_mates {
        assert!(model_error_message(reply.await).contains("panicked"));
    }
    assert_eq!(harness.log.batch_sizes(), [1, 3]);
    assert_eq!(harness.batcher.infer(3).await, Ok(expected_output(3)));
}

#[test]
fn warm_up_sizes_are_powers_of_two_then_the_maximum() {
    assert_eq!(warm_up_batch_sizes(1), [1]);
    assert_eq!(warm_up_batch_sizes(3), [1, 2, 3]);
    assert_eq!(warm_up_batch_sizes(8), [1, 2, 4, 8]);
    assert_eq!(warm_up_batch_sizes(12), [1, 2, 4, 8, 12]);
}

#[test]
fn every_worker_warms_up_over_the_effective_batch_sizes() {
    let config = BatcherConfig {
        max_batch_size: 16,
        workers: 3,
        ..Default::default()
    };
    let harness = start(config, 6, None);
    let mut warm_ups = harness.log.warm_ups.lock().clone();
    warm_ups.sort();
    assert_eq!(
        warm_ups,
        [
            (0, vec![1, 2, 4, 6]),
            (1, vec![1, 2, 4, 6]),
            (2, vec![1, 2, 4, 6])
        ]
    );

    let config = BatcherConfig {
        warm_up: false,
        ..Default::default()
    };
    let harness = start(config, 8, None);
    assert!(harness.log.warm_ups.lock().is_empty());
}

fn spawn_fake(
    config: BatcherConfig,
    log: &Arc<RunLog>,
    failing_worker: Option<usize>,
    unbuildable_worker: Option<usize>,
) -> Result<Batcher<u64, u64>, ModelError> {
    let log = Arc::clone(log);
    Batcher::spawn(
        "fake",
        config,
        move |worker| {
            if unbuildable_worker == Some(worker) {
                return Err(ModelError("no such file".into()));
            }
            Ok(FakeModel {
                worker,
                max_batch_size: 8,
                log: Arc::clone(&log),
                before_run: None,
                fail_warm_up: failing_worker == Some(worker),
            })
        },
        Arc::new(NoopObserver),
    )
}

#[tokio::test]
async fn a_failed_warm_up_fails_start_up_and_ends_every_worker() {
    let log = Arc::new(RunLog::default());
    let config = BatcherConfig {
        workers: 3,
        ..Default::default()
    };
    let error = spawn_fake(config, &log, Some(1), None)
        .err()
        .expect("start-up fails");
    assert_eq!(
        error.0,
        "warming up worker 1 of model fake: fake warm-up failure"
    );
    common::wait_until("all models are dropped", || {
        log.models_dropped.load(Ordering::SeqCst) == 3
    })
    .await;
}

#[test]
fn a_model_that_cannot_be_built_fails_start_up() {
    let log = Arc::new(RunLog::default());
    let config = BatcherConfig {
        workers: 2,
        ..Default::default()
    };
    let error = spawn_fake(config, &log, None, Some(1))
        .err()
        .expect("start-up fails");
    assert_eq!(error.0, "building worker 1 of model fake: no such file");
    assert!(
        log.warm_ups.lock().is_empty(),
        "nothing warms up before every model is built"
    );
}

#[test]
fn an_invalid_config_is_refused() {
    let log = Arc::new(RunLog::default());
    for (config, problem) in [
        (
            BatcherConfig {
                max_batch_size: 0,
                ..Default::default()
            },
            "max_batch_size must be at least 1",
        ),
        (
            BatcherConfig {
                queue_capacity: 0,
                ..Default::default()
            },
            "queue_capacity must be at least 1",
        ),
        (
            BatcherConfig {
                workers: 0,
                ..Default::default()
            },
            "workers must be at least 1",
        ),
    ] {
        let error = spawn_fake(config, &log, None, None)
            .err()
            .expect("start-up fails");
        assert_eq!(
            error.0,
            format!("invalid batcher config for model fake: {problem}")
        );
    }
}
