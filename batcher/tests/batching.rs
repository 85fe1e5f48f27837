//! How batches are formed: size limits, order, worker use, queue delay, shutdown.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Gate, HANG_GUARD, expected_output, start, wait_until};
use faceserve_batcher::{BatcherConfig, PendingReply};
use parking_lot::{Condvar, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_callers_each_get_their_own_output_exactly_once() {
    let config = BatcherConfig {
        max_batch_size: 4,
        workers: 2,
        queue_capacity: 10_000,
        ..Default::default()
    };
    let harness = start(config, 16, None);
    let callers: Vec<_> = (0..2_000_u64)
        .map(|input| {
            let batcher = harness.batcher.clone();
            tokio::spawn(async move { (input, batcher.infer(input).await) })
        })
        .collect();
    for caller in callers {
        let (input, output) = caller.await.unwrap();
        assert_eq!(output, Ok(expected_output(input)));
    }

    let mut inputs_run = harness.log.inputs_run();
    inputs_run.sort_unstable();
    assert_eq!(
        inputs_run,
        (0..2_000).collect::<Vec<_>>(),
        "every input runs exactly once"
    );
    assert!(
        harness
            .log
            .batch_sizes()
            .iter()
            .all(|&size| (1..=4).contains(&size))
    );
    assert_eq!(harness.observer.items_done.load(Ordering::Relaxed), 2_000);
    assert_eq!(harness.batcher.queue_depth(), 0);
}

#[tokio::test]
async fn a_backlog_runs_in_full_batches_capped_by_the_smaller_limit() {
    for (config_max, model_max) in [(4, 16), (16, 4)] {
        let gate = Gate::new(0);
        let config = BatcherConfig {
            max_batch_size: config_max,
            ..Default::default()
        };
        let harness = start(config, model_max, Some(gate.before_run()));
        assert_eq!(harness.batcher.effective_max_batch_size(), 4);

        let first = harness.batcher.submit(0, None).unwrap();
        gate.wait_until_started();
        let backlog: Vec<_> = (1..=42)
            .map(|input| harness.batcher.submit(input, None).unwrap())
            .collect();
        assert_eq!(harness.batcher.queue_depth(), 42);
        gate.open();

        assert_eq!(first.await, Ok(expected_output(0)));
        for (input, reply) in (1..).zip(backlog) {
            assert_eq!(reply.await, Ok(expected_output(input)));
        }
        let sizes = harness.log.batch_sizes();
        assert_eq!(
            sizes[1..],
            [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2],
            "limits {config_max}/{model_max}"
        );
    }
}

#[tokio::test]
async fn requests_from_one_caller_run_in_submission_order() {
    let gate = Gate::new(0);
    let config = BatcherConfig {
        max_batch_size: 3,
        queue_capacity: 1_000,
        ..Default::default()
    };
    let harness = start(config, 3, Some(gate.before_run()));
    let mut replies = vec![harness.batcher.submit(0, None).unwrap()];
    gate.wait_until_started();
    // Some requests queue behind the blocked batch, the rest arrive while the backlog drains.
    replies.extend((1..100).map(|input| harness.batcher.submit(input, None).unwrap()));
    gate.open();
    replies.extend((100..300).map(|input| harness.batcher.submit(input, None).unwrap()));

    for (input, reply) in (0..).zip(replies) {
        assert_eq!(reply.await, Ok(expected_output(input)));
    }
    assert_eq!(harness.log.inputs_run(), (0..300).collect::<Vec<_>>());
}

/// Lets `count` batches through only once that many are running at the same time.
fn rendezvous(count: usize) -> common::BeforeRun {
    let arrived = Arc::new((Mutex::new(0_usize), Condvar::new()));
    Arc::new(move |_, _| {
        let (arrived, all_arrived) = &*arrived;
        let mut arrived = arrived.lock();
        *arrived += 1;
        all_arrived.notify_all();
        while *arrived < count {
            if all_arrived.wait_for(&mut arrived, HANG_GUARD).timed_out() {
                panic!("only {} of {count} workers ever ran at once", *arrived);
            }
        }
    })
}

#[tokio::test]
async fn every_worker_takes_batches() {
    let config = BatcherConfig {
        max_batch_size: 1,
        workers: 3,
        ..Default::default()
    };
    let harness = start(config, 8, Some(rendezvous(3)));
    let replies: Vec<_> = (0..3)
        .map(|input| harness.batcher.submit(input, None).unwrap())
        .collect();
    for (input, reply) in (0..).zip(replies) {
        assert_eq!(reply.await, Ok(expected_output(input)));
    }
    let workers_used: BTreeSet<usize> = harness
        .log
        .batches
        .lock()
        .iter()
        .map(|(worker, _)| *worker)
        .collect();
    assert_eq!(workers_used, BTreeSet::from([0, 1, 2]));
}

/// Submits requests one at a time, each after the previous one has left the queue (or after a pause when a
/// queue delay holds it back), and returns the batch sizes that ran.
async fn batch_sizes_under_a_trickle(max_queue_delay: Duration) -> Vec<usize> {
    let config = BatcherConfig {
        max_batch_size: 4,
        max_queue_delay,
        ..Default::default()
    };
    let harness = start(config, 4, None);
    let mut replies: Vec<PendingReply<u64>> = Vec::new();
    for input in 0..16 {
        replies.push(harness.batcher.submit(input, None).unwrap());
        let submitted = Instant::now();
        while harness.batcher.queue_depth() > 0 && submitted.elapsed() < Duration::from_millis(30) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    for (input, reply) in (0..).zip(replies) {
        assert_eq!(reply.await, Ok(expected_output(input)));
    }
    harness.log.batch_sizes()
}

#[tokio::test]
async fn a_queue_delay_gathers_a_trickle_into_fuller_batches() {
    // A delay far longer than the test lets a batch go only when it is full.
    let with_delay = batch_sizes_under_a_trickle(Duration::from_secs(3_600)).await;
    assert_eq!(with_delay, [4, 4, 4, 4]);
    let without_delay = batch_sizes_under_a_trickle(Duration::ZERO).await;
    assert_eq!(without_delay.iter().sum::<usize>(), 16);
    assert!(
        without_delay.len() > with_delay.len(),
        "without a delay: {without_delay:?}"
    );
}

#[tokio::test]
async fn dropping_the_last_handle_finishes_queued_work_then_stops_the_threads() {
    let gate = Gate::new(0);
    let config = BatcherConfig {
        max_batch_size: 2,
        workers: 2,
        ..Default::default()
    };
    let harness = start(config, 2, Some(gate.before_run()));
    let replies: Vec<_> = (0..9)
        .map(|input| harness.batcher.submit(input, None).unwrap())
        .collect();
    gate.wait_until_started();
    let second_handle = harness.batcher.clone();
    drop(harness.batcher);
    assert_eq!(second_handle.name(), "fake");
    drop(second_handle);
    gate.open();

    for (input, reply) in (0..).zip(replies) {
        assert_eq!(reply.await, Ok(expected_output(input)));
    }
    let log = harness.log;
    wait_until("both models are dropped", || {
        log.models_dropped.load(Ordering::SeqCst) == 2
    })
    .await;
}

#[test]
fn blocking_callers_on_plain_threads_are_answered() {
    let config = BatcherConfig {
        max_batch_size: 4,
        workers: 2,
        ..Default::default()
    };
    let harness = start(config, 4, None);
    std::thread::scope(|scope| {
        for thread in 0..4_u64 {
            let batcher = &harness.batcher;
            scope.spawn(move || {
                for input in (thread * 100)..(thread * 100 + 50) {
                    assert_eq!(
                        batcher.infer_blocking(input, None),
                        Ok(expected_output(input))
                    );
                }
            });
        }
    });
    assert_eq!(harness.log.inputs_run().len(), 200);
}

#[test]
fn handles_and_their_futures_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let harness = start(BatcherConfig::default(), 8, None);
    assert_send_sync(&harness.batcher);
    let infer = harness.batcher.infer(1);
    assert_send(&infer);
    let reply = harness.batcher.submit(2, None).unwrap();
    assert_send(&reply);
    drop(infer);
    assert_eq!(reply.wait_blocking(), Ok(expected_output(2)));
}
