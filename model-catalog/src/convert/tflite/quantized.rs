//! Integer weights of float models (weight-only int8/uint8 quantisation) decoded for the DEQUANTIZE that reads them.

use super::super::ConvertError;
use super::super::tensor::Const;

/// `(q - zero_point) * scale`, per channel of `axis` when there are several scales (in f64, as TFLite's
/// reference kernel, then rounded to f32).
pub(super) fn dequantize(
    shape: Vec<usize>,
    values: &[i32],
    scales: &[f32],
    zero_points: &[i64],
    axis: usize,
) -> Result<Const, ConvertError> {
    if scales.is_empty() {
        return Err(ConvertError::Malformed(
            "quantised weights without scales".into(),
        ));
    }
    let inner: usize = shape.iter().skip(axis + 1).product();
    let channels = shape.get(axis).copied().unwrap_or(1).max(1);
    let data = values
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let c = if scales.len() == 1 {
                0
            } else {
                (i / inner.max(1)) % channels
            };
            let zero = zero_points
                .get(c)
                .or(zero_points.first())
                .copied()
                .unwrap_or(0);
            (f64::from(scales[c.min(scales.len() - 1)]) * (i64::from(q) - zero) as f64) as f32
        })
        .collect();
    Const::new(shape, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_scales_and_zero_points_apply_along_their_axis() {
        // Shape [2, 2], quantised along axis 0: row 0 scale 0.5 zero 0, row 1 scale 2 zero 1.
        let c = dequantize(vec![2, 2], &[2, -2, 1, 3], &[0.5, 2.0], &[0, 1], 0).unwrap();
        assert_eq!(c.data, vec![1.0, -1.0, 0.0, 4.0]);
        let single = dequantize(vec![3], &[0, 10, -10], &[0.1], &[0], 0).unwrap();
        assert_eq!(single.data, vec![0.0, 1.0, -1.0]);
    }
}
