//! TF.js graph models (`model.json` with `format: graph-model`, and its weight files) to ONNX. Nodes are converted
//! in dependency order; graph inputs are the Placeholders and outputs those the signature names (else the nodes
//! nothing reads), called by the signature's keys, else by their tensor names (`node:0`).

mod attrs;
mod ops;
mod weights;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::nhwc::{NhwcGraph, Value};
use super::{ConvertError, OriginalFile};
use weights::{Weight, WeightGroup};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelJson {
    format: Option<String>,
    model_topology: Topology,
    weights_manifest: Vec<WeightGroup>,
    signature: Option<Signature>,
}

#[derive(Debug, Deserialize)]
struct Topology {
    node: Vec<NodeDef>,
}

#[derive(Debug, Deserialize)]
struct NodeDef {
    name: String,
    op: String,
    #[serde(default)]
    input: Vec<String>,
    #[serde(default)]
    attr: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Signature {
    #[serde(default, deserialize_with = "in_file_order")]
    inputs: Vec<(String, SignatureTensor)>,
    #[serde(default, deserialize_with = "in_file_order")]
    outputs: Vec<(String, SignatureTensor)>,
}

/// A JSON object's entries in the file's order (serde_json's maps sort them).
fn in_file_order<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, SignatureTensor)>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<(String, SignatureTensor)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of signature tensors")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Entries)
}

/// What the node converters need besides the node: the weights and the ONNX names of the graph inputs.
struct Context<'a> {
    pub weights: &'a BTreeMap<String, Weight>,
    pub input_names: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct SignatureTensor {
    name: String,
}

/// What a converted node gave: a graph value, or a constant kept for the operators that read it.
#[derive(Debug, Clone)]
enum Converted {
    Value(Value),
    Weight(Weight),
}

pub(super) fn convert(
    model_json: &[u8],
    weight_files: &[OriginalFile<'_>],
) -> Result<Vec<u8>, ConvertError> {
    let model: ModelJson = serde_json::from_slice(model_json)
        .map_err(|e| ConvertError::Malformed(format!("model.json: {e}")))?;
    if model.format.as_deref() != Some("graph-model") {
        return Err(ConvertError::Unsupported(format!(
            "TF.js format {:?} (graph-model expected)",
            model.format
        )));
    }
    let weights = weights::decode(&model.weights_manifest, weight_files)?;
    let nodes = &model.model_topology.node;
    let by_name: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let input_names = match &model.signature {
        Some(signature) if !signature.inputs.is_empty() => signature
            .inputs
            .iter()
            .map(|(key, t)| (node_of(&t.name).to_string(), key.clone()))
            .collect(),
        _ => nodes
            .iter()
            .filter(|n| n.op == "Placeholder")
            .map(|n| (n.name.clone(), format!("{}:0", n.name)))
            .collect(),
    };
    let context = Context {
        weights: &weights,
        input_names,
    };
    let mut graph = NhwcGraph::new();
    let mut done: Vec<Option<Converted>> = vec![None; nodes.len()];
    for index in 0..nodes.len() {
        convert_with_inputs(index, nodes, &by_name, &context, &mut graph, &mut done)?;
    }
    let outputs = graph_outputs(&model, nodes)?;
    for (tensor, name) in &outputs {
        let node = node_of(tensor);
        let index = by_name
            .get(node)
            .ok_or_else(|| ConvertError::Malformed(format!("output {tensor} names no node")))?;
        match &done[*index] {
            Some(Converted::Value(v)) => graph.output(v, name)?,
            _ => {
                return Err(ConvertError::Unsupported(format!(
                    "output {tensor} is a constant"
                )));
            }
        }
    }
    Ok(graph.encode("tfjs_graph"))
}

/// The node's name in an input reference (`name`, `name:1`, `^control`).
fn node_of(input: &str) -> &str {
    let input = input.strip_prefix('^').unwrap_or(input);
    input.split(':').next().unwrap_or(input)
}

/// Converts node `index` after the nodes it reads (graph-model files are mostly, not always, in that order).
fn convert_with_inputs(
    index: usize,
    nodes: &[NodeDef],
    by_name: &BTreeMap<&str, usize>,
    context: &Context<'_>,
    graph: &mut NhwcGraph,
    done: &mut [Option<Converted>],
) -> Result<(), ConvertError> {
    // An explicit stack instead of recursion: deep networks would otherwise nest hundreds of calls.
    let mut stack = vec![(index, false)];
    while let Some((at, inputs_ready)) = stack.pop() {
        if done[at].is_some() {
            continue;
        }
        let node = &nodes[at];
        if !inputs_ready {
            stack.push((at, true));
            for input in node.input.iter().filter(|i| !i.starts_with('^')).rev() {
                let source = by_name.get(node_of(input)).ok_or_else(|| {
                    ConvertError::Malformed(format!("{} reads unknown {input}", node.name))
                })?;
                if done[*source].is_none() {
                    if stack.iter().any(|&(s, ready)| s == *source && ready) {
                        return Err(ConvertError::Malformed(format!(
                            "a cycle through {}",
                            node.name
                        )));
                    }
                    stack.push((*source, false));
                }
            }
            continue;
        }
        let inputs: Vec<Converted> = node
            .input
            .iter()
            .filter(|i| !i.starts_with('^'))
            .map(|i| {
                done[by_name[node_of(i)]]
                    .clone()
                    .expect("inputs converted first")
            })
            .collect();
        done[at] = Some(ops::convert_node(node, &inputs, context, graph)?);
    }
    Ok(())
}

/// (tensor, ONNX name) of every graph output.
fn graph_outputs(
    model: &ModelJson,
    nodes: &[NodeDef],
) -> Result<Vec<(String, String)>, ConvertError> {
    if let Some(signature) = model.signature.as_ref().filter(|s| !s.outputs.is_empty()) {
        return Ok(signature
            .outputs
            .iter()
            .map(|(key, t)| (t.name.clone(), key.clone()))
            .collect());
    }
    let read: std::collections::BTreeSet<&str> = nodes
        .iter()
        .flat_map(|n| n.input.iter().map(|i| node_of(i)))
        .collect();
    Ok(nodes
        .iter()
        .filter(|n| n.op != "Const" && n.op != "Placeholder" && !read.contains(n.name.as_str()))
        .map(|n| (n.name.clone(), format!("{}:0", n.name)))
        .collect())
}
