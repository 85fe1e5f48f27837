//! Resizing images and laying pixels out as model input tensors.
//!
//! Models disagree on colour order, layout and normalisation; each model states its [`PixelNorm`] once and the same
//! code fills every tensor, so a colour-order mistake (which costs accuracy silently) cannot hide in one model's
//! hand-written loop.

use fast_image_resize::{
    FilterType, ResizeAlg, ResizeOptions, Resizer, images::Image as ResizeImage,
};
use image::RgbImage;

/// How one model wants its pixels: `(value - mean[c]) / std[c]`, channels in `order`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelNorm {
    pub order: ChannelOrder,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

impl PixelNorm {
    pub const fn new(order: ChannelOrder, mean: f32, std: f32) -> Self {
        Self {
            order,
            mean: [mean; 3],
            std: [std; 3],
        }
    }

    /// Source channel index (in RGB) feeding tensor channel `c`.
    fn source_channel(&self, c: usize) -> usize {
        match self.order {
            ChannelOrder::Rgb => c,
            ChannelOrder::Bgr => 2 - c,
        }
    }
}

/// Resizes `src` to exactly `width` x `height` with OpenCV-style bilinear interpolation (no antialiasing), which is
/// what the reference pipelines of the detection and recognition models used.
pub fn resize_bilinear(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    resize_region(
        src,
        (0.0, 0.0, src.width() as f64, src.height() as f64),
        width,
        height,
    )
}

/// Resizes the region `(left, top, width, height)` of `src` (which may reach outside it) to `out_w` x `out_h`.
/// The part of the region outside the image is black.
pub fn resize_region(
    src: &RgbImage,
    region: (f64, f64, f64, f64),
    out_w: u32,
    out_h: u32,
) -> RgbImage {
    let (left, top, w, h) = region;
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    // Clip the region to the image, then place the resized clip where it falls in the output.
    let (cl, ct) = (left.max(0.0), top.max(0.0));
    let (cr, cb) = ((left + w).min(sw), (top + h).min(sh));
    let mut out = RgbImage::new(out_w, out_h);
    if cr <= cl || cb <= ct || w <= 0.0 || h <= 0.0 {
        return out;
    }
    let (fx, fy) = (out_w as f64 / w, out_h as f64 / h);
    let dx0 = ((cl - left) * fx).round() as u32;
    let dy0 = ((ct - top) * fy).round() as u32;
    let dw = (((cr - cl) * fx).round() as u32).clamp(1, out_w - dx0.min(out_w - 1));
    let dh = (((cb - ct) * fy).round() as u32).clamp(1, out_h - dy0.min(out_h - 1));
    let mut dst = ResizeImage::new(dw, dh, fast_image_resize::PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Interpolation(FilterType::Bilinear))
        .crop(cl, ct, cr - cl, cb - ct);
    Resizer::new()
        .resize(src, &mut dst, &options)
        .expect("source and destination are both RGB8");
    let buf = dst.buffer();
    for row in 0..dh.min(out_h - dy0) {
        let src_row = &buf[(row * dw * 3) as usize..((row + 1) * dw * 3) as usize];
        let start = (((dy0 + row) * out_w + dx0) * 3) as usize;
        let n = (dw.min(out_w - dx0) * 3) as usize;
        out.as_mut()[start..start + n].copy_from_slice(&src_row[..n]);
    }
    out
}

/// Writes `img` into a planar (CHW) f32 tensor slice of `3 * height * width` values, normalised per `norm`. The
/// image may be smaller than the tensor: the rest is filled with the normalised value of black (letterbox padding).
pub fn fill_chw(img: &RgbImage, norm: &PixelNorm, width: usize, height: usize, out: &mut [f32]) {
    assert_eq!(
        out.len(),
        3 * width * height,
        "tensor slice has the wrong size"
    );
    let plane = width * height;
    for c in 0..3 {
        let src_c = norm.source_channel(c);
        let (mean, inv_std) = (norm.mean[c], 1.0 / norm.std[c]);
        let dst = &mut out[c * plane..(c + 1) * plane];
        dst.fill((0.0 - mean) * inv_std);
        for (y, row) in img.rows().take(height).enumerate() {
            let dst_row = &mut dst[y * width..y * width + width];
            for (d, px) in dst_row.iter_mut().zip(row) {
                *d = (px.0[src_c] as f32 - mean) * inv_std;
            }
        }
    }
}

/// Writes `img` into an interleaved (HWC) f32 tensor slice, as TF-converted models expect.
pub fn fill_hwc(img: &RgbImage, norm: &PixelNorm, out: &mut [f32]) {
    let (w, h) = img.dimensions();
    assert_eq!(
        out.len(),
        3 * (w * h) as usize,
        "tensor slice has the wrong size"
    );
    let inv_std = norm.std.map(|s| 1.0 / s);
    for (dst, px) in out.chunks_exact_mut(3).zip(img.pixels()) {
        for c in 0..3 {
            dst[c] = (px.0[norm.source_channel(c)] as f32 - norm.mean[c]) * inv_std[c];
        }
    }
}

/// Writes `img` as one grey channel, `(sum(weights * rgb) / 255 - mean) / std`, for models trained on grey faces
/// (FER2013). The weights are the model's own (e.g. MATLAB's rgb2gray 0.2989, 0.587, 0.114).
pub fn fill_grey(img: &RgbImage, weights: [f32; 3], mean: f32, std: f32, out: &mut [f32]) {
    assert_eq!(
        out.len(),
        (img.width() * img.height()) as usize,
        "tensor slice has the wrong size"
    );
    for (dst, px) in out.iter_mut().zip(img.pixels()) {
        let [r, g, b] = px.0.map(f32::from);
        let grey = (weights[0] * r + weights[1] * g + weights[2] * b) / 255.0;
        *dst = (grey - mean) / std;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chw_fill_orders_channels_and_pads() {
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([10 + x as u8, 20, 30]));
        let norm = PixelNorm::new(ChannelOrder::Bgr, 0.0, 1.0);
        let mut out = vec![f32::NAN; 3 * 3 * 2];
        fill_chw(&img, &norm, 3, 2, &mut out);
        // Channel 0 is blue.
        assert_eq!(&out[0..3], &[30.0, 30.0, 0.0]);
        // Channel 2 is red, and the padded row is black.
        assert_eq!(&out[12..18], &[10.0, 11.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn region_outside_the_image_is_black() {
        let img = RgbImage::from_pixel(10, 10, image::Rgb([200, 200, 200]));
        let out = resize_region(&img, (-10.0, 0.0, 20.0, 10.0), 20, 10);
        assert_eq!(out.get_pixel(2, 5).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(15, 5).0, [200, 200, 200]);
    }

    #[test]
    fn grey_fill_weights_the_channels() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 0, 0]));
        let mut out = [0.0f32; 2];
        fill_grey(&img, [0.25, 0.5, 0.25], 0.5, 0.5, &mut out);
        assert_eq!(out, [-0.5, -0.5]);
    }

    #[test]
    fn bilinear_resize_keeps_a_flat_image_flat() {
        let img = RgbImage::from_pixel(37, 23, image::Rgb([7, 99, 250]));
        let out = resize_bilinear(&img, 64, 64);
        assert!(out.pixels().all(|p| p.0 == [7, 99, 250]));
    }
}
