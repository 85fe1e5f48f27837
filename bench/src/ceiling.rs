//! `faceserve-bench ceiling`: the models alone, in a tight in-process loop over already decoded photos (no gRPC,
//! no queue, batch 1), the ceiling a server's throughput is measured against. Per photo: letterbox, detect, take
//! the largest face, align and embed (`--rpc identify`), or only detect (`--rpc detect`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use faceserve_batcher::Model;
use faceserve_vision::align::arcface_crop;
use faceserve_vision::decode::{DecodeLimits, ImageInput, decode_image};
use faceserve_vision::detect::{Detector, DetectorParams, letterbox_scale, prepare_input};
use faceserve_vision::pipeline::{FacePolicy, select_face};
use faceserve_vision::recognize::Recognizer;

use crate::load::Rpc;
use crate::photos::load_photos;
use crate::pipeline::{self, ModelArgs};

#[derive(Debug, clap::Args)]
pub struct CeilingArgs {
    #[arg(long)]
    pub images: PathBuf,
    #[arg(long, default_value_t = 400)]
    pub max_images: usize,
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    #[arg(long, value_enum, default_value = "identify")]
    pub rpc: Rpc,
    #[command(flatten)]
    pub models: ModelArgs,
}

pub fn run(args: CeilingArgs) -> anyhow::Result<()> {
    let models = pipeline::fetch(&args.models)?;
    let params = DetectorParams::default();
    let mut detector = Detector::load(
        &models.runtime,
        &models.files.detector,
        models.detector_kind,
        params,
        640,
        1,
    )?;
    let mut recognizer = Recognizer::load(&models.runtime, &models.files.recognizer, 1)?;
    let limits = DecodeLimits {
        max_bytes: usize::MAX,
        max_pixels: u64::MAX,
        max_decoded_pixels: u64::MAX,
    };
    let images = load_photos(&args.images, args.max_images)?
        .iter()
        .map(|b| decode_image(ImageInput::Encoded(b), &limits))
        .collect::<Result<Vec<_>, _>>()?;
    let (w, h) = detector.input_size();

    let mut one = |i: usize| -> anyhow::Result<usize> {
        let image = &images[i % images.len()];
        let scale = letterbox_scale(image, w, h, params.max_upscale);
        let faces = detector
            .run(vec![prepare_input(
                image,
                models.detector_kind,
                w,
                h,
                scale,
            )])?
            .remove(0);
        if args.rpc == Rpc::Identify {
            let Ok(face) = select_face(&faces, FacePolicy::Largest) else {
                return Ok(0);
            };
            let crop = arcface_crop(image, &face.landmarks);
            recognizer.run(vec![crop])?;
            return Ok(1);
        }
        Ok(faces.len())
    };
    for i in 0..10 {
        one(i)?;
    }
    let (started, until) = (
        Instant::now(),
        Instant::now() + Duration::from_secs_f64(args.duration),
    );
    let (mut frames, mut faces) = (0usize, 0usize);
    while Instant::now() < until {
        faces += one(frames)?;
        frames += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let (fps, faces_per_s) = (frames as f64 / secs, faces as f64 / secs);
    println!(
        "in-process ceiling, {:?}: {frames} photos in {secs:.1} s",
        args.rpc
    );
    println!(
        "rpc={:?} frames_per_s={fps:.2} faces_per_s={faces_per_s:.2} ms_per_frame={:.1}",
        args.rpc,
        1000.0 / fps
    );
    Ok(())
}
