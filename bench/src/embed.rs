//! `faceserve-bench embed`: embeds a folder-per-identity photo set (`DIR/<name>/*.jpg`, as LFW) with the server's
//! own in-process pipeline and saves the vectors as .npy, for calibration and for the index benchmark's generator.
//! Each photo contributes the detected face nearest its centre; photos without a face are listed and skipped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use faceserve_vision::detect::Detection;
use faceserve_vision::pipeline::{FacePipeline, OwnedImage};
use futures::StreamExt;

use crate::{npy, pipeline};

#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// Folder of identity folders.
    #[arg(long)]
    pub images: PathBuf,
    /// Output folder: embeddings.npy (f32 [N, D]), identities.npy (i32 [N]), files.txt.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub models: pipeline::ModelArgs,
    /// Photos in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

/// `(identity index, path)` of every photo, identities in name order.
fn list_photos(root: &Path) -> anyhow::Result<Vec<(i32, PathBuf)>> {
    let mut people: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    people.sort();
    let mut photos = Vec::new();
    for (id, dir) in people.iter().enumerate() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("jpg" | "jpeg" | "png")
                )
            })
            .collect();
        files.sort();
        photos.extend(files.into_iter().map(|f| (id as i32, f)));
    }
    Ok(photos)
}

/// The face whose box centre is nearest the image centre.
fn central(faces: &[Detection], width: u32, height: u32) -> Option<Detection> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let distance = |d: &Detection| {
        let (x, y) = (
            (d.bbox[0] + d.bbox[2]) / 2.0 - cx,
            (d.bbox[1] + d.bbox[3]) / 2.0 - cy,
        );
        x * x + y * y
    };
    faces
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .copied()
}

async fn embed_photo(pipeline: &FacePipeline, path: &Path) -> anyhow::Result<Vec<f32>> {
    let image = pipeline
        .decode(OwnedImage::Encoded(std::fs::read(path)?))
        .await?;
    let faces = pipeline.detect(image.clone()).await?;
    let face = central(&faces, image.width(), image.height()).context("no face")?;
    Ok(pipeline.embed(image, &face).await?.vector)
}

pub async fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let photos = list_photos(&args.images)?;
    anyhow::ensure!(
        !photos.is_empty(),
        "no photos under {}",
        args.images.display()
    );
    let pipeline = Arc::new(pipeline::start(&args.models)?);
    let started = std::time::Instant::now();
    let results: Vec<_> = futures::stream::iter(photos.iter().cloned())
        .map(|(id, path)| {
            let pipeline = pipeline.clone();
            async move { (id, path.clone(), embed_photo(&pipeline, &path).await) }
        })
        .buffered(args.concurrency.max(1))
        .collect()
        .await;
    let (mut vectors, mut identities, mut files, mut failed) =
        (Vec::new(), Vec::new(), String::new(), Vec::new());
    for (id, path, result) in results {
        match result {
            Ok(v) => {
                vectors.extend(v);
                identities.push(id);
                files.push_str(&format!("{}\n", path.display()));
            }
            Err(e) => failed.push(format!("{}: {e:#}", path.display())),
        }
    }
    std::fs::create_dir_all(&args.out)?;
    npy::write_f32_matrix(
        &args.out.join("embeddings.npy"),
        &vectors,
        pipeline.dimension(),
    )?;
    npy::write_i32_vector(&args.out.join("identities.npy"), &identities)?;
    std::fs::write(args.out.join("files.txt"), files)?;
    for f in &failed {
        eprintln!("skipped {f}");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "photos={} embedded={} failed={} seconds={secs:.1} photos_per_second={:.2}",
        photos.len(),
        identities.len(),
        failed.len(),
        photos.len() as f64 / secs
    );
    Ok(())
}
