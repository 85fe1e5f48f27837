//! Identification figures from searched probes: the rank-k identification rate over mated probes (their identity
//! is enrolled), and the open-set rates at a threshold: FPIR, the share of unknown probes whose best candidate
//! reaches it, and FNIR, the share of mated probes whose right identity is not the best candidate at or above it
//! (NIST FRVT's definitions at rank 1). A probe without a usable face is a miss for a mated probe and no false
//! positive for an unknown one; a mated probe whose identity failed enrolment is a miss.

/// One searched probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Identities a right answer may name; empty for an unknown person.
    pub truth: Vec<String>,
    /// Candidate identities, best first, one entry per identity; None when no face was found.
    pub candidates: Option<Vec<(String, f32)>>,
}

impl ProbeResult {
    fn mated(&self) -> bool {
        !self.truth.is_empty()
    }

    fn right_within(&self, rank: usize) -> bool {
        self.candidates
            .as_ref()
            .is_some_and(|c| c.iter().take(rank).any(|(id, _)| self.truth.contains(id)))
    }

    fn best(&self) -> Option<f32> {
        self.candidates
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.1)
    }
}

/// Share of mated probes with their identity among the first `rank` candidates, and the number of mated probes.
pub fn rank_rate(results: &[ProbeResult], rank: usize) -> (f64, usize) {
    let mated: Vec<&ProbeResult> = results.iter().filter(|r| r.mated()).collect();
    let hits = mated.iter().filter(|r| r.right_within(rank)).count();
    (hits as f64 / mated.len().max(1) as f64, mated.len())
}

/// `(fpir, fnir)` at a cosine threshold; a rate without probes to measure it on is NaN, not 0.
pub fn rates_at(results: &[ProbeResult], threshold: f64) -> (f64, f64) {
    let reaches = |r: &ProbeResult| r.best().is_some_and(|s| f64::from(s) >= threshold);
    let unknown: Vec<&ProbeResult> = results.iter().filter(|r| !r.mated()).collect();
    let mated: Vec<&ProbeResult> = results.iter().filter(|r| r.mated()).collect();
    let false_positives = unknown.iter().filter(|r| reaches(r)).count();
    let misses = mated
        .iter()
        .filter(|r| !(r.right_within(1) && reaches(r)))
        .count();
    let share = |count: usize, of: usize| {
        if of == 0 {
            f64::NAN
        } else {
            count as f64 / of as f64
        }
    };
    (
        share(false_positives, unknown.len()),
        share(misses, mated.len()),
    )
}

#[derive(Debug, Clone, Copy)]
pub struct FnirAtFpir {
    pub target_fpir: f64,
    pub fnir: f64,
    pub threshold: f64,
    /// False positives the target allows among `unknown` probes (0 when there are too few to resolve it).
    pub allowed_false_positives: usize,
    pub unknown: usize,
}

/// FNIR at the lowest threshold whose FPIR is at most the target; None without unknown probes.
pub fn fnir_at_fpir(results: &[ProbeResult], target_fpir: f64) -> Option<FnirAtFpir> {
    let mut unknown_best: Vec<f64> = results
        .iter()
        .filter(|r| !r.mated())
        .map(|r| r.best().map_or(f64::NEG_INFINITY, f64::from))
        .collect();
    if unknown_best.is_empty() {
        return None;
    }
    unknown_best.sort_by(|a, b| b.total_cmp(a));
    let allowed = (target_fpir * unknown_best.len() as f64).floor() as usize;
    let threshold = match unknown_best.get(allowed) {
        Some(v) if v.is_finite() => v + 1e-6,
        _ => f64::NEG_INFINITY,
    };
    Some(FnirAtFpir {
        target_fpir,
        fnir: rates_at(results, threshold).1,
        threshold,
        allowed_false_positives: allowed,
        unknown: unknown_best.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(truth: &[&str], candidates: Option<&[(&str, f32)]>) -> ProbeResult {
        ProbeResult {
            truth: truth.iter().map(|s| s.to_string()).collect(),
            candidates: candidates.map(|c| c.iter().map(|(id, s)| (id.to_string(), *s)).collect()),
        }
    }

    fn sample() -> Vec<ProbeResult> {
        vec![
            probe(&["a"], Some(&[("a", 0.7), ("b", 0.2)])),
            probe(&["b"], Some(&[("a", 0.4), ("b", 0.35)])),
            probe(&["c"], None),
            probe(&["a", "b"], Some(&[("b", 0.5)])),
            probe(&[], Some(&[("a", 0.45)])),
            probe(&[], Some(&[("c", 0.1)])),
            probe(&[], None),
            probe(&["a"], Some(&[("a", 0.3)])),
        ]
    }

    #[test]
    fn ranks_count_mated_probes_and_failures_as_misses() {
        let r = sample();
        assert_eq!(rank_rate(&r, 1), (3.0 / 5.0, 5));
        assert_eq!(rank_rate(&r, 5), (4.0 / 5.0, 5));
    }

    #[test]
    fn open_set_rates_follow_the_threshold() {
        let r = sample();
        // At 0.3: unknown 0.45 is a false positive; mated misses: b (wrong top), c (no face).
        assert_eq!(rates_at(&r, 0.3), (1.0 / 3.0, 2.0 / 5.0));
        // At 0.6 only the 0.7 probe is still found.
        assert_eq!(rates_at(&r, 0.6), (0.0, 4.0 / 5.0));
        let strict = fnir_at_fpir(&r, 0.01).unwrap();
        assert_eq!((strict.allowed_false_positives, strict.unknown), (0, 3));
        assert!(strict.threshold > 0.45 && strict.threshold < 0.5);
        assert_eq!(strict.fnir, 3.0 / 5.0);
        let loose = fnir_at_fpir(&r, 0.34).unwrap();
        assert_eq!(loose.allowed_false_positives, 1);
        assert!(loose.threshold > 0.1 && loose.threshold < 0.3);
        assert_eq!(loose.fnir, 2.0 / 5.0);
        assert!(fnir_at_fpir(&r[..4], 0.01).is_none());
        assert!(rates_at(&r[..4], 0.3).0.is_nan());
    }
}
