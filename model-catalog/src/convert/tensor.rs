//! Constant float tensors as the converters hold them (row-major, shape in the source's order), with the
//! rearrangements between TensorFlow's kernel layouts and ONNX's.

use super::ConvertError;

/// A constant float tensor: weights, biases, broadcast operands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Const {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Const {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, ConvertError> {
        if shape.iter().product::<usize>() != data.len() {
            return Err(ConvertError::Malformed(format!(
                "a constant of shape {shape:?} holds {} values",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }

    /// The same values with dimensions reordered: output dim `i` is input dim `perm[i]`.
    pub fn transposed(&self, perm: &[usize]) -> Self {
        assert_eq!(perm.len(), self.shape.len(), "one axis per dimension");
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let mut in_strides = vec![1usize; self.shape.len()];
        for i in (0..self.shape.len().saturating_sub(1)).rev() {
            in_strides[i] = in_strides[i + 1] * self.shape[i + 1];
        }
        let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
        let mut data = Vec::with_capacity(self.data.len());
        let mut index = vec![0usize; shape.len()];
        for _ in 0..self.data.len() {
            let offset: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
            data.push(self.data[offset]);
            for axis in (0..shape.len()).rev() {
                index[axis] += 1;
                if index[axis] < shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Self { shape, data }
    }

    /// The same values with shape `shape` (same count).
    pub fn reshaped(mut self, shape: Vec<usize>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), self.data.len());
        self.shape = shape;
        self
    }

    /// TensorFlow's convolution kernel `[kh, kw, in, out]` as ONNX's `[out, in, kh, kw]`.
    pub fn hwio_to_oihw(&self) -> Self {
        self.transposed(&[3, 2, 0, 1])
    }

    /// TensorFlow's depthwise kernel `[kh, kw, channels, multiplier]` as ONNX's grouped `[channels *
    /// multiplier, 1, kh, kw]` (output channel `c * multiplier + m`, as in TensorFlow).
    pub fn depthwise_to_oihw(&self) -> Self {
        let [kh, kw, c, m] = self.shape[..] else {
            panic!("a depthwise kernel has rank 4");
        };
        self.clone().reshaped(vec![kh, kw, 1, c * m]).hwio_to_oihw()
    }
}

/// IEEE half-precision little-endian values as f32 (exact: every f16 is an f32).
pub(crate) fn f16_to_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect()
}

pub(crate) fn f32_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub(crate) fn i32_from_le(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposition_moves_every_value() {
        let t = Const::new(vec![2, 3], (0..6).map(|v| v as f32).collect()).unwrap();
        let tt = t.transposed(&[1, 0]);
        assert_eq!(tt.shape, vec![3, 2]);
        assert_eq!(tt.data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(tt.transposed(&[1, 0]), t);
    }

    #[test]
    fn depthwise_kernels_keep_tensorflows_channel_order() {
        // kh = kw = 1, 2 channels, multiplier 2: TensorFlow output channel c * 2 + m.
        let k = Const::new(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let onnx = k.depthwise_to_oihw();
        assert_eq!(onnx.shape, vec![4, 1, 1, 1]);
        assert_eq!(onnx.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn half_floats_decode_exactly() {
        assert_eq!(
            f16_to_f32(&[0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00]),
            vec![1.0, -2.0, 0.0]
        );
    }
}
