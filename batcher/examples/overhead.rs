//! Measures what the batcher itself costs, over a model that does no work: the round trip of one request at a
//! time, and the throughput and batch sizes under many concurrent callers.
//!
//! Run: `cargo run --release -p faceserve-batcher --example overhead`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use faceserve_batcher::{Batcher, BatcherConfig, Model, ModelError, Observer};

struct EchoModel;

impl Model for EchoModel {
    type Input = u64;
    type Output = u64;

    fn max_batch_size(&self) -> usize {
        usize::MAX
    }

    fn run(&mut self, inputs: Vec<u64>) -> Result<Vec<u64>, ModelError> {
        Ok(inputs)
    }
}

#[derive(Default)]
struct BatchCounter {
    batches: AtomicUsize,
    items: AtomicUsize,
}

impl Observer for BatchCounter {
    fn batch_done(&self, _: &str, batch_size: usize, _: &[Duration], _: Duration, _: bool) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(batch_size, Ordering::Relaxed);
    }
}

impl BatchCounter {
    fn mean_batch_size(&self) -> f64 {
        self.items.load(Ordering::Relaxed) as f64
            / self.batches.load(Ordering::Relaxed).max(1) as f64
    }
}

fn start(workers: usize) -> (Batcher<u64, u64>, Arc<BatchCounter>) {
    let counter = Arc::new(BatchCounter::default());
    let config = BatcherConfig {
        workers,
        queue_capacity: 4_096,
        ..Default::default()
    };
    let batcher =
        Batcher::spawn("echo", config, |_| Ok(EchoModel), counter.clone()).expect("batcher starts");
    (batcher, counter)
}

async fn sequential_round_trip_micros(requests: u64) -> f64 {
    let (batcher, _) = start(1);
    let started = Instant::now();
    for input in 0..requests {
        batcher.infer(input).await.expect("echo answers");
    }
    started.elapsed().as_secs_f64() * 1e6 / requests as f64
}

async fn concurrent_throughput(callers: u64, requests_each: u64, workers: usize) -> (f64, f64) {
    let (batcher, counter) = start(workers);
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let batcher = batcher.clone();
            tokio::spawn(async move {
                for input in 0..requests_each {
                    batcher
                        .infer(caller * requests_each + input)
                        .await
                        .expect("echo answers");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("caller finishes");
    }
    let per_second = (callers * requests_each) as f64 / started.elapsed().as_secs_f64();
    (per_second, counter.mean_batch_size())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let round_trip = sequential_round_trip_micros(20_000).await;
    println!("one caller, one request at a time: {round_trip:.1} us per round trip");
    let (one_worker_rate, one_worker_batch) = concurrent_throughput(64, 2_000, 1).await;
    println!(
        "64 callers, 1 worker: {one_worker_rate:.0} requests/s, mean batch {one_worker_batch:.2}"
    );
    let (two_worker_rate, two_worker_batch) = concurrent_throughput(64, 2_000, 2).await;
    println!(
        "64 callers, 2 workers: {two_worker_rate:.0} requests/s, mean batch {two_worker_batch:.2}"
    );
    println!(
        "round_trip_us={round_trip:.1} rps_64c_1w={one_worker_rate:.0} batch_64c_1w={one_worker_batch:.2} \
         rps_64c_2w={two_worker_rate:.0} batch_64c_2w={two_worker_batch:.2}"
    );
}
