//! A mutation fuzzer on stable Rust (no nightly, no libFuzzer): seeds from the real testdata files, mutated by
//! bit flips, byte writes, "interesting" integers (0, -1, 0x7F.., lengths), chunk deletes, duplicates and
//! splices of another seed, in a deterministic order (a seeded SplitMix64, so a failure reruns the same way).
//! Each execution runs under `catch_unwind`: a panic is counted with the input that caused it (saved when
//! `FACESERVE_FUZZ_CRASHES` names a folder), an execution slower than [`HANG_LIMIT`] counts as a hang, and the
//! process's peak memory is reported, so a run states executions, panics, hangs and memory.
//!
//! `FACESERVE_FUZZ_EXECS` sets the executions of each target (the tests' own default is small); the long runs of
//! docs/RELIABILITY.md use it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// One execution slower than this counts as a hang.
pub const HANG_LIMIT: Duration = Duration::from_secs(2);

/// What one target's run did.
#[derive(Debug, Clone)]
pub struct FuzzReport {
    pub target: String,
    pub executions: u64,
    pub panics: u64,
    pub hangs: u64,
    pub slowest: Duration,
    pub elapsed: Duration,
    /// Peak resident memory of the process after the run (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    /// The first input that panicked, if any.
    pub first_panic: Option<Vec<u8>>,
}

impl FuzzReport {
    /// One line for the logs and docs/RELIABILITY.md.
    pub fn line(&self) -> String {
        format!(
            "fuzz target={} executions={} panics={} hangs={} slowest_ms={:.1} execs_per_s={:.0} peak_rss_mib={:.0}",
            self.target,
            self.executions,
            self.panics,
            self.hangs,
            self.slowest.as_secs_f64() * 1e3,
            self.executions as f64 / self.elapsed.as_secs_f64().max(1e-9),
            self.peak_rss_kib as f64 / 1024.0
        )
    }

    /// Fails the test when anything went wrong, naming the first bad input's size.
    pub fn assert_clean(&self) {
        assert_eq!(
            (self.panics, self.hangs),
            (0, 0),
            "{}; first panicking input: {:?} bytes",
            self.line(),
            self.first_panic.as_ref().map(Vec::len)
        );
    }
}

/// The executions a target runs: `FACESERVE_FUZZ_EXECS` when set, else `default`.
pub fn executions(default: u64) -> u64 {
    std::env::var("FACESERVE_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Deterministic pseudo-random numbers (SplitMix64): fast, and enough to drive mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    &[0x00],
    &[0xFF],
    &[0x7F],
    &[0x80],
    &[0x00, 0x00],
    &[0xFF, 0xFF],
    &[0x7F, 0xFF],
    &[0x00, 0x00, 0x00, 0x00],
    &[0xFF, 0xFF, 0xFF, 0xFF],
    &[0x7F, 0xFF, 0xFF, 0xFF],
    &[0x00, 0x01, 0x00, 0x00],
    &[0xFF, 0xD8, 0xFF],
    &[0xFF, 0xD9],
];

/// Writes a mutation of `seed` (spliced with `other` at times) into `out`, at most `max_len` bytes.
pub fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8], max_len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&seed[..seed.len().min(max_len)]);
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if out.is_empty() {
            out.push(rng.next_u64() as u8);
            continue;
        }
        let at = rng.below(out.len());
        match rng.below(8) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => out[at] = rng.next_u64() as u8,
            2 => {
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let end = (at + value.len()).min(out.len());
                out[at..end].copy_from_slice(&value[..end - at]);
            }
            3 => {
                let len = 1 + rng.below((out.len() - at).min(64));
                out.drain(at..at + len);
            }
            4 => {
                let len = 1 + rng.below((out.len() - at).min(64));
                let chunk = out[at..at + len].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, chunk);
            }
            5 => out.truncate(at),
            6 if !other.is_empty() => {
                let from = rng.below(other.len());
                let len = 1 + rng.below((other.len() - from).min(256));
                let to = rng.below(out.len() + 1);
                out.splice(to..to, other[from..from + len].iter().copied());
            }
            _ => {
                // A run of one byte: long lengths, long strings.
                let len = 1 + rng.below(32);
                let byte = rng.next_u64() as u8;
                out.splice(at..at, std::iter::repeat_n(byte, len));
            }
        }
        out.truncate(max_len);
    }
}

/// Runs `target` on every seed once, then on `executions` mutations of them, and reports.
pub fn run(
    name: &str,
    seeds: &[Vec<u8>],
    executions: u64,
    max_len: usize,
    mut target: impl FnMut(&[u8]),
) -> FuzzReport {
    assert!(!seeds.is_empty(), "fuzz target {name} has no seeds");
    let mut rng = Rng::new(0x5EED ^ name.len() as u64);
    let mut report = FuzzReport {
        target: name.to_string(),
        executions: 0,
        panics: 0,
        hangs: 0,
        slowest: Duration::ZERO,
        elapsed: Duration::ZERO,
        peak_rss_kib: 0,
        first_panic: None,
    };
    // Panics are expected to be caught here: keep the default hook from printing each one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let mut input = Vec::with_capacity(max_len);
    let total = executions + seeds.len() as u64;
    for index in 0..total {
        let seed = &seeds[index as usize % seeds.len()];
        if index < seeds.len() as u64 {
            input.clear();
            input.extend_from_slice(seed);
        } else {
            let other = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed, other, max_len, &mut input);
        }
        let one = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let took = one.elapsed();
        report.executions += 1;
        report.slowest = report.slowest.max(took);
        if took > HANG_LIMIT {
            report.hangs += 1;
        }
        if outcome.is_err() {
            report.panics += 1;
            if report.first_panic.is_none() {
                save_crash(name, &input);
                report.first_panic = Some(input.clone());
            }
        }
    }
    std::panic::set_hook(hook);
    report.elapsed = started.elapsed();
    report.peak_rss_kib = peak_rss_kib();
    eprintln!("{}", report.line());
    report
}

fn save_crash(name: &str, input: &[u8]) {
    if let Some(dir) = std::env::var_os("FACESERVE_FUZZ_CRASHES") {
        let path = std::path::Path::new(&dir).join(format!("{name}-crash.bin"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(path, input);
    }
}

/// The process's peak resident memory (`VmHWM` of /proc/self/status) in KiB; 0 where it cannot be read.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The files under `dir` (recursively) whose name ends with one of `extensions` and whose size is at most
/// `max_bytes`, sorted by path, at most `limit` of them: the real seeds of a target.
pub fn seed_files(
    dir: &std::path::Path,
    extensions: &[&str],
    max_bytes: u64,
    limit: usize,
) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if extensions
                .iter()
                .any(|e| path.extension().is_some_and(|x| x.eq_ignore_ascii_case(e)))
                && entry.metadata().is_ok_and(|m| m.len() <= max_bytes)
            {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths.truncate(limit);
    paths
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_bounded() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..1000 {
            mutate(&mut a, b"hello, fuzzer", b"other seed", 32, &mut x);
            mutate(&mut b, b"hello, fuzzer", b"other seed", 32, &mut y);
            assert_eq!(x, y);
            assert!(x.len() <= 32);
        }
    }

    #[test]
    fn a_panicking_target_is_counted_not_fatal() {
        let report = run("demo", &[b"ab".to_vec()], 200, 16, |input| {
            assert_eq!(input, b"ab", "a mutated input");
        });
        assert_eq!(report.executions, 201);
        assert!(report.panics > 100, "{}", report.line());
        assert!(report.first_panic.is_some());
    }
}
