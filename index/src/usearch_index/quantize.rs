//! faceserve's own i8 quantisation for the usearch graph: one global scale, chosen so that a high quantile of
//! the components' magnitudes maps to 127, then round to nearest and clamp to ±127. usearch's own cast from f32
//! (x·127/|x|, truncated) spends its range on components as large as the whole vector, which unit face
//! embeddings never have: their components sit within about ±0.2, so the cast keeps 3-5 bits of each.

/// Components sampled to choose the scale: enough for a stable 0.9999 quantile.
const SAMPLE_COMPONENTS: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct I8Scale(pub f32);

impl I8Scale {
    /// The scale that maps the `quantile` of |component| over `vectors` to 127.
    pub(crate) fn from_sample(vectors: &[&[f32]], quantile: f32) -> Self {
        let components: usize = vectors.iter().map(|v| v.len()).sum();
        let step = components.div_ceil(SAMPLE_COMPONENTS).max(1);
        let mut magnitudes: Vec<f32> = vectors
            .iter()
            .flat_map(|v| v.iter())
            .step_by(step)
            .map(|x| x.abs())
            .collect();
        if magnitudes.is_empty() {
            return I8Scale(127.0);
        }
        let at = ((magnitudes.len() - 1) as f64 * quantile as f64).round() as usize;
        let (_, &mut value, _) = magnitudes.select_nth_unstable_by(at, f32::total_cmp);
        // An all-zero sample says nothing; fall back to the range of a unit vector.
        I8Scale(if value > 0.0 { 127.0 / value } else { 127.0 })
    }

    pub(crate) fn quantize(self, vector: &[f32], out: &mut [i8]) {
        for (q, &x) in out.iter_mut().zip(vector) {
            *q = (x * self.0).round().clamp(-127.0, 127.0) as i8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_maps_to_127_and_beyond_it_is_clamped() {
        let vectors: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let rows: Vec<&[f32]> = vectors.chunks(10).collect();
        let scale = I8Scale::from_sample(&rows, 0.5);
        assert!((scale.0 - 127.0 / 0.5).abs() < 1.0, "{scale:?}");
        let mut out = [0i8; 4];
        scale.quantize(&[0.25, -0.5, 0.9, -2.0], &mut out);
        assert_eq!(out, [64, -127, 127, -127]);
        assert_eq!(I8Scale::from_sample(&[&[0.0; 8]], 0.9), I8Scale(127.0));
    }
}
