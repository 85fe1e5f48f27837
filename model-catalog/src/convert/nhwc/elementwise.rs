//! Elementwise operators. A constant operand is rearranged when the graph is built so it broadcasts against a
//! channels-first value as it did against the NHWC one, which keeps elementwise chains free of transposes.

use super::super::ConvertError;
use super::super::tensor::Const;
use super::{Layout, NhwcGraph, Value};

/// One operand of a binary operator.
pub(crate) enum Operand<'a> {
    Value(&'a Value),
    Const(&'a Const),
}

impl NhwcGraph {
    /// An elementwise operator of one input that keeps the shape (Relu, Sigmoid, Tanh, Neg, Sqrt, Reciprocal...).
    pub fn unary(&mut self, op: &'static str, x: &Value) -> Value {
        let name = self.node(op, &[&x.name], Vec::new());
        self.value(name, x.shape.clone(), x.layout)
    }

    pub fn clip(&mut self, x: &Value, min: f32, max: f32) -> Value {
        let lo = self.onnx.constant_f32(&[], vec![min]);
        let hi = self.onnx.constant_f32(&[], vec![max]);
        let name = self.node("Clip", &[&x.name, &lo, &hi], Vec::new());
        self.value(name, x.shape.clone(), x.layout)
    }

    /// `constant` as an ONNX initializer that broadcasts against `like` as it does against the source's tensor.
    pub(crate) fn broadcast_constant(
        &mut self,
        constant: &Const,
        like: &Value,
    ) -> Result<String, ConvertError> {
        if like.layout == Layout::Source
            || (constant.data.len() == 1 && constant.shape.len() <= like.rank())
        {
            return Ok(self
                .onnx
                .constant_f32(&constant.shape, constant.data.clone()));
        }
        if constant.shape.len() > 4 {
            return Err(ConvertError::Unsupported(format!(
                "a constant of shape {:?} against an image",
                constant.shape
            )));
        }
        let mut nhwc = vec![1; 4 - constant.shape.len()];
        nhwc.extend(&constant.shape);
        let nchw = constant.clone().reshaped(nhwc).transposed(&[0, 3, 1, 2]);
        Ok(self.onnx.constant_f32(&nchw.shape, nchw.data))
    }

    /// A broadcasting binary operator (Add, Sub, Mul, Div, Max, Min, Pow...).
    pub fn binary(
        &mut self,
        op: &'static str,
        a: Operand<'_>,
        b: Operand<'_>,
    ) -> Result<Value, ConvertError> {
        let (a_name, b_name, shape, layout) = match (a, b) {
            (Operand::Value(a), Operand::Value(b)) => {
                let (a, b) = self.common_layout(a, b)?;
                let shape = broadcast(&a.shape, &b.shape)?;
                (a.name.clone(), b.name.clone(), shape, a.layout)
            }
            (Operand::Value(a), Operand::Const(c)) => {
                let a = self.settle_for_constant(a, c);
                let c_name = self.broadcast_constant(c, &a)?;
                (
                    a.name.clone(),
                    c_name,
                    broadcast(&a.shape, &dims_of(c))?,
                    a.layout,
                )
            }
            (Operand::Const(c), Operand::Value(b)) => {
                let b = self.settle_for_constant(b, c);
                let c_name = self.broadcast_constant(c, &b)?;
                (
                    c_name,
                    b.name.clone(),
                    broadcast(&dims_of(c), &b.shape)?,
                    b.layout,
                )
            }
            (Operand::Const(_), Operand::Const(_)) => {
                return Err(ConvertError::Unsupported(format!("{op} of two constants")));
            }
        };
        let name = self.node(op, &[&a_name, &b_name], Vec::new());
        Ok(self.value(name, shape, layout))
    }

    /// PReLU with a constant slope that broadcasts against `x`.
    pub fn prelu(&mut self, x: &Value, slope: &Const) -> Result<Value, ConvertError> {
        let x = self.settle_for_constant(x, slope);
        let slope = self.broadcast_constant(slope, &x)?;
        let name = self.node("PRelu", &[&x.name, &slope], Vec::new());
        Ok(self.value(name, x.shape.clone(), x.layout))
    }

    /// `x` in the source's order when `constant` has more dimensions than it (it would not broadcast as NCHW).
    fn settle_for_constant(&mut self, x: &Value, constant: &Const) -> Value {
        if x.layout == Layout::ChannelsFirst && constant.shape.len() > x.rank() {
            self.in_source_order(x)
        } else {
            x.clone()
        }
    }

    /// Both values in one layout: channels-first when both are 4-D, else the source's order.
    fn common_layout(&mut self, a: &Value, b: &Value) -> Result<(Value, Value), ConvertError> {
        if a.layout == b.layout {
            return Ok((a.clone(), b.clone()));
        }
        if a.rank() == 4 && b.rank() == 4 {
            Ok((self.in_channels_first(a)?, self.in_channels_first(b)?))
        } else {
            Ok((self.in_source_order(a), self.in_source_order(b)))
        }
    }
}

fn dims_of(c: &Const) -> Vec<i64> {
    c.shape.iter().map(|&d| d as i64).collect()
}

/// NumPy broadcasting of two shapes (-1 = unknown, taken as the batch).
pub(crate) fn broadcast(a: &[i64], b: &[i64]) -> Result<Vec<i64>, ConvertError> {
    let rank = a.len().max(b.len());
    let dim = |s: &[i64], i: usize| {
        if i + s.len() < rank {
            1
        } else {
            s[i + s.len() - rank]
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (-1, y) | (y, -1) => Ok(y),
            _ => Err(ConvertError::Malformed(format!(
                "shapes {a:?} and {b:?} do not broadcast"
            ))),
        })
        .collect()
}
