//! The thread that follows the change feed: catch up, report progress now and then (so the store can prune what no
//! live server needs), then wait for an announcement or the poll interval. An unreachable store is retried at the
//! poll interval, and the server resumes by itself when it is back. Stopped and joined on drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::EngineCore;
use crate::GalleryError;
use crate::store::FeedProgress;

/// How often the server tells the store how far it is.
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// The longest the thread waits without looking at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

pub(crate) struct FeedWorker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FeedWorker {
    pub(crate) fn start(core: Arc<EngineCore>) -> Result<Self, GalleryError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("faceserve-feed".into())
            .spawn(move || follow(&core, &stopped))
            .map_err(|e| {
                GalleryError::Storage(format!("cannot start the change-feed thread: {e}"))
            })?;
        Ok(FeedWorker {
            stop,
            thread: Some(thread),
        })
    }
}

fn follow(core: &EngineCore, stop: &AtomicBool) {
    let feed = core.feed.as_ref().expect("a store with a feed");
    let poll = feed.source.poll_interval();
    let mut last_report: Option<Instant> = None;
    while !stop.load(Ordering::Acquire) && !core.is_shutting_down() {
        match core.catch_up() {
            Ok(_) => {}
            // Logged once per outage by the feed state; retried at the poll interval.
            Err(error) if error.is_unavailable() => {}
            Err(error) => tracing::error!(%error, "applying the change feed failed; retrying"),
        }
        if last_report.is_none_or(|at| at.elapsed() >= REPORT_EVERY) && feed.reachable() {
            let applied = feed.applied();
            let progress = FeedProgress {
                applied,
                needed: applied,
            };
            match feed.source.report_progress(progress) {
                Ok(()) => last_report = Some(Instant::now()),
                Err(error) => tracing::debug!(%error, "reporting feed progress failed"),
            }
        }
        let until = Instant::now() + poll;
        while !stop.load(Ordering::Acquire) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || feed.source.wait_for_changes(left.min(STOP_CHECK)) {
                break;
            }
        }
    }
}

impl Drop for FeedWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
