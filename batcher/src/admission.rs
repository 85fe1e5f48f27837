//! Admission by expected queue time, as Triton's queue policy bounds queue time rather than queue length: the
//! workers' measured service time per item and the requests already waiting give the wait a new request can
//! expect; past the model's budget it is refused at once (with how long the excess takes to drain), and a request
//! whose deadline would pass before its turn is refused at once too, so neither costs a model any work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Weight of the newest batch in the moving average: 1/8 follows a change of load within a few dozen batches
/// without letting one slow batch (a page fault, a preempted core) swing the estimate.
const NEWEST_WEIGHT: f64 = 0.125;

/// The moving average of a model's inference time per item, over the batches its workers ran.
#[derive(Debug, Default)]
pub(crate) struct ServiceTime {
    /// Nanoseconds per item as `f64` bits; 0 until the first batch is measured.
    nanos_per_item: AtomicU64,
}

impl ServiceTime {
    /// Adds one finished batch of `items` that took `took`.
    pub fn record(&self, items: usize, took: Duration) {
        if items == 0 {
            return;
        }
        let sample = took.as_nanos() as f64 / items as f64;
        let _ = self
            .nanos_per_item
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                let old = f64::from_bits(bits);
                let new = if bits == 0 {
                    sample
                } else {
                    old + NEWEST_WEIGHT * (sample - old)
                };
                Some(new.max(1.0).to_bits())
            });
    }

    /// The average time one item takes, once a batch has been measured.
    pub fn per_item(&self) -> Option<Duration> {
        match self.nanos_per_item.load(Ordering::Acquire) {
            0 => None,
            bits => Some(Duration::from_nanos(f64::from_bits(bits) as u64)),
        }
    }
}

/// The wait a request can expect behind `waiting` others, with `workers` running batches in parallel. Unknown
/// (zero) before the first batch is measured, so a cold model is never refused by its budget. The batches already
/// running are not counted: they finish within one service time, which is why a request admitted at the budget
/// waits at most the budget plus one service time.
pub(crate) fn expected_wait(
    waiting: usize,
    per_item: Option<Duration>,
    workers: usize,
) -> Duration {
    per_item.map_or(Duration::ZERO, |per_item| {
        per_item.mul_f64(waiting as f64 / workers.max(1) as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_follows_the_measured_batches() {
        let service = ServiceTime::default();
        assert_eq!(service.per_item(), None);
        assert_eq!(expected_wait(100, service.per_item(), 1), Duration::ZERO);
        service.record(8, Duration::from_millis(80));
        assert_eq!(service.per_item(), Some(Duration::from_millis(10)));
        assert_eq!(
            expected_wait(50, service.per_item(), 2),
            Duration::from_millis(250)
        );
        // One batch twice as slow moves the average by an eighth of the difference.
        service.record(4, Duration::from_millis(80));
        let per_item = service.per_item().unwrap().as_secs_f64();
        assert!((per_item - 0.01125).abs() < 1e-6, "{per_item}");
    }
}
