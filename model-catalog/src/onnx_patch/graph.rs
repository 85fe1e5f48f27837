//! What the graph edits need to know about an ONNX graph, read from its wire encoding: the nodes (operator, inputs,
//! integer attributes), the initializers (type, dims, int64 values) and the declared tensor shapes, each with the
//! index of the graph field it came from so the edits can find it again.

use std::collections::HashMap;

use super::PatchError;
use super::wire::{Field, Value, fields, first, repeated_int64};

// Field numbers of onnx.proto.
pub(super) const MODEL_GRAPH: u32 = 7;
pub(super) const GRAPH_NODE: u32 = 1;
pub(super) const GRAPH_INITIALIZER: u32 = 5;
pub(super) const GRAPH_INPUT: u32 = 11;
pub(super) const GRAPH_OUTPUT: u32 = 12;
pub(super) const GRAPH_VALUE_INFO: u32 = 13;
pub(super) const NODE_INPUT: u32 = 1;
const NODE_OUTPUT: u32 = 2;
const NODE_NAME: u32 = 3;
const NODE_OP_TYPE: u32 = 4;
const NODE_ATTRIBUTE: u32 = 5;
const NODE_DOMAIN: u32 = 7;
const ATTRIBUTE_NAME: u32 = 1;
const ATTRIBUTE_I: u32 = 3;
const ATTRIBUTE_INTS: u32 = 8;
pub(super) const TENSOR_DIMS: u32 = 1;
pub(super) const TENSOR_DATA_TYPE: u32 = 2;
pub(super) const TENSOR_INT64_DATA: u32 = 7;
pub(super) const TENSOR_NAME: u32 = 8;
pub(super) const TENSOR_RAW_DATA: u32 = 9;
const TENSOR_DATA_LOCATION: u32 = 14;
pub(super) const VALUE_INFO_TYPE: u32 = 2;
pub(super) const TYPE_TENSOR: u32 = 1;
pub(super) const TENSOR_TYPE_SHAPE: u32 = 2;
pub(super) const SHAPE_DIM: u32 = 1;
pub(super) const DIM_VALUE: u32 = 1;
pub(super) const DIM_PARAM: u32 = 2;
const VALUE_INFO_NAME: u32 = 1;

/// TensorProto.DataType values.
pub(super) const FLOAT: i64 = 1;
pub(super) const INT64: i64 = 7;

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Dim {
    Value(i64),
    Param(String),
    Unknown,
}

pub(super) struct Node<'a> {
    /// Index of the node's field among the graph's fields.
    pub field: usize,
    pub name: &'a str,
    pub op_type: &'a str,
    pub domain: &'a str,
    pub inputs: Vec<&'a str>,
    pub outputs: Vec<&'a str>,
    /// Integer and integer-list attributes by name (the only kinds the edits look at).
    pub ints: HashMap<&'a str, Vec<i64>>,
}

pub(super) struct Initializer {
    pub field: usize,
    pub data_type: i64,
    /// The values of an INT64 tensor stored in the file itself; `None` for other types or external data.
    pub int64s: Option<Vec<i64>>,
}

/// A declared tensor: a graph input, output or value_info entry.
pub(super) struct Declared<'a> {
    pub field: usize,
    pub name: &'a str,
    /// `None` when no tensor shape is declared.
    pub shape: Option<Vec<Dim>>,
}

pub(super) struct Graph<'a> {
    pub fields: Vec<Field<'a>>,
    pub nodes: Vec<Node<'a>>,
    pub initializers: HashMap<&'a str, Initializer>,
    pub inputs: Vec<Declared<'a>>,
    pub outputs: Vec<Declared<'a>>,
    pub value_infos: Vec<Declared<'a>>,
}

impl<'a> Graph<'a> {
    pub fn read(graph: &'a [u8]) -> Result<Self, PatchError> {
        let mut g = Graph {
            fields: fields(graph, "GraphProto")?,
            nodes: Vec::new(),
            initializers: HashMap::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            value_infos: Vec::new(),
        };
        for (index, field) in g.fields.iter().enumerate() {
            let Some(payload) = field.bytes() else {
                continue;
            };
            match field.number {
                GRAPH_NODE => g.nodes.push(read_node(index, payload)?),
                GRAPH_INITIALIZER => {
                    let (name, init) = read_initializer(index, payload)?;
                    g.initializers.insert(name, init);
                }
                GRAPH_INPUT => g.inputs.push(read_declared(index, payload)?),
                GRAPH_OUTPUT => g.outputs.push(read_declared(index, payload)?),
                GRAPH_VALUE_INFO => g.value_infos.push(read_declared(index, payload)?),
                _ => {}
            }
        }
        Ok(g)
    }

    /// The declared shape of tensor `name`, from the graph's inputs, outputs or value_info.
    pub fn shape_of(&self, name: &str) -> Option<&[Dim]> {
        self.inputs
            .iter()
            .chain(&self.outputs)
            .chain(&self.value_infos)
            .find(|d| d.name == name)
            .and_then(|d| d.shape.as_deref())
    }

    /// Whether `name` is already taken by a tensor of the graph.
    pub fn has_value(&self, name: &str) -> bool {
        let mut declared = self
            .inputs
            .iter()
            .chain(&self.outputs)
            .chain(&self.value_infos);
        self.initializers.contains_key(name)
            || declared.any(|d| d.name == name)
            || self
                .nodes
                .iter()
                .any(|n| n.inputs.contains(&name) || n.outputs.contains(&name))
    }
}

fn string_of<'a>(field: &Field<'a>, message: &str) -> Result<&'a str, PatchError> {
    field
        .string()
        .ok_or_else(|| PatchError::Unsupported(format!("{message}: a string field is not UTF-8")))
}

fn read_node(index: usize, payload: &[u8]) -> Result<Node<'_>, PatchError> {
    let fs = fields(payload, "NodeProto")?;
    let mut node = Node {
        field: index,
        name: "",
        op_type: "",
        domain: "",
        inputs: Vec::new(),
        outputs: Vec::new(),
        ints: HashMap::new(),
    };
    for f in &fs {
        match f.number {
            NODE_INPUT => node.inputs.push(string_of(f, "NodeProto.input")?),
            NODE_OUTPUT => node.outputs.push(string_of(f, "NodeProto.output")?),
            NODE_NAME => node.name = string_of(f, "NodeProto.name")?,
            NODE_OP_TYPE => node.op_type = string_of(f, "NodeProto.op_type")?,
            NODE_DOMAIN => node.domain = string_of(f, "NodeProto.domain")?,
            NODE_ATTRIBUTE => {
                let attr = fields(f.bytes().unwrap_or_default(), "AttributeProto")?;
                let Some(name) = first(&attr, ATTRIBUTE_NAME) else {
                    continue;
                };
                let mut values = repeated_int64(&attr, ATTRIBUTE_INTS, "AttributeProto")?;
                if let Some(Field {
                    value: Value::Varint(i),
                    ..
                }) = first(&attr, ATTRIBUTE_I)
                {
                    values.push(*i as i64);
                }
                node.ints
                    .insert(string_of(name, "AttributeProto.name")?, values);
            }
            _ => {}
        }
    }
    Ok(node)
}

fn read_initializer(index: usize, payload: &[u8]) -> Result<(&str, Initializer), PatchError> {
    let fs = fields(payload, "TensorProto")?;
    let name = first(&fs, TENSOR_NAME).map_or(Ok(""), |f| string_of(f, "TensorProto.name"))?;
    let data_type = match first(&fs, TENSOR_DATA_TYPE).map(|f| f.value) {
        Some(Value::Varint(t)) => t as i64,
        _ => 0,
    };
    let external = first(&fs, TENSOR_DATA_LOCATION).is_some_and(|f| f.value == Value::Varint(1));
    let int64s = if data_type == INT64 && !external {
        match first(&fs, TENSOR_RAW_DATA).and_then(Field::bytes) {
            Some(raw) => Some(
                raw.chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect(),
            ),
            None => Some(repeated_int64(&fs, TENSOR_INT64_DATA, "TensorProto")?),
        }
    } else {
        None
    };
    let init = Initializer {
        field: index,
        data_type,
        int64s,
    };
    Ok((name, init))
}

/// The payload of the first field numbered `number`, if it is length-delimited.
fn nested<'a>(
    payload: &'a [u8],
    number: u32,
    message: &'static str,
) -> Result<Option<&'a [u8]>, PatchError> {
    Ok(first(&fields(payload, message)?, number).and_then(Field::bytes))
}

fn read_declared(index: usize, payload: &[u8]) -> Result<Declared<'_>, PatchError> {
    let fs = fields(payload, "ValueInfoProto")?;
    let name =
        first(&fs, VALUE_INFO_NAME).map_or(Ok(""), |f| string_of(f, "ValueInfoProto.name"))?;
    let tensor_shape = match first(&fs, VALUE_INFO_TYPE).and_then(Field::bytes) {
        Some(ty) => match nested(ty, TYPE_TENSOR, "TypeProto")? {
            Some(tensor) => nested(tensor, TENSOR_TYPE_SHAPE, "TypeProto.Tensor")?,
            None => None,
        },
        None => None,
    };
    let shape = match tensor_shape {
        Some(shape) => Some(
            fields(shape, "TensorShapeProto")?
                .iter()
                .filter(|f| f.number == SHAPE_DIM)
                .map(|f| read_dim(f.bytes().unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    Ok(Declared {
        field: index,
        name,
        shape,
    })
}

fn read_dim(payload: &[u8]) -> Result<Dim, PatchError> {
    let fs = fields(payload, "TensorShapeProto.Dimension")?;
    // A oneof: the last of its fields on the wire wins.
    let dim = fs
        .iter()
        .rev()
        .find(|f| f.number == DIM_VALUE || f.number == DIM_PARAM);
    Ok(match dim {
        Some(Field {
            number: DIM_VALUE,
            value: Value::Varint(v),
            ..
        }) => Dim::Value(*v as i64),
        Some(
            f @ Field {
                number: DIM_PARAM, ..
            },
        ) => Dim::Param(string_of(f, "Dimension.dim_param")?.to_string()),
        _ => Dim::Unknown,
    })
}
