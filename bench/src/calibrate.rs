//! `faceserve-bench calibrate`: a recognizer's calibration table from embeddings of a folder-per-identity set
//! (made by `faceserve-bench embed`). Every same-identity pair is genuine, every cross-identity pair an impostor;
//! the table gives, on a grid of cosines, the false-accept and false-reject rates of a threshold there, and a
//! logistic fit (equal priors) turns a cosine into a calibrated score.

use std::path::PathBuf;

use anyhow::Context;
use faceserve_vision::calibration::Calibration;

use crate::npy;

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Folder written by `faceserve-bench embed` (embeddings.npy, identities.npy).
    #[arg(long)]
    pub embeddings: PathBuf,
    /// Recognizer name recorded in the table.
    #[arg(long, default_value = "w600k_mbf")]
    pub recognizer: String,
    /// Description of the data and the command, recorded in the table.
    #[arg(long)]
    pub source: String,
    /// Output JSON file (e.g. vision/calibration/w600k_mbf.json).
    #[arg(long)]
    pub out: PathBuf,
}

/// Cosine histogram resolution.
const BINS: usize = 4000;
/// The table's grid of cosines.
const GRID_STEP: f64 = 0.01;

struct Histograms {
    genuine: Vec<u64>,
    impostor: Vec<u64>,
}

fn bin(c: f32) -> usize {
    (((c as f64 + 1.0) / 2.0 * BINS as f64) as usize).min(BINS - 1)
}

fn bin_centre(i: usize) -> f64 {
    (i as f64 + 0.5) / BINS as f64 * 2.0 - 1.0
}

/// Cosines of every pair, split by whether the two share an identity.
fn histograms(vectors: &[f32], dim: usize, identities: &[i32]) -> Histograms {
    let n = identities.len();
    let rows: Vec<&[f32]> = vectors.chunks_exact(dim).collect();
    let mut h = Histograms {
        genuine: vec![0; BINS],
        impostor: vec![0; BINS],
    };
    for i in 0..n {
        for j in i + 1..n {
            let c = faceserve_index::simd::dot(rows[i], rows[j]);
            if identities[i] == identities[j] {
                h.genuine[bin(c)] += 1;
            } else {
                h.impostor[bin(c)] += 1;
            }
        }
    }
    h
}

/// Logistic regression of "genuine" on the cosine with both classes weighted equally, by Newton's method.
fn fit_logistic(h: &Histograms) -> [f64; 2] {
    let (ng, ni) = (
        h.genuine.iter().sum::<u64>() as f64,
        h.impostor.iter().sum::<u64>() as f64,
    );
    let (mut a, mut b) = (10.0f64, -3.0f64);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..BINS {
            let x = bin_centre(i);
            let p = 1.0 / (1.0 + (-(a * x + b)).exp());
            for (count, label, weight) in [
                (h.genuine[i], 1.0, 1.0 / ng),
                (h.impostor[i], 0.0, 1.0 / ni),
            ] {
                if count == 0 {
                    continue;
                }
                let w = count as f64 * weight;
                let r = p - label;
                ga += w * r * x;
                gb += w * r;
                let s = w * p * (1.0 - p);
                haa += s * x * x;
                hab += s * x;
                hbb += s;
            }
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-18 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    [a, b]
}

fn table(h: &Histograms, recognizer: &str, source: &str) -> Calibration {
    let (ng, ni) = (
        h.genuine.iter().sum::<u64>(),
        h.impostor.iter().sum::<u64>(),
    );
    let mut points = Vec::new();
    let steps = (2.0 / GRID_STEP).round() as usize;
    for s in 0..=steps {
        let t = -1.0 + s as f64 * GRID_STEP;
        let first = (((t + 1.0) / 2.0 * BINS as f64).round() as usize).min(BINS);
        let accepted_impostors: u64 = h.impostor[first..].iter().sum();
        let rejected_genuine: u64 = h.genuine[..first].iter().sum();
        points.push([
            (t * 100.0).round() / 100.0,
            accepted_impostors as f64 / ni as f64,
            rejected_genuine as f64 / ng as f64,
        ]);
    }
    Calibration {
        model: recognizer.to_string(),
        source: source.to_string(),
        genuine_pairs: ng,
        impostor_pairs: ni,
        logistic: fit_logistic(h),
        points,
    }
}

/// Pretty JSON with one table point per line, so a regenerated table reads well in a diff.
fn to_json(c: &Calibration) -> anyhow::Result<String> {
    let points: Vec<String> = c
        .points
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<_, _>>()?;
    Ok(format!(
        "{{\n  \"model\": {},\n  \"source\": {},\n  \"genuine_pairs\": {},\n  \"impostor_pairs\": {},\n  \"logistic\": {},\n  \"points\": [\n    {}\n  ]\n}}",
        serde_json::to_string(&c.model)?,
        serde_json::to_string(&c.source)?,
        c.genuine_pairs,
        c.impostor_pairs,
        serde_json::to_string(&c.logistic)?,
        points.join(",\n    ")
    ))
}

pub fn run(args: CalibrateArgs) -> anyhow::Result<()> {
    let (vectors, rows, dim) = npy::read_f32_matrix(&args.embeddings.join("embeddings.npy"))?;
    let identities = npy::read_i32_vector(&args.embeddings.join("identities.npy"))?;
    anyhow::ensure!(
        rows == identities.len(),
        "{rows} embeddings but {} identities",
        identities.len()
    );
    let h = histograms(&vectors, dim, &identities);
    let calibration = table(&h, &args.recognizer, &args.source);
    let text = to_json(&calibration)?;
    // Refuse to write a table the server would refuse to load.
    Calibration::from_json(&text).context("the computed table is not valid")?;
    std::fs::write(&args.out, text + "\n")
        .with_context(|| format!("writing {}", args.out.display()))?;

    println!(
        "recognizer {}: {} genuine and {} impostor pairs",
        args.recognizer, calibration.genuine_pairs, calibration.impostor_pairs
    );
    println!("{:>10} {:>10} {:>8}", "far", "cosine", "frr");
    for far in [1e-2, 1e-3, 1e-4, 1e-5, 1e-6] {
        match calibration.threshold_for_far(far) {
            Some(t) => println!("{far:>10.0e} {t:>10.2} {:>8.4}", calibration.rates(t).frr),
            None => println!("{far:>10.0e} {:>10} {:>8}", "-", "-"),
        }
    }
    let eer = calibration
        .points
        .iter()
        .min_by(|p, q| (p[1] - p[2]).abs().total_cmp(&(q[1] - q[2]).abs()))
        .expect("non-empty table");
    let [a, b] = calibration.logistic;
    println!(
        "equal error rate ~{:.4} at cosine {:.2}; logistic score 0.5 at cosine {:.3}",
        (eer[1] + eer[2]) / 2.0,
        eer[0],
        -b / a
    );
    println!(
        "genuine_pairs={} impostor_pairs={} eer={:.4} threshold_far_1e-3={:.2} threshold_far_1e-4={:.2}",
        calibration.genuine_pairs,
        calibration.impostor_pairs,
        (eer[1] + eer[2]) / 2.0,
        calibration.threshold_for_far(1e-3).unwrap_or(f32::NAN),
        calibration.threshold_for_far(1e-4).unwrap_or(f32::NAN),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_classes_give_a_monotonic_table_and_a_steep_score() {
        // Two identities of unit vectors: same identity cosine 0.8, different 0.
        let dim = 4;
        let s = 0.8f32.sqrt();
        let t = 0.2f32.sqrt();
        let vectors = vec![
            s, t, 0.0, 0.0, //
            s, -t, 0.0, 0.0, //
            0.0, 0.0, s, t, //
            0.0, 0.0, s, -t,
        ];
        // Cosines: (0,1) = 0.8 - 0.2 = 0.6, (2,3) = 0.6, cross pairs = 0.
        let h = histograms(&vectors, dim, &[1, 1, 2, 2]);
        assert_eq!(h.genuine.iter().sum::<u64>(), 2);
        assert_eq!(h.impostor.iter().sum::<u64>(), 4);
        let c = table(&h, "m", "test");
        let text = serde_json::to_string(&c).unwrap();
        let c = Calibration::from_json(&text).unwrap();
        assert_eq!(c.rates(0.3).far, 0.0);
        assert_eq!(c.rates(0.3).frr, 0.0);
        assert!(c.rates(0.0).far > 0.9);
        assert!(c.rates(0.6).score > 0.9 && c.rates(0.0).score < 0.1);
    }
}
