//! The labelled sets of `../shared/testdata` and the figure each one gives: read the labels, send the photos, score
//! the answers, print a table and one `key=value` line.

use std::path::{Path, PathBuf};

use faceserve_proto::v1 as pb;
use pb::Estimator as E;

use super::Faces;
use super::client::{Answer, Client, main_face};

/// Data rows of a CSV file with a header and no commas inside fields (the testdata label files).
pub(super) fn csv_rows(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|f| f.trim_matches('"').to_string())
                .collect()
        })
        .collect())
}

/// The files of `dir` with an image extension, sorted.
pub(super) fn images_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "jpg" | "jpeg" | "png" | "webp"
                )
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

pub(super) fn errors(answers: &[Answer]) -> usize {
    answers.iter().filter(|a| main_face(a).is_none()).count()
}

/// Gender accuracy and age MAE, overall and split by the labelled age (under 18, from 18), on `utkface/labels.csv`;
/// with `answers`, each photo's labels and answer are also written there as CSV.
pub async fn utkface(
    client: &Client,
    data: &Path,
    every: usize,
    answers_csv: Option<&Path>,
) -> anyhow::Result<()> {
    let rows: Vec<_> = csv_rows(&data.join("utkface/labels.csv"))?
        .into_iter()
        .step_by(every)
        .collect();
    let paths: Vec<_> = rows
        .iter()
        .map(|r| data.join("utkface").join(&r[0]))
        .collect();
    let answers = client.estimate(&paths, &[E::Age, E::Gender], None).await?;
    // Index 0: under 18, 1: adults.
    let mut gender: [(usize, usize); 2] = Default::default();
    let mut abs_errors: [Vec<f32>; 2] = Default::default();
    let mut csv = String::from("file,age,gender,estimated_age,male_probability\n");
    for (row, answer) in rows.iter().zip(&answers) {
        let Some(face) = main_face(answer) else {
            continue;
        };
        let (truth, male) = (row[1].parse::<f32>()?, row[2] == "male");
        let group = usize::from(truth >= 18.0);
        let mut male_probability = None;
        if face.gender != pb::Gender::Unspecified as i32 {
            let said_male = face.gender == pb::Gender::Male as i32;
            gender[group].0 += usize::from(said_male == male);
            gender[group].1 += 1;
            male_probability = Some(match said_male {
                true => face.gender_confidence,
                false => 1.0 - face.gender_confidence,
            });
        }
        if let Some(age) = face.age {
            abs_errors[group].push((age - truth).abs());
        }
        let text = |v: Option<f32>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
        csv += &format!(
            "{},{},{},{},{}\n",
            row[0],
            row[1],
            row[2],
            text(face.age),
            text(male_probability)
        );
    }
    if let Some(path) = answers_csv {
        std::fs::write(path, csv).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    let accuracy = |(right, judged): (usize, usize)| right as f64 / judged.max(1) as f64;
    let all: Vec<f32> = abs_errors.concat();
    println!(
        "utkface photos={} no_face={} gender_accuracy={:.4} gender_accuracy_under18={:.4} \
         gender_accuracy_adult={:.4} age_mae={:.2} age_mae_under18={:.2} age_mae_adult={:.2} (n={} / {})",
        rows.len(),
        errors(&answers),
        accuracy((gender[0].0 + gender[1].0, gender[0].1 + gender[1].1)),
        accuracy(gender[0]),
        accuracy(gender[1]),
        mean(&all),
        mean(&abs_errors[0]),
        mean(&abs_errors[1]),
        abs_errors[0].len(),
        abs_errors[1].len(),
    );
    Ok(())
}

/// The FER2013 folder names in the order of [`pb::Emotion`] (1..=7).
const FER_LABELS: [&str; 7] = [
    "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise",
];

/// Emotion accuracy and the confusion matrix (rows: label, columns: answer) on `fer2013/labels.csv`.
pub async fn fer2013(client: &Client, data: &Path, every: usize) -> anyhow::Result<()> {
    let rows: Vec<_> = csv_rows(&data.join("fer2013/labels.csv"))?
        .into_iter()
        .step_by(every)
        .collect();
    let paths: Vec<_> = rows
        .iter()
        .map(|r| data.join("fer2013").join(&r[0]))
        .collect();
    let answers = client.estimate(&paths, &[E::Emotion], None).await?;
    let mut confusion = [[0usize; 7]; 7];
    for (row, answer) in rows.iter().zip(&answers) {
        let label = FER_LABELS
            .iter()
            .position(|l| *l == row[1])
            .ok_or_else(|| anyhow::anyhow!("unknown FER2013 label {}", row[1]))?;
        if let Some(face) = main_face(answer).filter(|f| (1..=7).contains(&f.emotion)) {
            confusion[label][face.emotion as usize - 1] += 1;
        }
    }
    let judged: usize = confusion.iter().flatten().sum();
    let right: usize = (0..7).map(|i| confusion[i][i]).sum();
    println!(
        "{:>9} {}",
        "label",
        FER_LABELS.map(|l| format!("{l:>8}")).join("")
    );
    for (label, counts) in FER_LABELS.iter().zip(&confusion) {
        println!("{label:>9} {}", counts.map(|c| format!("{c:>9}")).join(""));
    }
    println!(
        "fer2013 photos={} no_face={} emotion_accuracy={:.4} (n={judged})",
        rows.len(),
        errors(&answers),
        right as f64 / judged.max(1) as f64
    );
    Ok(())
}

/// Share of faces with a mask: on the masked-face photos and on unmasked photo sets.
pub async fn mask(client: &Client, data: &Path) -> anyhow::Result<()> {
    let sets = [
        ("masked", data.join("ultraface_crowd_imgs/masked_face/imgs")),
        ("compreface", data.join("compreface_samples")),
        (
            "faceapi_examples",
            data.join("faceapi_js_images/examples/images"),
        ),
    ];
    let mut line = String::from("mask");
    for (name, dir) in sets {
        let paths = images_in(&dir)?;
        let answers = client
            .estimate(&paths, &[E::Mask], Some(Faces::Detect))
            .await?;
        let (mut masked, mut faces) = (0usize, 0usize);
        for (path, answer) in paths.iter().zip(&answers) {
            let Ok(a) = answer else {
                println!("{}: {:?}", path.display(), answer.as_ref().err());
                continue;
            };
            let m = a
                .faces
                .iter()
                .filter(|f| f.has_medical_mask.as_ref().is_some_and(|m| m.value));
            let n = m.count();
            println!("{}: {n} of {} faces masked", path.display(), a.faces.len());
            masked += n;
            faces += a.faces.len();
        }
        line += &format!(" {name}_faces={faces} {name}_masked={masked}");
    }
    println!("{line}");
    Ok(())
}
