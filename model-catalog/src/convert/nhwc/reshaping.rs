//! Operators on the dimensions themselves: reshape, transpose, concatenation, slicing, reductions, softmax and
//! the matrix product of dense layers.

use super::super::ConvertError;
use super::super::onnx_builder::Attr;
use super::super::tensor::Const;
use super::{Layout, NhwcGraph, Value, axis_of};

/// TensorFlow's StridedSlice arguments (ellipsis and new-axis masks are not supported).
pub(crate) struct StridedSlice {
    pub begin: Vec<i64>,
    pub end: Vec<i64>,
    pub strides: Vec<i64>,
    pub begin_mask: i64,
    pub end_mask: i64,
    pub shrink_axis_mask: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduce {
    Mean,
    Sum,
}

impl NhwcGraph {
    /// Reshape to `target` (source order; -1 infers one dimension). When the batch is free and the source fixed it
    /// at 1 in `target`, ONNX's 0 (copy the input's dim 0) keeps it free.
    pub fn reshape(&mut self, x: &Value, target: &[i64]) -> Result<Value, ConvertError> {
        let x = self.in_source_order(x);
        let mut onnx_target = target.to_vec();
        let batch_free = x.shape.first() == Some(&-1);
        if batch_free && matches!(target.first(), Some(1 | -1)) {
            onnx_target[0] = 0;
        }
        let known: i64 = x.shape.iter().filter(|&&d| d > 0).product();
        let mut shape = target.to_vec();
        if batch_free {
            // Copying dim 0 keeps the batch only if the rest of `target` holds one sample exactly.
            let rest = &target[1..];
            let fixed: i64 = rest.iter().filter(|&&d| d > 0).product();
            if rest.contains(&-1) || fixed != known || onnx_target[0] != 0 {
                return Err(ConvertError::Unsupported(format!(
                    "reshaping {:?} to {target:?} mixes the free batch with other dimensions",
                    x.shape
                )));
            }
            shape[0] = -1;
        }
        if let Some(free) = shape
            .iter()
            .skip(usize::from(batch_free))
            .position(|&d| d == -1)
        {
            let rest: i64 = shape.iter().filter(|&&d| d > 0).product();
            shape[free + usize::from(batch_free)] = known / rest.max(1);
        }
        let target_name = self.onnx.constant_i64(onnx_target);
        let name = self.node("Reshape", &[&x.name, &target_name], Vec::new());
        Ok(self.value(name, shape, Layout::Source))
    }

    pub fn transpose(&mut self, x: &Value, perm: &[i64]) -> Result<Value, ConvertError> {
        let x = self.in_source_order(x);
        let axes = perm
            .iter()
            .map(|&p| axis_of(p, x.rank()))
            .collect::<Result<Vec<_>, _>>()?;
        let shape = axes.iter().map(|&a| x.shape[a]).collect();
        let name = self.node(
            "Transpose",
            &[&x.name],
            vec![("perm", Attr::Ints(perm.to_vec()))],
        );
        Ok(self.value(name, shape, Layout::Source))
    }

    /// Concatenation along source axis `axis`, channels-first when every input is 4-D.
    pub fn concat(&mut self, xs: &[Value], axis: i64) -> Result<Value, ConvertError> {
        let first = xs
            .first()
            .ok_or_else(|| ConvertError::Malformed("concatenation of nothing".into()))?;
        let axis = axis_of(axis, first.rank())?;
        let channels_first = xs
            .iter()
            .all(|x| x.rank() == 4 && x.layout == Layout::ChannelsFirst);
        let xs: Vec<Value> = if channels_first {
            xs.to_vec()
        } else {
            xs.iter().map(|x| self.in_source_order(x)).collect()
        };
        let mut shape = xs[0].shape.clone();
        shape[axis] = xs.iter().map(|x| x.shape[axis]).sum();
        let names: Vec<&str> = xs.iter().map(|x| x.name.as_str()).collect();
        let at = xs[0].position(axis) as i64;
        let name = self.node("Concat", &names, vec![("axis", Attr::Int(at))]);
        Ok(self.value(name, shape, xs[0].layout))
    }

    /// TensorFlow's StridedSlice as ONNX Slice, then Squeeze for the shrunk axes.
    pub fn strided_slice(&mut self, x: &Value, s: &StridedSlice) -> Result<Value, ConvertError> {
        let x = self.in_source_order(x);
        let (mut starts, mut ends, mut axes, mut steps, mut squeezed) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut shape = x.shape.clone();
        for (axis, (&begin, &end)) in s.begin.iter().zip(&s.end).enumerate().take(x.rank()) {
            let bit = 1 << axis;
            let step = s.strides.get(axis).copied().unwrap_or(1);
            let (mut start, mut end) = (begin, end);
            if s.shrink_axis_mask & bit != 0 {
                end = if start == -1 { i64::MAX } else { start + 1 };
                squeezed.push(axis as i64);
            } else {
                if s.begin_mask & bit != 0 {
                    start = if step > 0 { 0 } else { i64::MAX };
                }
                if s.end_mask & bit != 0 {
                    end = if step > 0 { i64::MAX } else { i64::MIN };
                }
            }
            let whole = start == 0 && end == i64::MAX && step == 1;
            if whole {
                continue;
            }
            let dim = x.shape[axis];
            if dim < 0 {
                return Err(ConvertError::Unsupported(
                    "slicing the free batch dimension".into(),
                ));
            }
            shape[axis] = sliced_len(dim, start, end, step);
            starts.push(start);
            ends.push(end);
            axes.push(axis as i64);
            steps.push(step);
        }
        let mut y = x.clone();
        if !axes.is_empty() {
            let inputs = [starts, ends, axes, steps].map(|v| self.onnx.constant_i64(v));
            let name = self.node(
                "Slice",
                &[&x.name, &inputs[0], &inputs[1], &inputs[2], &inputs[3]],
                Vec::new(),
            );
            y = self.value(name, shape.clone(), Layout::Source);
        }
        if !squeezed.is_empty() {
            let axes = self.onnx.constant_i64(squeezed.clone());
            let name = self.node("Squeeze", &[&y.name, &axes], Vec::new());
            let kept = (0..shape.len())
                .filter(|a| !squeezed.contains(&(*a as i64)))
                .map(|a| shape[a])
                .collect();
            y = self.value(name, kept, Layout::Source);
        }
        Ok(y)
    }

    /// ReduceMean or ReduceSum over source axes `axes`.
    pub fn reduce(
        &mut self,
        kind: Reduce,
        x: &Value,
        axes: &[i64],
        keep_dims: bool,
    ) -> Result<Value, ConvertError> {
        let mut axes = axes
            .iter()
            .map(|&a| axis_of(a, x.rank()))
            .collect::<Result<Vec<_>, _>>()?;
        axes.sort_unstable();
        axes.dedup();
        let kept: Vec<usize> = (0..x.rank()).filter(|a| !axes.contains(a)).collect();
        // Without keep_dims the result is in the source's order only if the kept axes keep their order in ONNX.
        let keeps_order = kept.windows(2).all(|w| x.position(w[0]) < x.position(w[1]));
        let x = if keep_dims || keeps_order {
            x.clone()
        } else {
            self.in_source_order(x)
        };
        let onnx_axes: Vec<i64> = axes.iter().map(|&a| x.position(a) as i64).collect();
        let keep = ("keepdims", Attr::Int(i64::from(keep_dims)));
        let name = match kind {
            Reduce::Mean => self.node(
                "ReduceMean",
                &[&x.name],
                vec![("axes", Attr::Ints(onnx_axes)), keep],
            ),
            Reduce::Sum => {
                let axes_name = self.onnx.constant_i64(onnx_axes);
                self.node("ReduceSum", &[&x.name, &axes_name], vec![keep])
            }
        };
        Ok(if keep_dims {
            let shape = (0..x.rank())
                .map(|a| if axes.contains(&a) { 1 } else { x.shape[a] })
                .collect();
            self.value(name, shape, x.layout)
        } else {
            self.value(
                name,
                kept.iter().map(|&a| x.shape[a]).collect(),
                Layout::Source,
            )
        })
    }

    pub fn softmax(&mut self, x: &Value, axis: i64) -> Result<Value, ConvertError> {
        let at = x.position(axis_of(axis, x.rank())?) as i64;
        let name = self.node("Softmax", &[&x.name], vec![("axis", Attr::Int(at))]);
        Ok(self.value(name, x.shape.clone(), x.layout))
    }

    /// `x @ weights + bias` for 2-D `x` and a constant `[in, out]` matrix.
    pub fn matmul(
        &mut self,
        x: &Value,
        weights: &Const,
        bias: Option<&[f32]>,
    ) -> Result<Value, ConvertError> {
        let x = self.in_source_order(x);
        let [inner, out] = weights.shape[..] else {
            return Err(ConvertError::Malformed(format!(
                "matrix of shape {:?}",
                weights.shape
            )));
        };
        if x.rank() != 2 || (x.shape[1] >= 0 && x.shape[1] as usize != inner) {
            return Err(ConvertError::Unsupported(format!(
                "{:?} @ {:?}",
                x.shape, weights.shape
            )));
        }
        let w = self.onnx.constant_f32(&weights.shape, weights.data.clone());
        let name = self.node("MatMul", &[&x.name, &w], Vec::new());
        let y = self.value(name, vec![x.shape[0], out as i64], Layout::Source);
        match bias {
            None => Ok(y),
            Some(b) => {
                let b = Const::new(vec![b.len()], b.to_vec())?;
                self.binary(
                    "Add",
                    super::elementwise::Operand::Value(&y),
                    super::elementwise::Operand::Const(&b),
                )
            }
        }
    }
}

/// The length of Python's `range(dim)[start:end:step]`.
fn sliced_len(dim: i64, start: i64, end: i64, step: i64) -> i64 {
    let clamp = |v: i64, lo: i64, hi: i64| {
        let v = if v < 0 { v.saturating_add(dim) } else { v };
        v.clamp(lo, hi)
    };
    if step > 0 {
        let (s, e) = (clamp(start, 0, dim), clamp(end, 0, dim));
        ((e - s).max(0) + step - 1) / step
    } else {
        let (s, e) = (clamp(start, -1, dim - 1), clamp(end, -1, dim - 1));
        ((s - e).max(0) + (-step) - 1) / (-step)
    }
}

#[cfg(test)]
mod tests {
    use super::sliced_len;

    #[test]
    fn slice_lengths_follow_python() {
        assert_eq!(sliced_len(10, 0, i64::MAX, 1), 10);
        assert_eq!(sliced_len(10, 2, 5, 1), 3);
        assert_eq!(sliced_len(10, -1, i64::MAX, 1), 1);
        assert_eq!(sliced_len(10, 0, 10, 3), 4);
        assert_eq!(sliced_len(10, i64::MAX, i64::MIN, -1), 10);
    }
}
