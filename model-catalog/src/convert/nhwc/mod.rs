//! The graph every converter builds: operators with TensorFlow's semantics (images NHWC, shapes and axes in the
//! source's order) written as ONNX, whose convolutions and pools are NCHW. Each 4-D value remembers whether ONNX
//! holds it channels-first; a transpose is inserted only where an operator needs the other order, so a
//! convolution network costs one transpose at the input and one where it is flattened, as in tf2onnx's output.
//! Shapes are tracked in the source's order, with -1 for the batch when the graph leaves it free.

mod elementwise;
mod reshaping;
mod spatial;

use super::ConvertError;
use super::onnx_builder::{Attr, Dim, OnnxGraph};

pub(crate) use elementwise::Operand;
pub(crate) use reshaping::{Reduce, StridedSlice};
pub(crate) use spatial::{ConvSpec, Padding, Pool};

/// The name of the symbolic batch dimension of converted graphs.
pub(crate) const BATCH: &str = "batch";

/// Where an ONNX tensor's dimensions stand relative to the source's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// As in the source.
    Source,
    /// A 4-D NHWC value held as NCHW.
    ChannelsFirst,
}

/// NHWC dimension `i` is at ONNX position `NHWC_TO_NCHW_POSITION[i]` in a channels-first value.
const NHWC_TO_NCHW_POSITION: [usize; 4] = [0, 2, 3, 1];

/// A tensor of the graph being built.
#[derive(Debug, Clone)]
pub(crate) struct Value {
    name: String,
    /// In the source's order; -1 for the batch when it is free.
    pub shape: Vec<i64>,
    layout: Layout,
}

impl Value {
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// ONNX's position of source axis `axis` (already non-negative).
    fn position(&self, axis: usize) -> usize {
        match self.layout {
            Layout::Source => axis,
            Layout::ChannelsFirst => NHWC_TO_NCHW_POSITION[axis],
        }
    }
}

/// A fused activation (TFLite's fused_activation_function, TF.js's fused ops, Keras's activations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    Linear,
    Relu,
    Relu6,
    ReluN1To1,
    Tanh,
    Sigmoid,
}

/// The graph under construction.
pub(crate) struct NhwcGraph {
    onnx: OnnxGraph,
}

impl NhwcGraph {
    pub fn new() -> Self {
        Self {
            onnx: OnnxGraph::default(),
        }
    }

    /// A graph input of `shape` (source order; -1 in dim 0 makes the batch symbolic).
    pub fn input(&mut self, name: &str, shape: &[i64]) -> Result<Value, ConvertError> {
        let dims = declared_dims(shape)?;
        Ok(Value {
            name: self.onnx.input(name, dims),
            shape: shape.to_vec(),
            layout: Layout::Source,
        })
    }

    /// A constant as a graph tensor, for operators that take no constant operand (concatenation).
    pub fn constant(&mut self, constant: &super::tensor::Const) -> Value {
        let name = self
            .onnx
            .constant_f32(&constant.shape, constant.data.clone());
        let shape = constant.shape.iter().map(|&d| d as i64).collect();
        self.value(name, shape, Layout::Source)
    }

    /// Declares `value`, in the source's order, a graph output called `name`.
    pub fn output(&mut self, value: &Value, name: &str) -> Result<(), ConvertError> {
        let value = self.in_source_order(value);
        let dims = declared_dims(&value.shape)?;
        self.onnx.output(&value.name, name, dims);
        Ok(())
    }

    pub fn encode(&self, graph_name: &str) -> Vec<u8> {
        self.onnx.encode(graph_name)
    }

    fn node(
        &mut self,
        op: &'static str,
        inputs: &[&str],
        attrs: Vec<(&'static str, Attr)>,
    ) -> String {
        self.onnx.node(op, inputs, attrs)
    }

    fn value(&self, name: String, shape: Vec<i64>, layout: Layout) -> Value {
        Value {
            name,
            shape,
            layout,
        }
    }

    /// `value` in the source's order.
    pub(crate) fn in_source_order(&mut self, value: &Value) -> Value {
        match value.layout {
            Layout::Source => value.clone(),
            Layout::ChannelsFirst => {
                let name = self.node(
                    "Transpose",
                    &[&value.name],
                    vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))],
                );
                self.value(name, value.shape.clone(), Layout::Source)
            }
        }
    }

    /// A 4-D `value` held channels-first.
    fn in_channels_first(&mut self, value: &Value) -> Result<Value, ConvertError> {
        if value.rank() != 4 {
            return Err(ConvertError::Unsupported(format!(
                "an image operator on a tensor of shape {:?} (NHWC expected)",
                value.shape
            )));
        }
        Ok(match value.layout {
            Layout::ChannelsFirst => value.clone(),
            Layout::Source => {
                let name = self.node(
                    "Transpose",
                    &[&value.name],
                    vec![("perm", Attr::Ints(vec![0, 3, 1, 2]))],
                );
                self.value(name, value.shape.clone(), Layout::ChannelsFirst)
            }
        })
    }

    /// `value` after a fused activation.
    pub fn activation(
        &mut self,
        value: Value,
        activation: Activation,
    ) -> Result<Value, ConvertError> {
        Ok(match activation {
            Activation::Linear => value,
            Activation::Relu => self.unary("Relu", &value),
            Activation::Tanh => self.unary("Tanh", &value),
            Activation::Sigmoid => self.unary("Sigmoid", &value),
            Activation::Relu6 => self.clip(&value, 0.0, 6.0),
            Activation::ReluN1To1 => self.clip(&value, -1.0, 1.0),
        })
    }
}

/// Normalises a possibly negative `axis` of a tensor of rank `rank`.
pub(crate) fn axis_of(axis: i64, rank: usize) -> Result<usize, ConvertError> {
    let normalised = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(normalised)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| ConvertError::Malformed(format!("axis {axis} of a rank-{rank} tensor")))
}

fn declared_dims(shape: &[i64]) -> Result<Vec<Dim>, ConvertError> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| match (i, d) {
            (_, d) if d >= 0 => Ok(Dim::Fixed(d)),
            (0, _) => Ok(Dim::Symbol(BATCH)),
            _ => Err(ConvertError::Unsupported(format!(
                "shape {shape:?}: only the batch may be left free"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tensor::Const;
    use super::*;

    fn chain() -> (Vec<u8>, Value) {
        let mut g = NhwcGraph::new();
        let x = g.input("x", &[-1, 8, 8, 3]).unwrap();
        let spec = ConvSpec {
            strides: [2, 2],
            dilations: [1, 1],
            padding: Padding::Same,
        };
        let kernel = Const::new(
            vec![4, 3, 3, 3],
            (0..108).map(|v| v as f32 / 100.0).collect(),
        )
        .unwrap();
        let y = g
            .conv(&x, &kernel, Some(&[0.5; 4]), 1, &spec, Activation::Relu6)
            .unwrap();
        let shift = Const::new(vec![4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let y = g
            .binary("Add", Operand::Value(&y), Operand::Const(&shift))
            .unwrap();
        let pooled = g
            .pool(Pool::Max, &y, [2, 2], [2, 2], Padding::Valid)
            .unwrap();
        let flat = g.reshape(&pooled, &[-1, 16]).unwrap();
        g.output(&flat, "y").unwrap();
        (g.encode("test"), pooled)
    }

    #[test]
    fn an_image_chain_costs_one_transpose_each_way_and_encodes_alike_every_time() {
        let (bytes, pooled) = chain();
        assert_eq!(
            pooled.shape,
            vec![-1, 2, 2, 4],
            "shapes stay in the source's order"
        );
        // NodeProto.op_type (field 4) = "Transpose".
        let transposes = bytes
            .windows(11)
            .filter(|w| w == b"\x22\x09Transpose")
            .count();
        assert_eq!(
            transposes, 2,
            "into NCHW before the convolution, back before the reshape"
        );
        assert_eq!(bytes, chain().0);
    }

    #[test]
    fn reshapes_that_would_mix_the_batch_are_refused() {
        let mut g = NhwcGraph::new();
        let x = g.input("x", &[-1, 4, 4]).unwrap();
        assert!(g.reshape(&x, &[-1, 16]).is_ok());
        assert!(
            g.reshape(&x, &[-1, 8]).is_err(),
            "8 values per sample are not one sample"
        );
        assert!(g.reshape(&x, &[2, -1]).is_err());
    }
}
