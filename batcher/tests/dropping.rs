//! Requests that must not run: abandoned by their caller, past their deadline, or refused by a full queue.

mod common;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{Gate, expected_output, start};
use faceserve_batcher::{BatchError, BatcherConfig};

#[tokio::test]
async fn a_request_whose_caller_has_gone_is_not_run() {
    let gate = Gate::new(0);
    let harness = start(BatcherConfig::default(), 8, Some(gate.before_run()));
    let first = harness.batcher.submit(0, None).unwrap();
    gate.wait_until_started();

    let abandoned = harness.batcher.submit(1, None).unwrap();
    // The same through `infer`: its future is polled once, so the request is queued, then dropped.
    let mut infer = Box::pin(harness.batcher.infer(2));
    std::future::poll_fn(|context| {
        assert!(infer.as_mut().poll(context).is_pending());
        Poll::Ready(())
    })
    .await;
    let kept = harness.batcher.submit(3, None).unwrap();
    assert_eq!(harness.batcher.queue_depth(), 3);
    drop(abandoned);
    drop(infer);
    gate.open();

    assert_eq!(first.await, Ok(expected_output(0)));
    assert_eq!(kept.await, Ok(expected_output(3)));
    assert_eq!(harness.log.inputs_run(), [0, 3]);
    assert_eq!(harness.observer.dropped.load(Ordering::Relaxed), 2);
    assert_eq!(harness.batcher.queue_depth(), 0);
}

#[tokio::test]
async fn a_request_past_its_deadline_is_answered_without_running() {
    let gate = Gate::new(0);
    let harness = start(BatcherConfig::default(), 8, Some(gate.before_run()));
    let first = harness.batcher.submit(0, None).unwrap();
    gate.wait_until_started();

    let deadline = Instant::now() + Duration::from_millis(1);
    let late = harness.batcher.submit(1, Some(deadline)).unwrap();
    let far_deadline = Instant::now() + Duration::from_secs(3_600);
    let in_time = harness.batcher.submit(2, Some(far_deadline)).unwrap();
    while Instant::now() <= deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    gate.open();

    assert_eq!(first.await, Ok(expected_output(0)));
    assert_eq!(late.await, Err(BatchError::DeadlineExceeded));
    assert_eq!(in_time.await, Ok(expected_output(2)));
    assert_eq!(harness.log.inputs_run(), [0, 2]);
    assert_eq!(harness.observer.expired.load(Ordering::Relaxed), 1);
    assert_eq!(harness.observer.dropped.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_deadline_already_passed_is_refused_at_once() {
    let harness = start(BatcherConfig::default(), 8, None);
    let passed = Instant::now();
    assert_eq!(
        harness.batcher.infer_with_deadline(1, Some(passed)).await,
        Err(BatchError::DeadlineExceeded)
    );
    assert_eq!(
        harness.batcher.infer_with_deadline(2, None).await,
        Ok(expected_output(2))
    );
    assert_eq!(harness.log.inputs_run(), [2]);
    assert_eq!(harness.observer.expired.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_and_accepts_again_once_drained() {
    let gate = Gate::new(0);
    let config = BatcherConfig {
        max_batch_size: 2,
        queue_capacity: 3,
        ..Default::default()
    };
    let harness = start(config, 8, Some(gate.before_run()));
    let running = harness.batcher.submit(0, None).unwrap();
    gate.wait_until_started();

    // The batch being formed (2) and the one behind it in the channel (1) fill the three places.
    let waiting: Vec<_> = (1..=3)
        .map(|input| harness.batcher.submit(input, None).unwrap())
        .collect();
    assert_eq!(harness.batcher.queue_depth(), 3);
    let refused = harness.batcher.infer(4).await;
    assert_eq!(
        refused,
        Err(BatchError::QueueFull {
            model: "fake".into(),
            capacity: 3
        })
    );
    assert_eq!(harness.observer.rejected.load(Ordering::Relaxed), 1);
    assert_eq!(harness.observer.max_depth_seen.load(Ordering::Relaxed), 3);
    gate.open();

    assert_eq!(running.await, Ok(expected_output(0)));
    for (input, reply) in (1..).zip(waiting) {
        assert_eq!(reply.await, Ok(expected_output(input)));
    }
    assert_eq!(harness.batcher.infer(5).await, Ok(expected_output(5)));
    assert_eq!(harness.log.inputs_run(), [0, 1, 2, 3, 5]);
}
