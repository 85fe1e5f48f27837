//! TFLite builtin operators as [`NhwcGraph`] operators, and the folding of constant DEQUANTIZE and DENSIFY.

use super::super::ConvertError;
use super::super::nhwc::{
    Activation, ConvSpec, NhwcGraph, Operand, Padding, Pool, Reduce, StridedSlice, Value,
};
use super::super::tensor::Const;
use super::{Model, Slot, densify, fb, quantized::dequantize};

type Op<'a> = fb::Operator<'a>;
use fb::BuiltinOperator as B;

fn activation(f: fb::ActivationFunctionType) -> Result<Activation, ConvertError> {
    Ok(match f {
        fb::ActivationFunctionType::NONE => Activation::Linear,
        fb::ActivationFunctionType::RELU => Activation::Relu,
        fb::ActivationFunctionType::RELU6 => Activation::Relu6,
        fb::ActivationFunctionType::RELU_N1_TO_1 => Activation::ReluN1To1,
        fb::ActivationFunctionType::TANH => Activation::Tanh,
        other => {
            return Err(ConvertError::Unsupported(format!(
                "fused activation {other:?}"
            )));
        }
    })
}

fn padding(p: fb::Padding) -> Padding {
    if p == fb::Padding::VALID {
        Padding::Valid
    } else {
        Padding::Same
    }
}

impl Model<'_> {
    fn input_slot(&mut self, op: &Op<'_>, slot: usize) -> Result<Slot, ConvertError> {
        let index = op
            .inputs()
            .and_then(|inputs| inputs.iter().nth(slot))
            .filter(|&i| i >= 0)
            .ok_or_else(|| ConvertError::Malformed(format!("operator input {slot} is missing")))?;
        self.slot(index as usize)
    }

    fn has_input(&self, op: &Op<'_>, slot: usize) -> bool {
        op.inputs()
            .and_then(|inputs| inputs.iter().nth(slot))
            .is_some_and(|i| i >= 0)
    }

    fn value(&mut self, op: &Op<'_>, slot: usize) -> Result<Value, ConvertError> {
        match self.input_slot(op, slot)? {
            Slot::Value(v) => Ok(v),
            _ => Err(ConvertError::Unsupported(format!(
                "input {slot} is a constant where a tensor is read"
            ))),
        }
    }

    fn float(&mut self, op: &Op<'_>, slot: usize) -> Result<Const, ConvertError> {
        match self.input_slot(op, slot)? {
            Slot::Float(c) => Ok(c),
            _ => Err(ConvertError::Unsupported(format!(
                "input {slot} is not a float constant"
            ))),
        }
    }

    fn ints(&mut self, op: &Op<'_>, slot: usize) -> Result<Vec<i64>, ConvertError> {
        match self.input_slot(op, slot)? {
            Slot::Ints(v) => Ok(v),
            _ => Err(ConvertError::Unsupported(format!(
                "input {slot} is not an integer constant"
            ))),
        }
    }

    fn bias(&mut self, op: &Op<'_>) -> Result<Option<Vec<f32>>, ConvertError> {
        if self.has_input(op, 2) {
            Ok(Some(self.float(op, 2)?.data))
        } else {
            Ok(None)
        }
    }
}

/// Converts one operator; the result is what its single output tensor becomes.
pub(super) fn convert_operator(
    builtin: fb::BuiltinOperator,
    op: &Op<'_>,
    m: &mut Model<'_>,
    g: &mut NhwcGraph,
) -> Result<Slot, ConvertError> {
    let missing = |what: &str| ConvertError::Malformed(format!("{builtin:?} without {what}"));
    let v = Slot::Value;
    Ok(match builtin {
        B::DEQUANTIZE => match m.input_slot(op, 0)? {
            // Float16 constants were decoded when read; the DEQUANTIZE is then the identity.
            Slot::Float(c) => Slot::Float(c),
            Slot::Quantized {
                shape,
                values,
                scales,
                zero_points,
                axis,
            } => Slot::Float(dequantize(shape, &values, &scales, &zero_points, axis)?),
            _ => {
                return Err(ConvertError::Unsupported(
                    "DEQUANTIZE of a computed tensor".into(),
                ));
            }
        },
        B::DENSIFY => match m.input_slot(op, 0)? {
            Slot::Sparse(index) => Slot::Float(densify::densify(m, index)?),
            _ => {
                return Err(ConvertError::Unsupported(
                    "DENSIFY of a dense tensor".into(),
                ));
            }
        },
        B::CONV_2D | B::DEPTHWISE_CONV_2D => v(convolution(builtin, op, m, g)?),
        B::MAX_POOL_2D | B::AVERAGE_POOL_2D => {
            let o = op
                .builtin_options_as_pool_2_doptions()
                .ok_or_else(|| missing("options"))?;
            let kind = if builtin == B::MAX_POOL_2D {
                Pool::Max
            } else {
                Pool::Average
            };
            let x = m.value(op, 0)?;
            let window = [i64::from(o.filter_height()), i64::from(o.filter_width())];
            let strides = [i64::from(o.stride_h()), i64::from(o.stride_w())];
            let y = g.pool(kind, &x, window, strides, padding(o.padding()))?;
            v(g.activation(y, activation(o.fused_activation_function())?)?)
        }
        B::ADD | B::SUB | B::MUL | B::DIV | B::MAXIMUM | B::MINIMUM => {
            let fused = match builtin {
                B::ADD => op
                    .builtin_options_as_add_options()
                    .map(|o| o.fused_activation_function()),
                B::SUB => op
                    .builtin_options_as_sub_options()
                    .map(|o| o.fused_activation_function()),
                B::MUL => op
                    .builtin_options_as_mul_options()
                    .map(|o| o.fused_activation_function()),
                B::DIV => op
                    .builtin_options_as_div_options()
                    .map(|o| o.fused_activation_function()),
                _ => None,
            };
            let onnx = match builtin {
                B::ADD => "Add",
                B::SUB => "Sub",
                B::MUL => "Mul",
                B::DIV => "Div",
                B::MAXIMUM => "Max",
                _ => "Min",
            };
            let y = binary(onnx, op, m, g)?;
            v(g.activation(
                y,
                activation(fused.unwrap_or(fb::ActivationFunctionType::NONE))?,
            )?)
        }
        B::SQUARED_DIFFERENCE => {
            let d = binary("Sub", op, m, g)?;
            v(g.binary("Mul", Operand::Value(&d), Operand::Value(&d))?)
        }
        B::PRELU => {
            let x = m.value(op, 0)?;
            let slope = m.float(op, 1)?;
            v(g.prelu(&x, &slope)?)
        }
        B::LOGISTIC => v(g.unary("Sigmoid", &m.value(op, 0)?)),
        B::RELU => v(g.unary("Relu", &m.value(op, 0)?)),
        B::TANH => v(g.unary("Tanh", &m.value(op, 0)?)),
        B::NEG => v(g.unary("Neg", &m.value(op, 0)?)),
        B::SQRT => v(g.unary("Sqrt", &m.value(op, 0)?)),
        B::RSQRT => {
            let root = g.unary("Sqrt", &m.value(op, 0)?);
            v(g.unary("Reciprocal", &root))
        }
        B::RELU6 => v(g.clip(&m.value(op, 0)?, 0.0, 6.0)),
        B::PAD => {
            let x = m.value(op, 0)?;
            let pads: Vec<[i64; 2]> = m
                .ints(op, 1)?
                .chunks_exact(2)
                .map(|p| [p[0], p[1]])
                .collect();
            v(g.pad(&x, &pads)?)
        }
        B::RESHAPE => {
            let x = m.value(op, 0)?;
            let target = if m.has_input(op, 1) {
                m.ints(op, 1)?
            } else {
                let o = op
                    .builtin_options_as_reshape_options()
                    .ok_or_else(|| missing("a new shape"))?;
                o.new_shape().into_iter().flatten().map(i64::from).collect()
            };
            v(g.reshape(&x, &target)?)
        }
        B::TRANSPOSE => {
            let x = m.value(op, 0)?;
            v(g.transpose(&x, &m.ints(op, 1)?)?)
        }
        B::MEAN | B::SUM => {
            let keep = op
                .builtin_options_as_reducer_options()
                .is_some_and(|o| o.keep_dims());
            let kind = if builtin == B::MEAN {
                Reduce::Mean
            } else {
                Reduce::Sum
            };
            let x = m.value(op, 0)?;
            v(g.reduce(kind, &x, &m.ints(op, 1)?, keep)?)
        }
        B::SOFTMAX => {
            let beta = op
                .builtin_options_as_softmax_options()
                .map_or(1.0, |o| o.beta());
            if beta != 1.0 {
                return Err(ConvertError::Unsupported(format!(
                    "SOFTMAX with beta {beta}"
                )));
            }
            v(g.softmax(&m.value(op, 0)?, -1)?)
        }
        B::CONCATENATION => {
            let o = op
                .builtin_options_as_concatenation_options()
                .ok_or_else(|| missing("options"))?;
            let count = op.inputs().map_or(0, |i| i.len());
            let mut xs = Vec::with_capacity(count);
            for i in 0..count {
                xs.push(match m.input_slot(op, i)? {
                    Slot::Value(x) => x,
                    Slot::Float(c) => g.constant(&c),
                    _ => return Err(ConvertError::Unsupported("concatenating integers".into())),
                });
            }
            let y = g.concat(&xs, i64::from(o.axis()))?;
            v(g.activation(y, activation(o.fused_activation_function())?)?)
        }
        B::STRIDED_SLICE => {
            let o = op
                .builtin_options_as_strided_slice_options()
                .ok_or_else(|| missing("options"))?;
            if o.ellipsis_mask() != 0 || o.new_axis_mask() != 0 || o.offset() {
                return Err(ConvertError::Unsupported(
                    "STRIDED_SLICE with ellipsis, new-axis or offset".into(),
                ));
            }
            let x = m.value(op, 0)?;
            let slice = StridedSlice {
                begin: m.ints(op, 1)?,
                end: m.ints(op, 2)?,
                strides: m.ints(op, 3)?,
                begin_mask: i64::from(o.begin_mask()),
                end_mask: i64::from(o.end_mask()),
                shrink_axis_mask: i64::from(o.shrink_axis_mask()),
            };
            v(g.strided_slice(&x, &slice)?)
        }
        B::DEPTH_TO_SPACE => {
            let o = op
                .builtin_options_as_depth_to_space_options()
                .ok_or_else(|| missing("options"))?;
            v(g.depth_to_space(&m.value(op, 0)?, i64::from(o.block_size()))?)
        }
        B::RESIZE_BILINEAR => {
            let o = op.builtin_options_as_resize_bilinear_options();
            let x = m.value(op, 0)?;
            let size = m.ints(op, 1)?;
            let &[h, w] = &size[..] else {
                return Err(missing("a two-value size"));
            };
            let (align, half) = o.map_or((false, false), |o| {
                (o.align_corners(), o.half_pixel_centers())
            });
            v(g.resize_bilinear(&x, [h, w], align, half)?)
        }
        other => {
            return Err(ConvertError::Unsupported(format!(
                "TFLite operator {other:?}"
            )));
        }
    })
}

fn binary(
    onnx: &'static str,
    op: &Op<'_>,
    m: &mut Model<'_>,
    g: &mut NhwcGraph,
) -> Result<Value, ConvertError> {
    let (a, b) = (m.input_slot(op, 0)?, m.input_slot(op, 1)?);
    g.binary(onnx, operand(onnx, &a)?, operand(onnx, &b)?)
}

fn operand<'s>(onnx: &str, slot: &'s Slot) -> Result<Operand<'s>, ConvertError> {
    match slot {
        Slot::Value(v) => Ok(Operand::Value(v)),
        Slot::Float(c) => Ok(Operand::Const(c)),
        _ => Err(ConvertError::Unsupported(format!(
            "{onnx} of a non-float constant"
        ))),
    }
}

fn convolution(
    builtin: fb::BuiltinOperator,
    op: &Op<'_>,
    m: &mut Model<'_>,
    g: &mut NhwcGraph,
) -> Result<Value, ConvertError> {
    let x = m.value(op, 0)?;
    let filter = m.float(op, 1)?;
    let bias = m.bias(op)?;
    let (kernel, groups, spec, fused) = if builtin == B::CONV_2D {
        let o = op
            .builtin_options_as_conv_2_doptions()
            .ok_or_else(|| ConvertError::Malformed("CONV_2D options".into()))?;
        // TFLite kernels are [out, kh, kw, in].
        let groups = match (x.shape.get(3), filter.shape.get(3)) {
            (Some(&c), Some(&per_group)) if c > 0 && per_group > 0 => c as usize / per_group,
            _ => 1,
        };
        let spec = ConvSpec {
            strides: [i64::from(o.stride_h()), i64::from(o.stride_w())],
            dilations: [
                i64::from(o.dilation_h_factor()),
                i64::from(o.dilation_w_factor()),
            ],
            padding: padding(o.padding()),
        };
        (
            filter.transposed(&[0, 3, 1, 2]),
            groups,
            spec,
            o.fused_activation_function(),
        )
    } else {
        let o = op
            .builtin_options_as_depthwise_conv_2_doptions()
            .ok_or_else(|| ConvertError::Malformed("DEPTHWISE_CONV_2D options".into()))?;
        // Depthwise kernels are [1, kh, kw, channels * multiplier].
        let channels = x.shape.get(3).copied().filter(|&c| c > 0).ok_or_else(|| {
            ConvertError::Unsupported("a depthwise convolution of unknown channels".into())
        })?;
        let spec = ConvSpec {
            strides: [i64::from(o.stride_h()), i64::from(o.stride_w())],
            dilations: [
                i64::from(o.dilation_h_factor()),
                i64::from(o.dilation_w_factor()),
            ],
            padding: padding(o.padding()),
        };
        (
            filter.transposed(&[3, 0, 1, 2]),
            channels as usize,
            spec,
            o.fused_activation_function(),
        )
    };
    g.conv(
        &x,
        &kernel,
        bias.as_deref(),
        groups,
        &spec,
        activation(fused)?,
    )
}
