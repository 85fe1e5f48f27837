//! Verification figures from scored pairs: accuracy at a threshold, the threshold that maximises it (and its
//! k-fold cross-validated accuracy), TAR at a target FAR, the ROC curve and its area.
//!
//! A pair is accepted when `similarity >= threshold`, as the server decides. A pair where a face was not found has
//! no similarity: it is an error for accuracy at every threshold, and on the ROC it is never accepted (a genuine
//! pair lost, an impostor pair rejected: ISO/IEC 19795-1's generalised rates).

/// One verified pair: same person or not, its fold, and its cosine (None when a face was not found).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPair {
    pub same: bool,
    pub fold: usize,
    pub similarity: Option<f32>,
}

/// The similarity on the ROC: a failed pair sorts below every real cosine.
fn roc_similarity(p: &ScoredPair) -> f64 {
    p.similarity.map_or(f64::NEG_INFINITY, f64::from)
}

pub fn accuracy_at(pairs: &[ScoredPair], threshold: f64) -> f64 {
    let correct = pairs
        .iter()
        .filter(|p| {
            p.similarity
                .is_some_and(|s| (f64::from(s) >= threshold) == p.same)
        })
        .count();
    correct as f64 / pairs.len().max(1) as f64
}

/// The threshold with the highest accuracy on `pairs` (the lowest such, midway between two observed cosines).
pub fn best_threshold(pairs: &[ScoredPair]) -> (f64, f64) {
    let mut scored: Vec<(f64, bool)> = pairs
        .iter()
        .filter_map(|p| p.similarity.map(|s| (f64::from(s), p.same)))
        .collect();
    if scored.is_empty() {
        return (0.0, 0.0);
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Threshold under every cosine: all genuine pairs right, all impostors wrong.
    let mut correct = scored.iter().filter(|(_, same)| *same).count() as i64;
    let (mut best_correct, mut best_t) = (correct, scored[0].0 - 1e-4);
    let mut i = 0;
    while i < scored.len() {
        let value = scored[i].0;
        // Raising the threshold past `value` rejects every pair with that cosine.
        while i < scored.len() && scored[i].0 == value {
            correct += if scored[i].1 { -1 } else { 1 };
            i += 1;
        }
        if correct > best_correct {
            best_correct = correct;
            best_t = match scored.get(i) {
                Some(next) => (value + next.0) / 2.0,
                None => value + 1e-4,
            };
        }
    }
    (best_t, best_correct as f64 / pairs.len() as f64)
}

/// Accuracy of each fold at the threshold learnt on the other folds.
#[derive(Debug, Clone)]
pub struct CrossValidation {
    /// `(threshold learnt on the other folds, accuracy on this fold)` per fold.
    pub folds: Vec<(f64, f64)>,
}

impl CrossValidation {
    pub fn run(pairs: &[ScoredPair], folds: usize) -> CrossValidation {
        let folds = (0..folds)
            .map(|k| {
                let (test, train): (Vec<ScoredPair>, Vec<ScoredPair>) =
                    pairs.iter().partition(|p| p.fold == k);
                let (threshold, _) = best_threshold(&train);
                (threshold, accuracy_at(&test, threshold))
            })
            .collect();
        CrossValidation { folds }
    }

    pub fn mean_accuracy(&self) -> f64 {
        self.folds.iter().map(|f| f.1).sum::<f64>() / self.folds.len().max(1) as f64
    }

    /// Standard deviation of the fold accuracies (population, as LFW results are reported).
    pub fn std_accuracy(&self) -> f64 {
        let mean = self.mean_accuracy();
        (self.folds.iter().map(|f| (f.1 - mean).powi(2)).sum::<f64>()
            / self.folds.len().max(1) as f64)
            .sqrt()
    }

    pub fn mean_threshold(&self) -> f64 {
        self.folds.iter().map(|f| f.0).sum::<f64>() / self.folds.len().max(1) as f64
    }
}

/// The true-accept rate at the lowest threshold whose false-accept rate is at most the target.
#[derive(Debug, Clone, Copy)]
pub struct TarAtFar {
    pub target_far: f64,
    pub tar: f64,
    pub threshold: f64,
    /// The false accepts the target allows among `impostors` (0 when the set is too small to resolve it).
    pub allowed_false_accepts: usize,
    pub impostors: usize,
}

pub fn tar_at_far(pairs: &[ScoredPair], target_far: f64) -> TarAtFar {
    let mut impostor: Vec<f64> = pairs
        .iter()
        .filter(|p| !p.same)
        .map(roc_similarity)
        .collect();
    impostor.sort_by(|a, b| b.total_cmp(a));
    let allowed = (target_far * impostor.len() as f64).floor() as usize;
    // Just above the (allowed + 1)-th highest impostor cosine; failed impostors (-inf) are never accepted.
    let threshold = match impostor.get(allowed) {
        Some(v) if v.is_finite() => next_up(*v),
        _ => f64::NEG_INFINITY,
    };
    let genuine: Vec<f64> = pairs
        .iter()
        .filter(|p| p.same)
        .map(roc_similarity)
        .collect();
    let accepted = genuine
        .iter()
        .filter(|s| s.is_finite() && **s >= threshold)
        .count();
    TarAtFar {
        target_far,
        tar: accepted as f64 / genuine.len().max(1) as f64,
        threshold,
        allowed_false_accepts: allowed,
        impostors: impostor.len(),
    }
}

/// A threshold just above cosine `v` (a round step rather than the next float, so printed thresholds read well).
fn next_up(v: f64) -> f64 {
    v + 1e-6
}

/// One point of the ROC: accepting every pair with a cosine at or above `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    pub threshold: f64,
    pub far: f64,
    pub tar: f64,
}

/// The ROC at every distinct cosine, from the strictest threshold (nothing accepted) down.
pub fn roc(pairs: &[ScoredPair]) -> Vec<RocPoint> {
    let genuine = pairs.iter().filter(|p| p.same).count().max(1) as f64;
    let impostors = pairs.iter().filter(|p| !p.same).count().max(1) as f64;
    let mut scored: Vec<(f64, bool)> = pairs
        .iter()
        .filter_map(|p| p.similarity.map(|s| (f64::from(s), p.same)))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = vec![RocPoint {
        threshold: f64::INFINITY,
        far: 0.0,
        tar: 0.0,
    }];
    let (mut accepted_genuine, mut accepted_impostors) = (0usize, 0usize);
    let mut i = 0;
    while i < scored.len() {
        let value = scored[i].0;
        while i < scored.len() && scored[i].0 == value {
            if scored[i].1 {
                accepted_genuine += 1;
            } else {
                accepted_impostors += 1;
            }
            i += 1;
        }
        points.push(RocPoint {
            threshold: value,
            far: accepted_impostors as f64 / impostors,
            tar: accepted_genuine as f64 / genuine,
        });
    }
    points
}

/// Area under the ROC: the probability that a genuine pair scores above an impostor pair (ties count half;
/// failed pairs score below everything).
pub fn auc(pairs: &[ScoredPair]) -> f64 {
    let mut all: Vec<(f64, bool)> = pairs.iter().map(|p| (roc_similarity(p), p.same)).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let genuine = all.iter().filter(|p| p.1).count() as f64;
    let impostors = all.len() as f64 - genuine;
    if genuine == 0.0 || impostors == 0.0 {
        return f64::NAN;
    }
    // Mann-Whitney U from the genuine pairs' ranks, ties given their average rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * all[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    (rank_sum - genuine * (genuine + 1.0) / 2.0) / (genuine * impostors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(same: bool, fold: usize, similarity: Option<f32>) -> ScoredPair {
        ScoredPair {
            same,
            fold,
            similarity,
        }
    }

    /// Genuine at 0.9, 0.8, 0.7, 0.2; impostors at 0.5, 0.1, 0.0, -0.1.
    fn sample() -> Vec<ScoredPair> {
        let mut p: Vec<ScoredPair> = [0.9, 0.8, 0.7, 0.2]
            .iter()
            .map(|s| pair(true, 0, Some(*s)))
            .collect();
        p.extend(
            [0.5, 0.1, 0.0, -0.1]
                .iter()
                .map(|s| pair(false, 0, Some(*s))),
        );
        p
    }

    #[test]
    fn the_best_threshold_separates_what_it_can() {
        let (t, acc) = best_threshold(&sample());
        // Between 0.1 and 0.2 only the impostor at 0.5 is wrong; between 0.5 and 0.7 only the genuine 0.2.
        assert!((0.1..0.2).contains(&t), "threshold {t}");
        assert_eq!(acc, 7.0 / 8.0);
        assert_eq!(accuracy_at(&sample(), t), 7.0 / 8.0);
    }

    #[test]
    fn failed_pairs_are_errors_at_every_threshold() {
        let mut p = sample();
        p.push(pair(false, 0, None));
        p.push(pair(true, 0, None));
        assert_eq!(best_threshold(&p).1, 7.0 / 10.0);
        assert_eq!(accuracy_at(&p, -2.0), 4.0 / 10.0);
        // On the ROC a failed genuine pair is never accepted.
        let t = tar_at_far(&p, 0.5);
        assert_eq!(t.impostors, 5);
        assert_eq!(t.tar, 4.0 / 5.0);
    }

    #[test]
    fn tar_at_far_allows_only_the_false_accepts_the_target_permits() {
        let p = sample();
        let strict = tar_at_far(&p, 0.1);
        assert_eq!(strict.allowed_false_accepts, 0);
        assert!(strict.threshold > 0.5);
        assert_eq!(strict.tar, 3.0 / 4.0);
        let loose = tar_at_far(&p, 0.25);
        assert_eq!(loose.allowed_false_accepts, 1);
        assert!(loose.threshold > 0.1 && loose.threshold <= 0.2);
        assert_eq!(loose.tar, 1.0);
    }

    #[test]
    fn roc_and_auc_agree_with_a_hand_count() {
        let p = sample();
        // Impostors below each genuine: 0.9 -> 4, 0.8 -> 4, 0.7 -> 4, 0.2 -> 3 of 16 pairs.
        assert_eq!(auc(&p), 15.0 / 16.0);
        let curve = roc(&p);
        assert_eq!(curve.len(), 9);
        assert_eq!(curve.last().unwrap().far, 1.0);
        assert_eq!(curve.last().unwrap().tar, 1.0);
        assert!(
            curve
                .windows(2)
                .all(|w| w[1].far >= w[0].far && w[1].tar >= w[0].tar)
        );
        // Perfect separation and ties.
        let tied = [pair(true, 0, Some(0.5)), pair(false, 0, Some(0.5))];
        assert_eq!(auc(&tied), 0.5);
    }

    #[test]
    fn cross_validation_learns_each_threshold_without_its_fold() {
        // Fold 0 separates at 0.5, fold 1 at 0.3: each fold is tested at the other's threshold.
        let p = vec![
            pair(true, 0, Some(0.6)),
            pair(false, 0, Some(0.4)),
            pair(true, 1, Some(0.35)),
            pair(false, 1, Some(0.25)),
        ];
        let cv = CrossValidation::run(&p, 2);
        assert!((cv.folds[0].0 - 0.3).abs() < 1e-6);
        assert!((cv.folds[1].0 - 0.5).abs() < 1e-6);
        assert_eq!(cv.folds[0].1, 0.5);
        assert_eq!(cv.folds[1].1, 0.5);
        assert_eq!(cv.mean_accuracy(), 0.5);
        assert_eq!(cv.std_accuracy(), 0.0);
    }
}
