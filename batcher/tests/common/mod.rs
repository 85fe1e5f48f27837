//! A fake model and a recording observer shared by the batcher's tests.
#![allow(dead_code)] // each test binary uses a different part

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use faceserve_batcher::{Batcher, BatcherConfig, Model, ModelError, Observer};
use parking_lot::{Condvar, Mutex};

/// Inputs that make the fake model misbehave on the whole batch holding them.
pub const PANIC_INPUT: u64 = 1_000_001;
pub const ERROR_INPUT: u64 = 1_000_002;
pub const WRONG_LENGTH_INPUT: u64 = 1_000_003;

/// Long enough never to trigger on a working batcher; only keeps a broken one from hanging the test run.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

pub fn expected_output(input: u64) -> u64 {
    input * 10 + 7
}

/// Everything the fake models did, across all workers.
#[derive(Default)]
pub struct RunLog {
    /// (worker index, inputs) per batch run, in the order the runs started.
    pub batches: Mutex<Vec<(usize, Vec<u64>)>>,
    /// (worker index, batch sizes) per warm-up call.
    pub warm_ups: Mutex<Vec<(usize, Vec<usize>)>>,
    /// Model instances dropped, which happens when their worker thread ends.
    pub models_dropped: AtomicUsize,
}

impl RunLog {
    pub fn batch_sizes(&self) -> Vec<usize> {
        self.batches
            .lock()
            .iter()
            .map(|(_, inputs)| inputs.len())
            .collect()
    }

    pub fn inputs_run(&self) -> Vec<u64> {
        self.batches
            .lock()
            .iter()
            .flat_map(|(_, inputs)| inputs.iter().copied())
            .collect()
    }
}

/// Called by a fake model with (worker index, inputs) before it computes a batch, e.g. to block on a gate.
pub type BeforeRun = Arc<dyn Fn(usize, &[u64]) + Send + Sync>;

pub struct FakeModel {
    pub worker: usize,
    pub max_batch_size: usize,
    pub log: Arc<RunLog>,
    pub before_run: Option<BeforeRun>,
    pub fail_warm_up: bool,
}

impl Model for FakeModel {
    type Input = u64;
    type Output = u64;

    fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    fn run(&mut self, inputs: Vec<u64>) -> Result<Vec<u64>, ModelError> {
        self.log.batches.lock().push((self.worker, inputs.clone()));
        if let Some(before_run) = &self.before_run {
            before_run(self.worker, &inputs);
        }
        if inputs.contains(&PANIC_INPUT) {
            panic!("fake model told to panic");
        }
        if inputs.contains(&ERROR_INPUT) {
            return Err(ModelError("fake model told to fail".into()));
        }
        let mut outputs: Vec<u64> = inputs.into_iter().map(expected_output).collect();
        if outputs.contains(&expected_output(WRONG_LENGTH_INPUT)) {
            outputs.pop();
        }
        Ok(outputs)
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        self.log
            .warm_ups
            .lock()
            .push((self.worker, batch_sizes.to_vec()));
        if self.fail_warm_up {
            return Err(ModelError("fake warm-up failure".into()));
        }
        Ok(())
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.log.models_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts every observer call.
#[derive(Default)]
pub struct RecordingObserver {
    pub rejected: AtomicUsize,
    pub over_budget: AtomicUsize,
    pub expired: AtomicUsize,
    pub dropped: AtomicUsize,
    pub batches_ok: AtomicUsize,
    pub batches_failed: AtomicUsize,
    pub items_done: AtomicUsize,
    pub max_depth_seen: AtomicUsize,
}

impl Observer for RecordingObserver {
    fn queue_depth(&self, _model: &str, depth: usize) {
        self.max_depth_seen.fetch_max(depth, Ordering::Relaxed);
    }

    fn rejected(&self, _model: &str) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    fn over_budget(&self, _model: &str) {
        self.over_budget.fetch_add(1, Ordering::Relaxed);
    }

    fn expired(&self, _model: &str, count: usize) {
        self.expired.fetch_add(count, Ordering::Relaxed);
    }

    fn dropped(&self, _model: &str, count: usize) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
    }

    fn batch_done(
        &self,
        _: &str,
        batch_size: usize,
        queue_times: &[Duration],
        _: Duration,
        ok: bool,
    ) {
        assert_eq!(queue_times.len(), batch_size, "one queue time per item");
        self.items_done.fetch_add(batch_size, Ordering::Relaxed);
        let counter = if ok {
            &self.batches_ok
        } else {
            &self.batches_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Harness {
    pub batcher: Batcher<u64, u64>,
    pub log: Arc<RunLog>,
    pub observer: Arc<RecordingObserver>,
}

/// Starts a batcher over fake models whose own limit is `model_max_batch_size`.
pub fn start(
    config: BatcherConfig,
    model_max_batch_size: usize,
    before_run: Option<BeforeRun>,
) -> Harness {
    let log = Arc::new(RunLog::default());
    let observer = Arc::new(RecordingObserver::default());
    let model_log = Arc::clone(&log);
    let batcher = Batcher::spawn(
        "fake",
        config,
        move |worker| {
            Ok(FakeModel {
                worker,
                max_batch_size: model_max_batch_size,
                log: Arc::clone(&model_log),
                before_run: before_run.clone(),
                fail_warm_up: false,
            })
        },
        observer.clone(),
    )
    .expect("the fake batcher starts");
    Harness {
        batcher,
        log,
        observer,
    }
}

/// Polls `condition` until it holds; panics after [`HANG_GUARD`] so a broken batcher fails instead of hanging.
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < HANG_GUARD,
            "gave up waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Holds every batch that contains `gated_input` until opened, and says when such a batch has started.
pub struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    started: Mutex<mpsc::Sender<Vec<u64>>>,
    started_receiver: Mutex<mpsc::Receiver<Vec<u64>>>,
    gated_input: u64,
}

impl Gate {
    pub fn new(gated_input: u64) -> Arc<Self> {
        let (started, started_receiver) = mpsc::channel();
        Arc::new(Self {
            open: Mutex::new(false),
            opened: Condvar::new(),
            started: Mutex::new(started),
            started_receiver: Mutex::new(started_receiver),
            gated_input,
        })
    }

    pub fn before_run(self: &Arc<Self>) -> BeforeRun {
        let gate = Arc::clone(self);
        Arc::new(move |_, inputs| {
            if !inputs.contains(&gate.gated_input) {
                return;
            }
            let _ = gate.started.lock().send(inputs.to_vec());
            let mut open = gate.open.lock();
            while !*open {
                if gate.opened.wait_for(&mut open, HANG_GUARD).timed_out() {
                    panic!("the test never opened the gate");
                }
            }
        })
    }

    /// Blocks until the gated batch is running on a worker and returns its inputs.
    pub fn wait_until_started(&self) -> Vec<u64> {
        self.started_receiver
            .lock()
            .recv_timeout(HANG_GUARD)
            .expect("the gated batch never started")
    }

    pub fn open(&self) {
        *self.open.lock() = true;
        self.opened.notify_all();
    }
}
