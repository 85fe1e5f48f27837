//! 5-point face alignment: the similarity transform (rotation, uniform scale, translation) that best maps the
//! detected landmarks onto a model's template, and the bilinear warp that cuts out the aligned crop.

use image::RgbImage;

/// The ArcFace template for a 112x112 crop: left eye, right eye, nose tip, left and right mouth corners.
pub const ARCFACE_112: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// A 2x3 affine matrix `[a, b, tx; c, d, ty]` mapping source to destination pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [[f64; 3]; 2]);

impl Affine {
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let m = &self.0;
        [
            m[0][0] * p[0] + m[0][1] * p[1] + m[0][2],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2],
        ]
    }

    pub fn inverse(&self) -> Option<Affine> {
        let [[a, b, tx], [c, d, ty]] = self.0;
        let det = a * d - b * c;
        if det.abs() < 1e-12 {
            return None;
        }
        let (ia, ib, ic, id) = (d / det, -b / det, -c / det, a / det);
        Some(Affine([
            [ia, ib, -(ia * tx + ib * ty)],
            [ic, id, -(ic * tx + id * ty)],
        ]))
    }
}

/// Least-squares similarity transform from `src` to `dst` points (Umeyama's solution, which in 2-D has this
/// closed form; it never reflects).
pub fn similarity_transform(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Affine {
    assert_eq!(src.len(), dst.len());
    let n = src.len() as f64;
    let mean = |pts: &[[f32; 2]]| {
        let (sx, sy) = pts
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p[0] as f64, y + p[1] as f64));
        [sx / n, sy / n]
    };
    let (ms, md) = (mean(src), mean(dst));
    let (mut num_a, mut num_b, mut var) = (0.0, 0.0, 0.0);
    for (s, d) in src.iter().zip(dst) {
        let (sx, sy) = (s[0] as f64 - ms[0], s[1] as f64 - ms[1]);
        let (dx, dy) = (d[0] as f64 - md[0], d[1] as f64 - md[1]);
        num_a += sx * dx + sy * dy;
        num_b += sx * dy - sy * dx;
        var += sx * sx + sy * sy;
    }
    if var < 1e-12 {
        // All source points coincide: no rotation or scale can be recovered; map their centre to the template's.
        return Affine([[1.0, 0.0, md[0] - ms[0]], [0.0, 1.0, md[1] - ms[1]]]);
    }
    let (a, b) = (num_a / var, num_b / var);
    Affine([
        [a, -b, md[0] - (a * ms[0] - b * ms[1])],
        [b, a, md[1] - (b * ms[0] + a * ms[1])],
    ])
}

/// Warps `src` by `m` into a `width` x `height` image with bilinear sampling; pixels mapping outside `src` are
/// black (as OpenCV's `warpAffine` with a constant zero border).
pub fn warp_affine(src: &RgbImage, m: &Affine, width: u32, height: u32) -> RgbImage {
    let inv = m.inverse().unwrap_or(Affine([[0.0; 3]; 2]));
    let (sw, sh) = (src.width() as i64, src.height() as i64);
    let data = src.as_raw();
    let texel = |x: i64, y: i64| -> [f32; 3] {
        if x < 0 || y < 0 || x >= sw || y >= sh {
            return [0.0; 3];
        }
        let i = ((y * sw + x) * 3) as usize;
        [data[i] as f32, data[i + 1] as f32, data[i + 2] as f32]
    };
    let mut out = RgbImage::new(width, height);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let [fx, fy] = inv.apply([x as f64, y as f64]);
        let (x0, y0) = (fx.floor(), fy.floor());
        let (wx, wy) = ((fx - x0) as f32, (fy - y0) as f32);
        let (x0, y0) = (x0 as i64, y0 as i64);
        if x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh {
            continue;
        }
        let (p00, p10, p01, p11) = (
            texel(x0, y0),
            texel(x0 + 1, y0),
            texel(x0, y0 + 1),
            texel(x0 + 1, y0 + 1),
        );
        for c in 0..3 {
            let top = p00[c] + (p10[c] - p00[c]) * wx;
            let bottom = p01[c] + (p11[c] - p01[c]) * wx;
            px.0[c] = (top + (bottom - top) * wy).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// The aligned 112x112 ArcFace crop of the face whose landmarks are `landmarks`.
pub fn arcface_crop(src: &RgbImage, landmarks: &[[f32; 2]; 5]) -> RgbImage {
    let m = similarity_transform(landmarks, &ARCFACE_112);
    warp_affine(src, &m, 112, 112)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_similarity() {
        let angle = 0.3f64;
        let (s, tx, ty) = (1.7, 12.0, -5.0);
        let truth = Affine([
            [s * angle.cos(), -s * angle.sin(), tx],
            [s * angle.sin(), s * angle.cos(), ty],
        ]);
        let dst: Vec<[f32; 2]> = ARCFACE_112
            .iter()
            .map(|p| {
                let q = truth.apply([p[0] as f64, p[1] as f64]);
                [q[0] as f32, q[1] as f32]
            })
            .collect();
        let est = similarity_transform(&ARCFACE_112, &dst);
        for r in 0..2 {
            for c in 0..3 {
                assert!(
                    (est.0[r][c] - truth.0[r][c]).abs() < 1e-3,
                    "{est:?} vs {truth:?}"
                );
            }
        }
        let back = est.inverse().unwrap().apply(est.apply([3.0, 4.0]));
        assert!((back[0] - 3.0).abs() < 1e-9 && (back[1] - 4.0).abs() < 1e-9);
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let img = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 10, y as u8 * 10, 7]));
        let id = Affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        assert_eq!(warp_affine(&img, &id, 8, 8), img);
    }
}
