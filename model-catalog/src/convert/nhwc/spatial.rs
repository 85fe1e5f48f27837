//! Image operators, computed channels-first: convolutions, pools, padding, resizing and depth-to-space.

use super::super::ConvertError;
use super::super::onnx_builder::Attr;
use super::super::tensor::Const;
use super::{Activation, Layout, NhwcGraph, Value};

/// TensorFlow's padding of a convolution or pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Padding {
    Valid,
    /// Output size ceil(input / stride), the odd pixel of padding at the end (ONNX's SAME_UPPER).
    Same,
    /// `[[top, bottom], [left, right]]`.
    Explicit([[i64; 2]; 2]),
}

/// Strides, dilations and padding of a convolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvSpec {
    pub strides: [i64; 2],
    pub dilations: [i64; 2],
    pub padding: Padding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    Max,
    /// Averages over the window's pixels inside the image (TensorFlow's and ONNX's default alike).
    Average,
}

/// ONNX `pads` ([top, left, bottom, right]) and output size for one spatial dimension pair.
fn pads_and_size(
    input: [i64; 2],
    kernel: [i64; 2],
    spec: &ConvSpec,
) -> Result<([i64; 4], [i64; 2]), ConvertError> {
    let mut pads = [0i64; 4];
    let mut size = [0i64; 2];
    for d in 0..2 {
        if input[d] < 0 {
            return Err(ConvertError::Unsupported(
                "an image operator on an input of unknown height or width".into(),
            ));
        }
        let extent = (kernel[d] - 1) * spec.dilations[d] + 1;
        let (begin, end) = match &spec.padding {
            Padding::Valid => (0, 0),
            Padding::Explicit(p) => (p[d][0], p[d][1]),
            Padding::Same => {
                let out = (input[d] + spec.strides[d] - 1) / spec.strides[d];
                let total = ((out - 1) * spec.strides[d] + extent - input[d]).max(0);
                (total / 2, total - total / 2)
            }
        };
        pads[d] = begin;
        pads[d + 2] = end;
        size[d] = (input[d] + begin + end - extent) / spec.strides[d] + 1;
    }
    Ok((pads, size))
}

impl NhwcGraph {
    /// A 2-D convolution of NHWC `x` with an ONNX kernel `[out, in / groups, kh, kw]`, plus bias and activation.
    pub fn conv(
        &mut self,
        x: &Value,
        kernel: &Const,
        bias: Option<&[f32]>,
        groups: usize,
        spec: &ConvSpec,
        activation: Activation,
    ) -> Result<Value, ConvertError> {
        let x = self.in_channels_first(x)?;
        let [out_channels, _, kh, kw] = kernel.shape[..] else {
            return Err(ConvertError::Malformed(format!(
                "convolution kernel of shape {:?}",
                kernel.shape
            )));
        };
        if x.shape[3] >= 0 && kernel.shape[1] * groups != x.shape[3] as usize {
            return Err(ConvertError::Malformed(format!(
                "kernel {:?} (groups {groups}) does not fit input {:?}",
                kernel.shape, x.shape
            )));
        }
        let (pads, size) = pads_and_size([x.shape[1], x.shape[2]], [kh as i64, kw as i64], spec)?;
        let weight = self.onnx.constant_f32(&kernel.shape, kernel.data.clone());
        let mut inputs = vec![x.name.as_str(), weight.as_str()];
        let bias_name = bias.map(|b| self.onnx.constant_f32(&[b.len()], b.to_vec()));
        if let Some(b) = &bias_name {
            inputs.push(b);
        }
        let attrs = vec![
            ("dilations", Attr::Ints(spec.dilations.to_vec())),
            ("group", Attr::Int(groups as i64)),
            ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
            ("pads", Attr::Ints(pads.to_vec())),
            ("strides", Attr::Ints(spec.strides.to_vec())),
        ];
        let name = self.node("Conv", &inputs, attrs);
        let shape = vec![x.shape[0], size[0], size[1], out_channels as i64];
        let y = self.value(name, shape, Layout::ChannelsFirst);
        self.activation(y, activation)
    }

    /// Max or average pooling of NHWC `x` over `window` with `strides`.
    pub fn pool(
        &mut self,
        kind: Pool,
        x: &Value,
        window: [i64; 2],
        strides: [i64; 2],
        padding: Padding,
    ) -> Result<Value, ConvertError> {
        let x = self.in_channels_first(x)?;
        let spec = ConvSpec {
            strides,
            dilations: [1, 1],
            padding,
        };
        let (pads, size) = pads_and_size([x.shape[1], x.shape[2]], window, &spec)?;
        let op = match kind {
            Pool::Max => "MaxPool",
            Pool::Average => "AveragePool",
        };
        let attrs = vec![
            ("kernel_shape", Attr::Ints(window.to_vec())),
            ("pads", Attr::Ints(pads.to_vec())),
            ("strides", Attr::Ints(strides.to_vec())),
        ];
        let name = self.node(op, &[&x.name], attrs);
        Ok(self.value(
            name,
            vec![x.shape[0], size[0], size[1], x.shape[3]],
            Layout::ChannelsFirst,
        ))
    }

    /// Zero padding: `pads[i] = [before, after]` for source dimension `i`.
    pub fn pad(&mut self, x: &Value, pads: &[[i64; 2]]) -> Result<Value, ConvertError> {
        if pads.len() != x.rank() {
            return Err(ConvertError::Malformed(format!(
                "{} pads for a rank-{} tensor",
                pads.len(),
                x.rank()
            )));
        }
        let mut onnx_pads = vec![0i64; 2 * x.rank()];
        let mut shape = x.shape.clone();
        for (axis, [before, after]) in pads.iter().enumerate() {
            let at = x.position(axis);
            onnx_pads[at] = *before;
            onnx_pads[at + x.rank()] = *after;
            if shape[axis] >= 0 {
                shape[axis] += before + after;
            } else if before + after != 0 {
                return Err(ConvertError::Unsupported("padding the batch".into()));
            }
        }
        let pads_name = self.onnx.constant_i64(onnx_pads);
        let name = self.node(
            "Pad",
            &[&x.name, &pads_name],
            vec![("mode", Attr::Str("constant"))],
        );
        Ok(self.value(name, shape, x.layout))
    }

    /// Bilinear resizing of NHWC `x` to `size` (TensorFlow's ResizeBilinear).
    pub fn resize_bilinear(
        &mut self,
        x: &Value,
        size: [i64; 2],
        align_corners: bool,
        half_pixel_centers: bool,
    ) -> Result<Value, ConvertError> {
        let x = self.in_channels_first(x)?;
        if x.shape[1] <= 0 || x.shape[2] <= 0 {
            return Err(ConvertError::Unsupported(
                "resizing an image of unknown size".into(),
            ));
        }
        let scales = vec![
            1.0,
            1.0,
            size[0] as f32 / x.shape[1] as f32,
            size[1] as f32 / x.shape[2] as f32,
        ];
        let exact =
            (0..2).all(|d| (x.shape[d + 1] as f32 * scales[d + 2]).floor() as i64 == size[d]);
        if !exact {
            return Err(ConvertError::Unsupported(format!(
                "resizing {:?} to {size:?}",
                x.shape
            )));
        }
        let mode = match (align_corners, half_pixel_centers) {
            (true, _) => "align_corners",
            (false, true) => "half_pixel",
            (false, false) => "asymmetric",
        };
        let scales = self.onnx.constant_f32(&[4], scales);
        let attrs = vec![
            ("coordinate_transformation_mode", Attr::Str(mode)),
            ("mode", Attr::Str("linear")),
        ];
        let name = self.node("Resize", &[&x.name, "", &scales], attrs);
        Ok(self.value(
            name,
            vec![x.shape[0], size[0], size[1], x.shape[3]],
            Layout::ChannelsFirst,
        ))
    }

    /// TensorFlow's DepthToSpace (ONNX's DCR mode).
    pub fn depth_to_space(&mut self, x: &Value, block: i64) -> Result<Value, ConvertError> {
        let x = self.in_channels_first(x)?;
        if x.shape[3] % (block * block) != 0 {
            return Err(ConvertError::Malformed(format!(
                "depth-to-space {block} of {:?}",
                x.shape
            )));
        }
        let attrs = vec![("blocksize", Attr::Int(block)), ("mode", Attr::Str("DCR"))];
        let name = self.node("DepthToSpace", &[&x.name], attrs);
        let shape = vec![
            x.shape[0],
            x.shape[1] * block,
            x.shape[2] * block,
            x.shape[3] / (block * block),
        ];
        Ok(self.value(name, shape, Layout::ChannelsFirst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_pixel_at_the_end() {
        let spec = ConvSpec {
            strides: [2, 2],
            dilations: [1, 1],
            padding: Padding::Same,
        };
        assert_eq!(
            pads_and_size([224, 225], [3, 3], &spec).unwrap(),
            ([0, 1, 1, 1], [112, 113])
        );
        let valid = ConvSpec {
            padding: Padding::Valid,
            ..spec
        };
        assert_eq!(
            pads_and_size([225, 225], [3, 3], &valid).unwrap(),
            ([0, 0, 0, 0], [112, 112])
        );
    }
}
