//! Admission by time: a queue over its time budget refuses at once, a request that could not start before its
//! deadline is refused at once, and a queued request whose deadline passes is answered then, never run.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Gate, HANG_GUARD, expected_output, start};
use faceserve_batcher::{BatchError, BatcherConfig, with_deadline};

/// Each batch of the fake model takes `SERVICE` (input 0 measures it), and batches holding input 1 wait for the
/// gate, so the test controls the queue while the service time is known.
const SERVICE: Duration = Duration::from_millis(40);

fn measured_then_gated(gate: &Arc<Gate>) -> common::BeforeRun {
    let gated = gate.before_run();
    Arc::new(move |worker, inputs| {
        if inputs.contains(&0) {
            std::thread::sleep(SERVICE);
        }
        gated(worker, inputs)
    })
}

fn one_at_a_time(budget: Option<Duration>) -> BatcherConfig {
    BatcherConfig {
        max_batch_size: 1,
        max_queue_time: budget,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_queue_over_its_time_budget_refuses_at_once() {
    let gate = Gate::new(1);
    let budget = Duration::from_millis(100);
    let harness = start(
        one_at_a_time(Some(budget)),
        8,
        Some(measured_then_gated(&gate)),
    );
    // The first batch measures the service time; nothing is known (so nothing is refused) before it.
    assert_eq!(harness.batcher.expected_wait(), Duration::ZERO);
    assert_eq!(harness.batcher.infer(0).await, Ok(expected_output(0)));
    let per_item = harness.batcher.expected_wait();
    assert_eq!(per_item, Duration::ZERO, "nothing is waiting");

    let running = harness.batcher.submit(1, None).unwrap();
    gate.wait_until_started();
    // Expected waits behind 0, 1 and 2 queued requests: 0, 40 and 80 ms, within the 100 ms budget.
    let admitted: Vec<_> = (2..5)
        .map(|input| harness.batcher.submit(input, None).unwrap())
        .collect();
    let expected = harness.batcher.expected_wait();
    assert!(expected >= SERVICE * 3, "{expected:?}");
    let refused = harness.batcher.submit(5, None).err().expect("over budget");
    match &refused {
        BatchError::OverBudget {
            model,
            expected_wait,
            budget: said,
        } => {
            assert_eq!(model, "fake");
            assert_eq!(*said, budget);
            assert!(*expected_wait > budget, "{expected_wait:?}");
        }
        other => panic!("expected OverBudget, got {other:?}"),
    }
    let retry = refused.retry_after().unwrap();
    assert!(retry > Duration::ZERO && retry < SERVICE * 2, "{retry:?}");
    assert_eq!(harness.observer.over_budget.load(Ordering::Relaxed), 1);
    assert_eq!(harness.observer.rejected.load(Ordering::Relaxed), 0);
    // Asking first, without queueing, gives the same answer (and counts it).
    assert!(matches!(
        harness.batcher.admits(),
        Err(BatchError::OverBudget { .. })
    ));
    assert_eq!(harness.observer.over_budget.load(Ordering::Relaxed), 2);

    gate.open();
    assert_eq!(running.await, Ok(expected_output(1)));
    for (input, reply) in (2..).zip(admitted) {
        assert_eq!(reply.await, Ok(expected_output(input)));
    }
    assert_eq!(harness.log.inputs_run(), [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn without_a_budget_only_the_capacity_bounds_the_queue() {
    let gate = Gate::new(1);
    let harness = start(one_at_a_time(None), 8, Some(measured_then_gated(&gate)));
    assert_eq!(harness.batcher.infer(0).await, Ok(expected_output(0)));
    let running = harness.batcher.submit(1, None).unwrap();
    gate.wait_until_started();
    let waiting: Vec<_> = (2..12)
        .map(|input| harness.batcher.submit(input, None).unwrap())
        .collect();
    assert!(harness.batcher.expected_wait() >= SERVICE * 10);
    gate.open();
    assert_eq!(running.await, Ok(expected_output(1)));
    for reply in waiting {
        assert!(reply.await.is_ok());
    }
    assert_eq!(harness.observer.over_budget.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_deadline_that_would_pass_in_the_queue_is_refused_at_admission() {
    let gate = Gate::new(1);
    let harness = start(one_at_a_time(None), 8, Some(measured_then_gated(&gate)));
    assert_eq!(harness.batcher.infer(0).await, Ok(expected_output(0)));
    let running = harness.batcher.submit(1, None).unwrap();
    gate.wait_until_started();
    let queued: Vec<_> = (2..5)
        .map(|input| harness.batcher.submit(input, None).unwrap())
        .collect();
    // Three requests of 40 ms are ahead: a 60 ms deadline cannot be met, a 10 s one can.
    let short = Instant::now() + Duration::from_millis(60);
    assert_eq!(
        harness.batcher.submit(5, Some(short)).err(),
        Some(BatchError::DeadlineExceeded)
    );
    let long = harness
        .batcher
        .submit(6, Some(Instant::now() + Duration::from_secs(10)))
        .unwrap();
    assert_eq!(harness.observer.expired.load(Ordering::Relaxed), 1);
    gate.open();
    assert_eq!(running.await, Ok(expected_output(1)));
    for reply in queued {
        assert!(reply.await.is_ok());
    }
    assert_eq!(long.await, Ok(expected_output(6)));
    assert_eq!(harness.log.inputs_run(), [0, 1, 2, 3, 4, 6]);
}

#[tokio::test]
async fn a_queued_request_is_answered_when_its_deadline_passes_and_never_runs() {
    let gate = Gate::new(1);
    let harness = start(one_at_a_time(None), 8, Some(gate.before_run()));
    let running = harness.batcher.submit(1, None).unwrap();
    gate.wait_until_started();

    // The task's deadline reaches the queue through `infer`, with no deadline parameter.
    let started = Instant::now();
    let deadline = started + Duration::from_millis(50);
    let answer = tokio::time::timeout(
        HANG_GUARD,
        with_deadline(Some(deadline), harness.batcher.infer(2)),
    )
    .await
    .expect("answered at its deadline while the worker is still busy");
    assert_eq!(answer, Err(BatchError::DeadlineExceeded));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert_eq!(harness.log.inputs_run(), [1], "the worker is still held");

    gate.open();
    assert_eq!(running.await, Ok(expected_output(1)));
    assert_eq!(harness.batcher.infer(3).await, Ok(expected_output(3)));
    assert_eq!(
        harness.log.inputs_run(),
        [1, 3],
        "the expired request never ran"
    );
    assert_eq!(harness.observer.expired.load(Ordering::Relaxed), 1);
    assert_eq!(harness.observer.dropped.load(Ordering::Relaxed), 0);
}
