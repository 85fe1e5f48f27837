//! The server process's resident memory and open file descriptors, read from /proc while a load runs, so a
//! soak shows whether either grows.

use std::time::{Duration, Instant};

/// One reading.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSample {
    pub at: Duration,
    pub rss_mib: f64,
    pub fds: usize,
}

/// Reads `pid`'s `VmRSS` and the entries of its fd folder; `None` when the process is gone or not readable.
pub fn sample(pid: u32, since: Instant) -> Option<ProcessSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(ProcessSample {
        at: since.elapsed(),
        rss_mib: rss_kib / 1024.0,
        fds,
    })
}

/// Samples `pid` every `every` until `until`, on a blocking thread.
pub fn sample_until(pid: u32, every: Duration, until: Instant) -> Vec<ProcessSample> {
    let since = Instant::now();
    let mut samples = Vec::new();
    loop {
        samples.extend(sample(pid, since));
        if Instant::now() + every > until {
            break;
        }
        std::thread::sleep(every);
    }
    samples.extend(sample(pid, since));
    samples
}

/// "first → last (max)" of memory and descriptors, for the summary line.
pub fn summary(samples: &[ProcessSample]) -> String {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return "rss_start_mib=nan rss_end_mib=nan rss_max_mib=nan fds_start=0 fds_end=0 fds_max=0"
            .into();
    };
    let rss_max = samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let fds_max = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    format!(
        "rss_start_mib={:.0} rss_end_mib={:.0} rss_max_mib={rss_max:.0} fds_start={} fds_end={} fds_max={fds_max}",
        first.rss_mib, last.rss_mib, first.fds, last.fds
    )
}
