//! A writer of ONNX models: nodes, initializers and declared inputs and outputs, encoded with the protobuf wire
//! writer of the graph editor. Names come from counters in creation order and every list is written in the order it
//! was built, so one conversion gives the same bytes on every run and machine.

use crate::onnx_patch::wire::{put_bytes_field, put_varint, put_varint_field};

/// The one opset every converted graph imports (the mirror's hand-converted files use it too).
pub(crate) const OPSET: u64 = 17;
/// ONNX IR version 8 is the newest that opset 17 needs, and ONNX Runtime 1.31 reads it.
const IR_VERSION: u64 = 8;
const PRODUCER: &str = "faceserve-models";
/// Bumped whenever a converter changes its output, so a converted file says which converter made it.
const PRODUCER_VERSION: &str = "convert-1";

// Field numbers of onnx.proto.
const MODEL_IR_VERSION: u32 = 1;
const MODEL_PRODUCER_NAME: u32 = 2;
const MODEL_PRODUCER_VERSION: u32 = 3;
const MODEL_GRAPH: u32 = 7;
const MODEL_OPSET_IMPORT: u32 = 8;
const OPSET_VERSION: u32 = 2;
const GRAPH_NODE: u32 = 1;
const GRAPH_NAME: u32 = 2;
const GRAPH_INITIALIZER: u32 = 5;
const GRAPH_INPUT: u32 = 11;
const GRAPH_OUTPUT: u32 = 12;
const NODE_INPUT: u32 = 1;
const NODE_OUTPUT: u32 = 2;
const NODE_OP_TYPE: u32 = 4;
const NODE_ATTRIBUTE: u32 = 5;
const ATTR_NAME: u32 = 1;
const ATTR_I: u32 = 3;
const ATTR_S: u32 = 4;
const ATTR_INTS: u32 = 8;
const ATTR_TYPE: u32 = 20;
const TENSOR_DIMS: u32 = 1;
const TENSOR_DATA_TYPE: u32 = 2;
const TENSOR_NAME: u32 = 8;
const TENSOR_RAW_DATA: u32 = 9;
const VALUE_INFO_NAME: u32 = 1;
const VALUE_INFO_TYPE: u32 = 2;
const TYPE_TENSOR: u32 = 1;
const TENSOR_ELEM_TYPE: u32 = 1;
const TENSOR_SHAPE: u32 = 2;
const SHAPE_DIM: u32 = 1;
const DIM_VALUE: u32 = 1;
const DIM_PARAM: u32 = 2;

/// TensorProto.DataType values.
const FLOAT: u64 = 1;
const INT64: u64 = 7;

/// A node attribute value.
#[derive(Debug, Clone)]
pub(crate) enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Str(&'static str),
}

/// One declared dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dim {
    Fixed(i64),
    Symbol(&'static str),
}

enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

struct Node {
    op: &'static str,
    inputs: Vec<String>,
    outputs: Vec<String>,
    attrs: Vec<(&'static str, Attr)>,
}

struct Declared {
    name: String,
    dims: Vec<Dim>,
}

/// An ONNX graph under construction (default domain, opset [`OPSET`], float tensors).
#[derive(Default)]
pub(crate) struct OnnxGraph {
    nodes: Vec<Node>,
    initializers: Vec<(String, Vec<i64>, Data)>,
    inputs: Vec<Declared>,
    outputs: Vec<Declared>,
    next_name: usize,
}

impl OnnxGraph {
    fn fresh(&mut self, hint: &str) -> String {
        self.next_name += 1;
        format!("{hint}_{}", self.next_name)
    }

    /// Declares a float graph input.
    pub fn input(&mut self, name: &str, dims: Vec<Dim>) -> String {
        self.inputs.push(Declared {
            name: name.to_string(),
            dims,
        });
        name.to_string()
    }

    pub fn constant_f32(&mut self, dims: &[usize], values: Vec<f32>) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), values.len());
        let name = self.fresh("const");
        let dims = dims.iter().map(|&d| d as i64).collect();
        self.initializers
            .push((name.clone(), dims, Data::F32(values)));
        name
    }

    /// A 1-D INT64 constant (shapes, axes, slice bounds).
    pub fn constant_i64(&mut self, values: Vec<i64>) -> String {
        let name = self.fresh("const");
        self.initializers
            .push((name.clone(), vec![values.len() as i64], Data::I64(values)));
        name
    }

    /// Adds a node with one output and returns the output's name.
    pub fn node(
        &mut self,
        op: &'static str,
        inputs: &[&str],
        attrs: Vec<(&'static str, Attr)>,
    ) -> String {
        let output = self.fresh(op);
        self.nodes.push(Node {
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.clone()],
            attrs,
        });
        output
    }

    /// Declares `value` a float graph output called `name`: the node making it is renamed, or, where `value` is
    /// not made by a node or is already declared, an Identity node makes the copy.
    pub fn output(&mut self, value: &str, name: &str, dims: Vec<Dim>) {
        let produced_by_node = self.nodes.iter().position(|n| n.outputs[0] == value);
        let declared = self
            .inputs
            .iter()
            .chain(&self.outputs)
            .any(|d| d.name == value);
        match produced_by_node {
            Some(index) if !declared && value != name => {
                self.nodes[index].outputs[0] = name.to_string();
                for node in &mut self.nodes {
                    for input in &mut node.inputs {
                        if input == value {
                            *input = name.to_string();
                        }
                    }
                }
            }
            _ if value == name => {}
            _ => self.nodes.push(Node {
                op: "Identity",
                inputs: vec![value.to_string()],
                outputs: vec![name.to_string()],
                attrs: Vec::new(),
            }),
        }
        self.outputs.push(Declared {
            name: name.to_string(),
            dims,
        });
    }

    /// The encoded ModelProto.
    pub fn encode(&self, graph_name: &str) -> Vec<u8> {
        let mut graph = Vec::new();
        for node in &self.nodes {
            put_bytes_field(&mut graph, GRAPH_NODE, &encode_node(node));
        }
        put_bytes_field(&mut graph, GRAPH_NAME, graph_name.as_bytes());
        for (name, dims, data) in &self.initializers {
            put_bytes_field(
                &mut graph,
                GRAPH_INITIALIZER,
                &encode_tensor(name, dims, data),
            );
        }
        for input in &self.inputs {
            put_bytes_field(&mut graph, GRAPH_INPUT, &encode_value_info(input));
        }
        for output in &self.outputs {
            put_bytes_field(&mut graph, GRAPH_OUTPUT, &encode_value_info(output));
        }
        let mut model = Vec::with_capacity(graph.len() + 64);
        put_varint_field(&mut model, MODEL_IR_VERSION, IR_VERSION);
        put_bytes_field(&mut model, MODEL_PRODUCER_NAME, PRODUCER.as_bytes());
        put_bytes_field(
            &mut model,
            MODEL_PRODUCER_VERSION,
            PRODUCER_VERSION.as_bytes(),
        );
        put_bytes_field(&mut model, MODEL_GRAPH, &graph);
        let mut opset = Vec::new();
        put_varint_field(&mut opset, OPSET_VERSION, OPSET);
        put_bytes_field(&mut model, MODEL_OPSET_IMPORT, &opset);
        model
    }
}

fn packed_varints(values: &[i64]) -> Vec<u8> {
    let mut packed = Vec::with_capacity(values.len());
    values
        .iter()
        .for_each(|&v| put_varint(&mut packed, v as u64));
    packed
}

fn encode_node(node: &Node) -> Vec<u8> {
    let mut out = Vec::new();
    for input in &node.inputs {
        put_bytes_field(&mut out, NODE_INPUT, input.as_bytes());
    }
    for output in &node.outputs {
        put_bytes_field(&mut out, NODE_OUTPUT, output.as_bytes());
    }
    put_bytes_field(&mut out, NODE_OP_TYPE, node.op.as_bytes());
    for (name, value) in &node.attrs {
        put_bytes_field(&mut out, NODE_ATTRIBUTE, &encode_attr(name, value));
    }
    out
}

fn encode_attr(name: &str, value: &Attr) -> Vec<u8> {
    // AttributeProto.AttributeType values.
    const INT_TYPE: u64 = 2;
    const STRING_TYPE: u64 = 3;
    const INTS_TYPE: u64 = 7;
    let mut out = Vec::new();
    put_bytes_field(&mut out, ATTR_NAME, name.as_bytes());
    let kind = match value {
        Attr::Int(i) => {
            put_varint_field(&mut out, ATTR_I, *i as u64);
            INT_TYPE
        }
        Attr::Str(s) => {
            put_bytes_field(&mut out, ATTR_S, s.as_bytes());
            STRING_TYPE
        }
        Attr::Ints(is) => {
            put_bytes_field(&mut out, ATTR_INTS, &packed_varints(is));
            INTS_TYPE
        }
    };
    put_varint_field(&mut out, ATTR_TYPE, kind);
    out
}

fn encode_tensor(name: &str, dims: &[i64], data: &Data) -> Vec<u8> {
    let mut out = Vec::new();
    if !dims.is_empty() {
        put_bytes_field(&mut out, TENSOR_DIMS, &packed_varints(dims));
    }
    let (data_type, raw): (u64, Vec<u8>) = match data {
        Data::F32(v) => (FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Data::I64(v) => (INT64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    put_varint_field(&mut out, TENSOR_DATA_TYPE, data_type);
    put_bytes_field(&mut out, TENSOR_NAME, name.as_bytes());
    put_bytes_field(&mut out, TENSOR_RAW_DATA, &raw);
    out
}

fn encode_value_info(declared: &Declared) -> Vec<u8> {
    let mut shape = Vec::new();
    for dim in &declared.dims {
        let mut d = Vec::new();
        match dim {
            Dim::Fixed(v) => put_varint_field(&mut d, DIM_VALUE, *v as u64),
            Dim::Symbol(s) => put_bytes_field(&mut d, DIM_PARAM, s.as_bytes()),
        }
        put_bytes_field(&mut shape, SHAPE_DIM, &d);
    }
    let mut tensor = Vec::new();
    put_varint_field(&mut tensor, TENSOR_ELEM_TYPE, FLOAT);
    put_bytes_field(&mut tensor, TENSOR_SHAPE, &shape);
    let mut ty = Vec::new();
    put_bytes_field(&mut ty, TYPE_TENSOR, &tensor);
    let mut out = Vec::new();
    put_bytes_field(&mut out, VALUE_INFO_NAME, declared.name.as_bytes());
    put_bytes_field(&mut out, VALUE_INFO_TYPE, &ty);
    out
}
