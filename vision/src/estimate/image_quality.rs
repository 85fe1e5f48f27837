//! Image statistics of a face that need no model: sharpness, exposure, contrast, saturated highlights, the balance
//! of light between the two halves of the face, noise, JPEG blockiness, dynamic range and how uniform the
//! background is. These are raw measurements; the API turns them into scores and verdicts with its documented
//! thresholds.
//!
//! Most are taken on the face as the recognizer sees it (the aligned 112x112 ArcFace crop, or a square crop of the
//! box when there are no landmarks). Noise and blockiness need the photo's own pixels, so they are taken on the face
//! box in the photo (at most its central 512x512, on the photo's 8x8 JPEG grid).

use image::RgbImage;

use super::{FaceRegion, square_crop};
use crate::align::arcface_crop;

const CROP: u32 = 112;
const NATIVE_MAX: u32 = 512;
const JPEG_BLOCK: u32 = 8;

/// Raw measurements of one face; see each field for its unit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ImageMeasures {
    /// Variance of the 3x3 Laplacian of the grey face crop (grey levels squared): falls with blur.
    pub laplacian_variance: f32,
    /// Mean grey level of the face crop, 0..255.
    pub mean_level: f32,
    /// Standard deviation of the grey levels of the face crop (RMS contrast), 0..255.
    pub level_std: f32,
    /// Fraction of face-crop pixels at 250 or more (blown-out highlights, flare).
    pub saturated_fraction: f32,
    /// Mean grey level of the darker half of the face (left or right) over the brighter half's, 0..1.
    pub halves_ratio: f32,
    /// Dynamic range of the face in stops: log2 of (99th percentile + 1) over (1st percentile + 1).
    pub dynamic_range_stops: f32,
    /// Standard deviation of the photo's noise (grey levels), Immerkaer's estimator on the face's own pixels.
    pub noise_sigma: f32,
    /// JPEG blockiness: (mean step across 8x8 block edges - mean step inside blocks) / their sum, 0 for none.
    pub blockiness: f32,
    /// Standard deviation of the grey levels around the head (the ring between 1.5x and 2.5x the face box), or
    /// `None` when the face fills the photo and no background is visible.
    pub background_std: Option<f32>,
}

/// Grey levels, row by row.
struct Grey {
    width: usize,
    height: usize,
    levels: Vec<f32>,
}

impl Grey {
    fn of(image: &RgbImage) -> Self {
        Self {
            width: image.width() as usize,
            height: image.height() as usize,
            levels: image
                .pixels()
                .map(|p| 0.299 * p.0[0] as f32 + 0.587 * p.0[1] as f32 + 0.114 * p.0[2] as f32)
                .collect(),
        }
    }

    fn at(&self, x: usize, y: usize) -> f32 {
        self.levels[y * self.width + x]
    }
}

fn mean_std(values: impl Iterator<Item = f32> + Clone) -> (f32, f32) {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0f64), |(n, s), v| (n + 1, s + v as f64));
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = sum / n as f64;
    let var = values.map(|v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    (mean as f32, var.sqrt() as f32)
}

fn laplacian_variance(g: &Grey) -> f32 {
    let mut responses = Vec::with_capacity(g.levels.len());
    for y in 1..g.height.saturating_sub(1) {
        for x in 1..g.width.saturating_sub(1) {
            responses.push(
                g.at(x - 1, y) + g.at(x + 1, y) + g.at(x, y - 1) + g.at(x, y + 1)
                    - 4.0 * g.at(x, y),
            );
        }
    }
    mean_std(responses.into_iter()).1.powi(2)
}

/// Immerkaer (1996), "Fast noise variance estimation": the response to a mask that cancels smooth image structure.
fn noise_sigma(g: &Grey) -> f32 {
    if g.width < 3 || g.height < 3 {
        return 0.0;
    }
    let mut sum = 0.0f64;
    for y in 1..g.height - 1 {
        for x in 1..g.width - 1 {
            let r =
                g.at(x - 1, y - 1) + g.at(x + 1, y - 1) + g.at(x - 1, y + 1) + g.at(x + 1, y + 1)
                    - 2.0 * (g.at(x, y - 1) + g.at(x, y + 1) + g.at(x - 1, y) + g.at(x + 1, y))
                    + 4.0 * g.at(x, y);
            sum += r.abs() as f64;
        }
    }
    let n = ((g.width - 2) * (g.height - 2)) as f64;
    ((std::f64::consts::PI / 2.0).sqrt() * sum / (6.0 * n)) as f32
}

/// Steps across 8x8 block edges against steps inside blocks, both directions. `x0`, `y0` place the region on the
/// photo's grid.
fn blockiness(g: &Grey, x0: u32, y0: u32) -> f32 {
    let (mut edge, mut edge_n, mut inner, mut inner_n) = (0.0f64, 0usize, 0.0f64, 0usize);
    let mut add = |on_edge: bool, step: f32| {
        if on_edge {
            edge += step.abs() as f64;
            edge_n += 1;
        } else {
            inner += step.abs() as f64;
            inner_n += 1;
        }
    };
    for y in 0..g.height {
        for x in 0..g.width.saturating_sub(1) {
            add(
                (x0 as usize + x + 1).is_multiple_of(JPEG_BLOCK as usize),
                g.at(x + 1, y) - g.at(x, y),
            );
        }
    }
    for y in 0..g.height.saturating_sub(1) {
        for x in 0..g.width {
            add(
                (y0 as usize + y + 1).is_multiple_of(JPEG_BLOCK as usize),
                g.at(x, y + 1) - g.at(x, y),
            );
        }
    }
    if edge_n == 0 || inner_n == 0 {
        return 0.0;
    }
    let (e, i) = (edge / edge_n as f64, inner / inner_n as f64);
    if e + i <= 0.0 {
        0.0
    } else {
        ((e - i) / (e + i)).max(0.0) as f32
    }
}

fn percentile(sorted: &[f32], q: f32) -> f32 {
    let i = ((sorted.len() - 1) as f32 * q).round() as usize;
    sorted[i]
}

/// The face box in the photo's own pixels, at most its central 512x512, starting on the JPEG grid.
fn native_region(image: &RgbImage, face: &FaceRegion) -> (RgbImage, u32, u32) {
    let (w, h) = image.dimensions();
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (x1, y1, x2, y2) = (
        clamp(face.bbox[0], w),
        clamp(face.bbox[1], h),
        clamp(face.bbox[2], w),
        clamp(face.bbox[3], h),
    );
    let centre = |a: u32, b: u32| {
        let len = (b - a).min(NATIVE_MAX);
        // Rounded down onto the JPEG grid, so block edges fall where the encoder put them.
        ((a + (b - a - len) / 2) / JPEG_BLOCK * JPEG_BLOCK, len)
    };
    let ((x, cw), (y, ch)) = (centre(x1, x2.max(x1)), centre(y1, y2.max(y1)));
    let (cw, ch) = (cw.min(w - x), ch.min(h - y));
    (
        image::imageops::crop_imm(image, x, y, cw, ch).to_image(),
        x,
        y,
    )
}

/// Grey levels of the ring between 1.5x and 2.5x the face box (squared), inside the photo.
fn background_levels(image: &RgbImage, face: &FaceRegion) -> Vec<f32> {
    let [cx, cy] = face.center();
    let side = face.width().max(face.height());
    let (inner, outer) = (side * 0.75, side * 1.25);
    let (w, h) = image.dimensions();
    let range = |c: f32, max: u32| {
        (
            (c - outer).max(0.0) as u32,
            ((c + outer).max(0.0) as u32).min(max),
        )
    };
    let ((xa, xb), (ya, yb)) = (range(cx, w), range(cy, h));
    let mut levels = Vec::new();
    // A stride keeps this cheap on large photos; uniformity needs no full sampling.
    let step = ((outer * 2.0 / 128.0) as usize).max(1);
    for y in (ya..yb).step_by(step) {
        for x in (xa..xb).step_by(step) {
            let (dx, dy) = ((x as f32 - cx).abs(), (y as f32 - cy).abs());
            if dx.max(dy) >= inner {
                let p = image.get_pixel(x, y).0;
                levels.push(0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32);
            }
        }
    }
    levels
}

/// Every measurement of `face` in `image`.
pub fn measure(image: &RgbImage, face: &FaceRegion) -> ImageMeasures {
    let crop = match &face.landmarks {
        Some(points) => arcface_crop(image, points),
        None => square_crop(image, face, 1.0, CROP),
    };
    let g = Grey::of(&crop);
    let (mean_level, level_std) = mean_std(g.levels.iter().copied());
    let saturated = g.levels.iter().filter(|&&v| v >= 250.0).count();
    let half = g.width / 2;
    let side_mean = |left: bool| {
        mean_std(
            (0..g.height)
                .flat_map(|y| (0..g.width).map(move |x| (x, y)))
                .filter(|&(x, _)| (x < half) == left)
                .map(|(x, y)| g.at(x, y)),
        )
        .0
    };
    let (l, r) = (side_mean(true), side_mean(false));
    let mut sorted = g.levels.clone();
    sorted.sort_by(f32::total_cmp);
    let (native, x0, y0) = native_region(image, face);
    let native = Grey::of(&native);
    let background = background_levels(image, face);
    let min_background = (crop.width() * crop.height() / 10) as usize;
    ImageMeasures {
        laplacian_variance: laplacian_variance(&g),
        mean_level,
        level_std,
        saturated_fraction: saturated as f32 / g.levels.len().max(1) as f32,
        halves_ratio: if l.max(r) > 0.0 {
            l.min(r) / l.max(r)
        } else {
            1.0
        },
        dynamic_range_stops: ((percentile(&sorted, 0.99) + 1.0)
            / (percentile(&sorted, 0.01) + 1.0))
            .log2(),
        noise_sigma: noise_sigma(&native),
        blockiness: blockiness(&native, x0, y0),
        background_std: (background.len() >= min_background)
            .then(|| mean_std(background.iter().copied()).1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_of(f: impl Fn(u32, u32) -> u8, size: u32) -> Grey {
        Grey::of(&RgbImage::from_fn(size, size, |x, y| {
            let v = f(x, y);
            image::Rgb([v, v, v])
        }))
    }

    #[test]
    fn a_flat_image_has_no_detail_noise_or_blocks() {
        let g = grey_of(|_, _| 90, 32);
        assert_eq!(laplacian_variance(&g), 0.0);
        assert_eq!(noise_sigma(&g), 0.0);
        assert_eq!(blockiness(&g, 0, 0), 0.0);
    }

    #[test]
    fn a_checkerboard_of_8x8_blocks_is_blocky_and_a_smooth_ramp_is_not() {
        let blocks = grey_of(|x, y| if (x / 8 + y / 8) % 2 == 0 { 100 } else { 140 }, 64);
        assert!(blockiness(&blocks, 0, 0) > 0.99);
        // The same blocks seen off the grid are not blocky there.
        assert!(blockiness(&blocks, 4, 4) < 0.01);
        let ramp = grey_of(|x, _| (x * 3) as u8, 64);
        assert!(blockiness(&ramp, 0, 0) < 0.01);
    }

    #[test]
    fn noise_estimate_follows_the_noise() {
        // A deterministic pseudo-random +-20 pattern.
        let noisy = grey_of(|x, y| if (x * 7 + y * 13) % 5 < 2 { 108 } else { 128 }, 64);
        let clean = grey_of(|x, _| 100 + (x / 4) as u8, 64);
        assert!(noise_sigma(&noisy) > 5.0 * noise_sigma(&clean).max(0.1));
    }
}
