//! `--task liveness`: the verdict on the three anti-spoofing samples, and how the live faces of other sets score:
//! judged live at the server's threshold, and scoring above both spoofs (what a threshold that rejects the two
//! spoofs would still let through). Two spoofs measure next to nothing about attacks; the live faces measure the
//! false rejections.

use std::path::{Path, PathBuf};

use faceserve_proto::v1 as pb;
use pb::Estimator as E;

use super::Faces;
use super::client::{Client, main_face};
use super::sets::images_in;

/// Every `every`-th photo of LFW's person folders, sorted.
fn lfw_photos(data: &Path, every: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut photos = Vec::new();
    for person in images_dirs(&data.join("lfw_view1/images"))? {
        photos.extend(images_in(&person)?);
    }
    Ok(photos.into_iter().step_by(every).collect())
}

fn images_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn verdict(value: i32) -> &'static str {
    match pb::LivenessValue::try_from(value) {
        Ok(pb::LivenessValue::Real) => "REAL",
        Ok(pb::LivenessValue::Fake) => "FAKE",
        _ => "?",
    }
}

pub async fn liveness(client: &Client, data: &Path) -> anyhow::Result<()> {
    let samples = images_in(&data.join("antispoof_minivision_samples"))?;
    let answers = client
        .estimate(&samples, &[E::Liveness], Some(Faces::Detect))
        .await?;
    let mut line = String::from("liveness");
    let mut highest_spoof = f32::NEG_INFINITY;
    for (path, answer) in samples.iter().zip(&answers) {
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        match main_face(answer).and_then(|f| f.liveness.clone()) {
            Some(l) => {
                line += &format!(" {name}={:.3}/{}", l.confidence, verdict(l.value));
                // The file names say it: F = spoof (photo or screen), T = live.
                if name.contains("_F") {
                    highest_spoof = highest_spoof.max(l.confidence);
                }
            }
            None => line += &format!(" {name}=error:{:?}", answer.as_ref().err()),
        }
    }
    let live_sets = [
        ("compreface", images_in(&data.join("compreface_samples"))?),
        ("faceapi_crops", {
            let mut crops = Vec::new();
            for person in images_dirs(&data.join("faceapi_js_images/examples/images"))? {
                crops.extend(images_in(&person)?);
            }
            crops
        }),
        ("lfw_every25", lfw_photos(data, 25)?),
    ];
    for (set, photos) in live_sets {
        let answers = client
            .estimate(&photos, &[E::Liveness], Some(Faces::Detect))
            .await?;
        let (mut faces, mut real, mut above_spoofs) = (0usize, 0usize, 0usize);
        for f in answers.iter().flatten().flat_map(|a| &a.faces) {
            let Some(l) = &f.liveness else { continue };
            faces += 1;
            real += usize::from(l.value == pb::LivenessValue::Real as i32);
            above_spoofs += usize::from(l.confidence > highest_spoof);
        }
        line +=
            &format!(" {set}_faces={faces} {set}_real={real} {set}_above_spoofs={above_spoofs}");
    }
    println!("{line}");
    Ok(())
}
