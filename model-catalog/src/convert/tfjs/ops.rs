//! TF.js (TensorFlow) operators as [`NhwcGraph`] operators: convolutions with their fused bias and activation,
//! pools, elementwise arithmetic, reductions, reshapes, slices and dense layers.

use super::super::ConvertError;
use super::super::nhwc::Operand;
use super::super::nhwc::{
    Activation, ConvSpec, NhwcGraph, Padding, Pool, Reduce, StridedSlice, Value,
};
use super::super::tensor::Const;
use super::weights::Weight;
use super::{Context, Converted, NodeDef};

fn value<'a>(
    node: &NodeDef,
    inputs: &'a [Converted],
    slot: usize,
) -> Result<&'a Value, ConvertError> {
    match inputs.get(slot) {
        Some(Converted::Value(v)) => Ok(v),
        _ => Err(ConvertError::Unsupported(format!(
            "{} ({}): input {slot} is not a tensor",
            node.name, node.op
        ))),
    }
}

fn float_const<'a>(
    node: &NodeDef,
    inputs: &'a [Converted],
    slot: usize,
) -> Result<&'a Const, ConvertError> {
    match inputs.get(slot) {
        Some(Converted::Weight(Weight::Float(c))) => Ok(c),
        _ => Err(ConvertError::Unsupported(format!(
            "{} ({}): input {slot} is not a float constant",
            node.name, node.op
        ))),
    }
}

fn int_const(node: &NodeDef, inputs: &[Converted], slot: usize) -> Result<Vec<i64>, ConvertError> {
    match inputs.get(slot) {
        Some(Converted::Weight(Weight::Int(values))) => Ok(values.clone()),
        _ => Err(ConvertError::Unsupported(format!(
            "{} ({}): input {slot} is not an integer constant",
            node.name, node.op
        ))),
    }
}

fn operand<'a>(input: &'a Converted) -> Result<Operand<'a>, ConvertError> {
    match input {
        Converted::Value(v) => Ok(Operand::Value(v)),
        Converted::Weight(Weight::Float(c)) => Ok(Operand::Const(c)),
        Converted::Weight(Weight::Int(_)) => {
            Err(ConvertError::Unsupported("integer arithmetic".into()))
        }
    }
}

/// Converts one node given its converted inputs.
pub(super) fn convert_node(
    node: &NodeDef,
    inputs: &[Converted],
    context: &Context<'_>,
    g: &mut NhwcGraph,
) -> Result<Converted, ConvertError> {
    let v = Converted::Value;
    Ok(match node.op.as_str() {
        "Const" => {
            Converted::Weight(context.weights.get(&node.name).cloned().ok_or_else(|| {
                ConvertError::Malformed(format!("constant {} has no weight", node.name))
            })?)
        }
        "Placeholder" => v(g.input(&context.input_names[&node.name], &node.placeholder_shape()?)?),
        "Identity" | "StopGradient" => inputs
            .first()
            .cloned()
            .ok_or_else(|| ConvertError::Malformed(format!("{} has no input", node.name)))?,
        "Conv2D" | "_FusedConv2D" | "DepthwiseConv2dNative" | "FusedDepthwiseConv2dNative" => {
            v(convolution(node, inputs, g)?)
        }
        "MaxPool" | "AvgPool" => {
            node.require_nhwc()?;
            let kind = if node.op == "MaxPool" {
                Pool::Max
            } else {
                Pool::Average
            };
            let window = spatial_pair(node, &node.ints("ksize")?)?;
            let strides = spatial_pair(node, &node.ints("strides")?)?;
            v(g.pool(
                kind,
                value(node, inputs, 0)?,
                window,
                strides,
                padding(node)?,
            )?)
        }
        "Add" | "AddV2" | "BiasAdd" | "Sub" | "Mul" | "RealDiv" | "Maximum" | "Minimum" => {
            let op = match node.op.as_str() {
                "Add" | "AddV2" | "BiasAdd" => "Add",
                "Sub" => "Sub",
                "Mul" => "Mul",
                "RealDiv" => "Div",
                "Maximum" => "Max",
                _ => "Min",
            };
            let (a, b) = (two_inputs(node, inputs)?, &inputs[1]);
            v(g.binary(op, operand(a)?, operand(b)?)?)
        }
        "Relu" | "Sigmoid" | "Tanh" | "Neg" | "Sqrt" | "Exp" => {
            v(g.unary(node.op.as_str().onnx_unary(), value(node, inputs, 0)?))
        }
        "Rsqrt" => {
            let root = g.unary("Sqrt", value(node, inputs, 0)?);
            v(g.unary("Reciprocal", &root))
        }
        "Relu6" => v(g.clip(value(node, inputs, 0)?, 0.0, 6.0)),
        "Prelu" => v(g.prelu(value(node, inputs, 0)?, float_const(node, inputs, 1)?)?),
        "Mean" | "Sum" => {
            let kind = if node.op == "Mean" {
                Reduce::Mean
            } else {
                Reduce::Sum
            };
            let axes = int_const(node, inputs, 1)?;
            v(g.reduce(kind, value(node, inputs, 0)?, &axes, node.bool("keep_dims"))?)
        }
        "Softmax" => v(g.softmax(value(node, inputs, 0)?, -1)?),
        "Reshape" => v(g.reshape(value(node, inputs, 0)?, &int_const(node, inputs, 1)?)?),
        "ExpandDims" => {
            let x = value(node, inputs, 0)?;
            let axis = int_const(node, inputs, 1)?.first().copied().unwrap_or(0);
            let at = if axis < 0 {
                axis + x.rank() as i64 + 1
            } else {
                axis
            } as usize;
            let mut target = x.shape.clone();
            target.insert(at.min(target.len()), 1);
            v(g.reshape(x, &target)?)
        }
        "Squeeze" => {
            let x = value(node, inputs, 0)?;
            let dims = node.ints("squeeze_dims").unwrap_or_default();
            let squeezed = |a: usize| {
                dims.iter()
                    .any(|&d| (if d < 0 { d + x.rank() as i64 } else { d }) == a as i64)
                    || (dims.is_empty() && x.shape[a] == 1)
            };
            let target: Vec<i64> = (0..x.rank())
                .filter(|&a| !squeezed(a))
                .map(|a| x.shape[a])
                .collect();
            v(g.reshape(x, &target)?)
        }
        "MatMul" | "_FusedMatMul" => v(dense(node, inputs, g)?),
        "StridedSlice" => {
            if node.int("ellipsis_mask").unwrap_or(0) != 0
                || node.int("new_axis_mask").unwrap_or(0) != 0
            {
                return Err(ConvertError::Unsupported(format!(
                    "{}: ellipsis or new-axis masks",
                    node.name
                )));
            }
            let slice = StridedSlice {
                begin: int_const(node, inputs, 1)?,
                end: int_const(node, inputs, 2)?,
                strides: int_const(node, inputs, 3)?,
                begin_mask: node.int("begin_mask").unwrap_or(0),
                end_mask: node.int("end_mask").unwrap_or(0),
                shrink_axis_mask: node.int("shrink_axis_mask").unwrap_or(0),
            };
            v(g.strided_slice(value(node, inputs, 0)?, &slice)?)
        }
        "ConcatV2" => {
            let (values, axis) = inputs.split_at(inputs.len().saturating_sub(1));
            let axis = int_const(node, axis, 0)?.first().copied().unwrap_or(0);
            let values = (0..values.len())
                .map(|i| value(node, values, i).cloned())
                .collect::<Result<Vec<_>, _>>()?;
            v(g.concat(&values, axis)?)
        }
        "Pad" => {
            let pads = int_const(node, inputs, 1)?;
            let pads: Vec<[i64; 2]> = pads.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
            v(g.pad(value(node, inputs, 0)?, &pads)?)
        }
        other => {
            return Err(ConvertError::Unsupported(format!(
                "TF.js operator {other} ({})",
                node.name
            )));
        }
    })
}

trait OnnxUnary {
    fn onnx_unary(&self) -> &'static str;
}

impl OnnxUnary for str {
    fn onnx_unary(&self) -> &'static str {
        match self {
            "Relu" => "Relu",
            "Sigmoid" => "Sigmoid",
            "Tanh" => "Tanh",
            "Neg" => "Neg",
            "Sqrt" => "Sqrt",
            _ => "Exp",
        }
    }
}

fn two_inputs<'a>(node: &NodeDef, inputs: &'a [Converted]) -> Result<&'a Converted, ConvertError> {
    match inputs {
        [a, _] => Ok(a),
        _ => Err(ConvertError::Malformed(format!(
            "{} ({}) takes two inputs",
            node.name, node.op
        ))),
    }
}

/// The (height, width) entries of an NHWC `[1, h, w, 1]` list.
fn spatial_pair(node: &NodeDef, values: &[i64]) -> Result<[i64; 2], ConvertError> {
    match values {
        [1, h, w, 1] => Ok([*h, *w]),
        [] => Ok([1, 1]),
        _ => Err(ConvertError::Unsupported(format!(
            "{}: window or stride {values:?}",
            node.name
        ))),
    }
}

fn padding(node: &NodeDef) -> Result<Padding, ConvertError> {
    match node.string("padding")?.as_str() {
        "VALID" => Ok(Padding::Valid),
        "SAME" => Ok(Padding::Same),
        "EXPLICIT" => match node.ints("explicit_paddings")?[..] {
            [0, 0, t, b, l, r, 0, 0] => Ok(Padding::Explicit([[t, b], [l, r]])),
            ref p => Err(ConvertError::Unsupported(format!(
                "{}: explicit paddings {p:?}",
                node.name
            ))),
        },
        other => Err(ConvertError::Unsupported(format!(
            "{}: padding {other}",
            node.name
        ))),
    }
}

/// The activation after a fused BiasAdd, and the extra argument it reads (PReLU's slope).
fn fused_activation(node: &NodeDef) -> Result<(bool, Activation, bool), ConvertError> {
    let fused = if node.op.starts_with('_') || node.op.starts_with("Fused") {
        node.strings("fused_ops")?
    } else {
        Vec::new()
    };
    let names: Vec<&str> = fused.iter().map(String::as_str).collect();
    let (bias, rest) = match names.split_first() {
        Some((&"BiasAdd", rest)) => (true, rest),
        Some(_) => {
            return Err(ConvertError::Unsupported(format!(
                "{}: fused operators {names:?}",
                node.name
            )));
        }
        None => (false, &[][..]),
    };
    Ok(match rest {
        [] => (bias, Activation::Linear, false),
        ["Relu"] => (bias, Activation::Relu, false),
        ["Relu6"] => (bias, Activation::Relu6, false),
        ["Sigmoid"] => (bias, Activation::Sigmoid, false),
        ["Tanh"] => (bias, Activation::Tanh, false),
        ["Prelu"] => (bias, Activation::Linear, true),
        _ => {
            return Err(ConvertError::Unsupported(format!(
                "{}: fused operators {names:?}",
                node.name
            )));
        }
    })
}

fn convolution(
    node: &NodeDef,
    inputs: &[Converted],
    g: &mut NhwcGraph,
) -> Result<Value, ConvertError> {
    node.require_nhwc()?;
    let x = value(node, inputs, 0)?;
    let filter = float_const(node, inputs, 1)?;
    let depthwise = node.op.contains("Depthwise");
    let (kernel, groups) = if depthwise {
        (filter.depthwise_to_oihw(), filter.shape[2])
    } else {
        (filter.hwio_to_oihw(), 1)
    };
    let spec = ConvSpec {
        strides: spatial_pair(node, &node.ints("strides")?)?,
        dilations: spatial_pair(node, &node.ints("dilations").unwrap_or_default())?,
        padding: padding(node)?,
    };
    let (has_bias, activation, prelu) = fused_activation(node)?;
    let bias = if has_bias {
        Some(float_const(node, inputs, 2)?.data.as_slice())
    } else {
        None
    };
    let y = g.conv(x, &kernel, bias, groups, &spec, activation)?;
    if prelu {
        return g.prelu(&y, float_const(node, inputs, 3)?);
    }
    Ok(y)
}

fn dense(node: &NodeDef, inputs: &[Converted], g: &mut NhwcGraph) -> Result<Value, ConvertError> {
    if node.bool("transpose_a") {
        return Err(ConvertError::Unsupported(format!(
            "{}: transpose_a",
            node.name
        )));
    }
    let x = value(node, inputs, 0)?;
    let weights = float_const(node, inputs, 1)?;
    let weights = if node.bool("transpose_b") {
        weights.transposed(&[1, 0])
    } else {
        weights.clone()
    };
    let (has_bias, activation, prelu) = fused_activation(node)?;
    let bias = if has_bias {
        Some(float_const(node, inputs, 2)?.data.as_slice())
    } else {
        None
    };
    let y = g.matmul(x, &weights, bias)?;
    let y = g.activation(y, activation)?;
    if prelu {
        return g.prelu(&y, float_const(node, inputs, 3)?);
    }
    Ok(y)
}
