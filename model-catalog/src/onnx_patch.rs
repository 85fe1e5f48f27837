//! Edits of ONNX model files made at fetch time, written straight on the protobuf wire encoding: only the fields an
//! edit names are re-encoded, every other byte (unknown fields included) is copied through unchanged.
//!
//! The one edit so far, `dynamic-batch`, gives a graph exported with batch = 1 a symbolic batch dimension so the
//! dynamic batcher can run several images per call: dim 0 of the inputs, outputs and value_info becomes "batch",
//! constant Reshape shapes `[1, ...]` become `[0, ...]` (0 copies the input's dim 0), and Resize nodes with constant
//! `sizes` take the equivalent `scales` instead.

mod graph;
mod plan;
#[cfg(test)]
mod tests;
pub(crate) mod wire;

use graph::{
    DIM_PARAM, DIM_VALUE, FLOAT, GRAPH_INITIALIZER, GRAPH_NODE, Graph, MODEL_GRAPH, NODE_INPUT,
    SHAPE_DIM, TENSOR_DATA_TYPE, TENSOR_DIMS, TENSOR_INT64_DATA, TENSOR_NAME, TENSOR_RAW_DATA,
    TENSOR_TYPE_SHAPE, TYPE_TENSOR, VALUE_INFO_TYPE,
};
use plan::{BATCH, Plan};
use wire::{Edit, Field, Value, fields, put_bytes_field, put_varint, put_varint_field, rewrite};

pub use wire::WireError;

/// An edit the manifest can ask the fetch step to make (`patch = { edit = "dynamic-batch", ... }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GraphEdit {
    /// A symbolic batch dimension for a graph that fixes batch = 1 ([`make_batch_dynamic`]).
    DynamicBatch,
}

impl GraphEdit {
    pub fn apply(self, model: &[u8]) -> Result<Vec<u8>, PatchError> {
        match self {
            Self::DynamicBatch => make_batch_dynamic(model).map(|(bytes, _)| bytes),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("the graph cannot get a symbolic batch: {0}")]
    Unsupported(String),
}

/// How many places the dynamic-batch edit changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DynamicBatchSummary {
    pub inputs: usize,
    pub outputs: usize,
    pub value_infos: usize,
    /// Reshape shape initializers (one may serve several Reshape nodes).
    pub reshape_shapes: usize,
    pub resizes: usize,
}

/// `model` (an ONNX ModelProto) with a symbolic batch dimension, or why its graph cannot safely get one.
pub fn make_batch_dynamic(model: &[u8]) -> Result<(Vec<u8>, DynamicBatchSummary), PatchError> {
    let graph_bytes = graph_payload(&fields(model, "ModelProto")?)?;
    let plan = plan::plan_dynamic_batch(&Graph::read(graph_bytes)?)?;
    let patched = apply(model, &plan)?;
    Ok((patched, plan.summary))
}

fn graph_payload<'a>(model_fields: &[Field<'a>]) -> Result<&'a [u8], PatchError> {
    let mut graphs = model_fields.iter().filter(|f| f.number == MODEL_GRAPH);
    match (graphs.next().and_then(Field::bytes), graphs.next()) {
        (Some(graph), None) => Ok(graph),
        (None, _) => Err(PatchError::Unsupported("the model has no graph".into())),
        (Some(_), Some(_)) => Err(PatchError::Unsupported(
            "the model has several graph fields (merged on parsing; not supported)".into(),
        )),
    }
}

fn encoded(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 6);
    put_bytes_field(&mut out, number, payload);
    out
}

/// Writes `model` back with the edits of `plan`; an empty plan gives back the same bytes.
fn apply(model: &[u8], plan: &Plan) -> Result<Vec<u8>, PatchError> {
    let model_fields = fields(model, "ModelProto")?;
    let old_graph = graph_payload(&model_fields)?;
    let graph = Graph::read(old_graph)?;
    // New initializers go after the last existing one (after the nodes if there is none).
    let insert_after = graph
        .fields
        .iter()
        .rposition(|f| f.number == GRAPH_INITIALIZER)
        .or_else(|| graph.fields.iter().rposition(|f| f.number == GRAPH_NODE));
    let new_graph = rewrite(&graph.fields, |index, field| {
        let payload = field.bytes().unwrap_or_default();
        let mut bytes = if plan.batch_dims.contains(&index) {
            encoded(field.number, &symbolic_batch(payload)?)
        } else if plan.reshape_shapes.contains(&index) {
            encoded(field.number, &first_int64_zeroed(payload)?)
        } else if let Some(edit) = plan.resizes.iter().find(|r| r.node_field == index) {
            encoded(
                field.number,
                &resize_with_scales(payload, &edit.scales_name)?,
            )
        } else if plan.dropped_initializers.contains(&index) {
            Vec::new()
        } else if Some(index) == insert_after && !plan.resizes.is_empty() {
            field.raw.to_vec()
        } else {
            return Ok(Edit::Keep);
        };
        if Some(index) == insert_after {
            for edit in &plan.resizes {
                bytes.extend(float_initializer(&edit.scales_name, &edit.scales));
            }
        }
        Ok::<_, PatchError>(Edit::Replace(bytes))
    })?;
    if new_graph == old_graph {
        return Ok(model.to_vec());
    }
    rewrite(&model_fields, |_, field| {
        Ok(if field.number == MODEL_GRAPH {
            Edit::Replace(encoded(MODEL_GRAPH, &new_graph))
        } else {
            Edit::Keep
        })
    })
}

/// `message` with the payload of its first length-delimited field numbered `number` replaced by `edit(payload)`.
fn rewrite_first(
    message: &[u8],
    number: u32,
    name: &'static str,
    edit: impl FnOnce(&[u8]) -> Result<Vec<u8>, PatchError>,
) -> Result<Vec<u8>, PatchError> {
    let fs = fields(message, name)?;
    let target = fs
        .iter()
        .position(|f| f.number == number && f.bytes().is_some())
        .ok_or_else(|| PatchError::Unsupported(format!("{name} has no field {number}")))?;
    let mut edit = Some(edit);
    rewrite(&fs, |index, field| {
        if index != target {
            return Ok(Edit::Keep);
        }
        let edit = edit.take().expect("one target");
        Ok(Edit::Replace(encoded(
            number,
            &edit(field.bytes().unwrap_or_default())?,
        )))
    })
}

/// A ValueInfoProto whose tensor's dim 0 is the symbol [`BATCH`] instead of a fixed value.
fn symbolic_batch(value_info: &[u8]) -> Result<Vec<u8>, PatchError> {
    rewrite_first(value_info, VALUE_INFO_TYPE, "ValueInfoProto", |ty| {
        rewrite_first(ty, TYPE_TENSOR, "TypeProto", |tensor| {
            rewrite_first(tensor, TENSOR_TYPE_SHAPE, "TypeProto.Tensor", |shape| {
                rewrite_first(shape, SHAPE_DIM, "TensorShapeProto", |dim| {
                    // dim_value and dim_param are a oneof: the first becomes the symbol, any other is dropped.
                    let mut replaced = false;
                    rewrite(&fields(dim, "TensorShapeProto.Dimension")?, |_, f| {
                        Ok::<_, PatchError>(match f.number {
                            DIM_VALUE | DIM_PARAM if replaced => Edit::Drop,
                            DIM_VALUE | DIM_PARAM => {
                                replaced = true;
                                Edit::Replace(encoded(DIM_PARAM, BATCH.as_bytes()))
                            }
                            _ => Edit::Keep,
                        })
                    })
                })
            })
        })
    })
}

/// An INT64 TensorProto with its first value set to 0, whether stored as raw_data or int64_data.
fn first_int64_zeroed(tensor: &[u8]) -> Result<Vec<u8>, PatchError> {
    let no_values = || PatchError::Unsupported("a shape initializer holds no values".into());
    let fs = fields(tensor, "TensorProto")?;
    let raw = fs.iter().position(|f| f.number == TENSOR_RAW_DATA);
    let target = raw
        .or_else(|| fs.iter().position(|f| f.number == TENSOR_INT64_DATA))
        .ok_or_else(no_values)?;
    rewrite(&fs, |index, field| {
        if index != target {
            return Ok(Edit::Keep);
        }
        let mut out = Vec::new();
        match field.value {
            Value::Bytes(data) if raw.is_some() => {
                let mut data = data.to_vec();
                data.get_mut(..8).ok_or_else(no_values)?.fill(0);
                put_bytes_field(&mut out, TENSOR_RAW_DATA, &data);
            }
            Value::Bytes(_) => {
                let mut values = wire::repeated_int64(
                    std::slice::from_ref(field),
                    TENSOR_INT64_DATA,
                    "TensorProto",
                )?;
                *values.first_mut().ok_or_else(no_values)? = 0;
                let mut packed = Vec::new();
                values
                    .iter()
                    .for_each(|&v| put_varint(&mut packed, v as u64));
                put_bytes_field(&mut out, TENSOR_INT64_DATA, &packed);
            }
            Value::Varint(_) => put_varint_field(&mut out, TENSOR_INT64_DATA, 0),
            _ => {
                return Err(PatchError::Unsupported(
                    "a shape initializer of unexpected encoding".into(),
                ));
            }
        }
        Ok(Edit::Replace(out))
    })
}

/// A Resize NodeProto reading `scales` from `scales_name` and no longer given `sizes`.
fn resize_with_scales(node: &[u8], scales_name: &str) -> Result<Vec<u8>, PatchError> {
    let mut slot = 0;
    rewrite(&fields(node, "NodeProto")?, |_, field| {
        if field.number != NODE_INPUT {
            return Ok::<_, PatchError>(Edit::Keep);
        }
        slot += 1;
        Ok(match slot - 1 {
            2 => Edit::Replace(encoded(NODE_INPUT, scales_name.as_bytes())),
            3 => Edit::Drop,
            _ => Edit::Keep,
        })
    })
}

/// An encoded graph initializer field holding a FLOAT vector.
fn float_initializer(name: &str, values: &[f32]) -> Vec<u8> {
    let mut tensor = Vec::new();
    put_varint_field(&mut tensor, TENSOR_DIMS, values.len() as u64);
    put_varint_field(&mut tensor, TENSOR_DATA_TYPE, FLOAT as u64);
    put_bytes_field(&mut tensor, TENSOR_NAME, name.as_bytes());
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    put_bytes_field(&mut tensor, TENSOR_RAW_DATA, &data);
    encoded(GRAPH_INITIALIZER, &tensor)
}
