//! Deciding the dynamic-batch edits of a graph that fixes batch = 1, and refusing graphs where they would not be
//! enough: every operator must be one known to treat dim 0 as the batch, so that replacing the fixed 1 by a symbol
//! cannot change any image's result.

use std::collections::{BTreeSet, HashSet};

use super::PatchError;
use super::graph::{Dim, Graph, INT64, Node};

/// The name the edit gives the batch dimension.
pub(super) const BATCH: &str = "batch";

/// Operators that compute each batch item on its own and take no shape constants (elementwise, convolution,
/// pooling, normalisation). Broadcasting against a constant is safe: a graph computing batch 1 can only broadcast
/// constants whose dim 0 is 1 or absent.
const PER_SAMPLE_OPS: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Clip",
    "Conv",
    "ConvTranspose",
    "Div",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LeakyRelu",
    "MaxPool",
    "Mul",
    "PRelu",
    "Relu",
    "Sigmoid",
    "Sub",
    "Tanh",
];

/// A Resize that takes constant output `sizes` (batch 1 included) and will take the equivalent `scales` instead.
pub(super) struct ResizeEdit {
    pub node_field: usize,
    pub scales_name: String,
    pub scales: Vec<f32>,
}

/// The edits, by index of the graph field they touch. Empty means the graph is written back unchanged.
#[derive(Default)]
pub(super) struct Plan {
    /// Inputs, outputs and value_info entries whose dim 0 becomes the symbol [`BATCH`].
    pub batch_dims: Vec<usize>,
    /// INT64 Reshape shape initializers whose first value goes from 1 to 0 ("copy the input's dim 0").
    pub reshape_shapes: BTreeSet<usize>,
    pub resizes: Vec<ResizeEdit>,
    /// Resize `sizes` initializers no node uses after the edit (ONNX Runtime warns about unused initializers).
    pub dropped_initializers: BTreeSet<usize>,
    pub summary: super::DynamicBatchSummary,
}

fn unsupported(message: String) -> PatchError {
    PatchError::Unsupported(message)
}

fn describe(node: &Node<'_>) -> String {
    if node.name.is_empty() {
        format!("{} node", node.op_type)
    } else {
        format!("{} node {:?}", node.op_type, node.name)
    }
}

pub(super) fn plan_dynamic_batch(graph: &Graph<'_>) -> Result<Plan, PatchError> {
    let mut plan = Plan::default();
    let fed: Vec<_> = graph
        .inputs
        .iter()
        .filter(|i| !graph.initializers.contains_key(i.name))
        .collect();
    if fed.is_empty() {
        return Err(unsupported("the graph has no input".into()));
    }
    for input in fed {
        match input.shape.as_deref().and_then(<[Dim]>::first) {
            Some(Dim::Value(1)) => plan.batch_dims.push(input.field),
            other => {
                return Err(unsupported(format!(
                    "input {:?} has dim 0 {other:?}, not a fixed batch of 1",
                    input.name
                )));
            }
        }
    }
    plan.summary.inputs = plan.batch_dims.len();

    let mut resized_sizes = HashSet::new();
    for node in &graph.nodes {
        if !matches!(node.domain, "" | "ai.onnx") {
            return Err(unsupported(format!(
                "{} of domain {:?} is not known to keep the batch in dim 0",
                describe(node),
                node.domain
            )));
        }
        match node.op_type {
            op if PER_SAMPLE_OPS.contains(&op) => {}
            "Transpose" => {
                let perm = node.ints.get("perm");
                if perm.and_then(|p| p.first()) != Some(&0) {
                    return Err(unsupported(format!(
                        "{} moves dim 0 (perm {perm:?})",
                        describe(node)
                    )));
                }
            }
            "Reshape" => plan_reshape(graph, node, &mut plan)?,
            "Resize" => {
                if let Some(edit) = plan_resize(graph, node, plan.resizes.len())? {
                    resized_sizes.insert(node.inputs[3]);
                    plan.resizes.push(edit);
                }
            }
            _ => {
                return Err(unsupported(format!(
                    "{} is not known to keep the batch in dim 0 (supported: Reshape and Resize with constant \
                     shapes, Transpose keeping dim 0, {})",
                    describe(node),
                    PER_SAMPLE_OPS.join(", ")
                )));
            }
        }
    }
    plan.summary.reshape_shapes = plan.reshape_shapes.len();
    plan.summary.resizes = plan.resizes.len();
    check_shape_constants_only_feed_reshapes(graph, &plan)?;
    for sizes in resized_sizes {
        let still_used = graph.nodes.iter().any(|n| {
            let rewritten = n.op_type == "Resize" && n.inputs.get(3) == Some(&sizes);
            !rewritten && n.inputs.contains(&sizes)
        });
        // A graph input or output of the same name (older IR versions list initializers as inputs) keeps it.
        let declared = graph
            .inputs
            .iter()
            .chain(&graph.outputs)
            .any(|d| d.name == sizes);
        if !still_used && !declared {
            plan.dropped_initializers
                .insert(graph.initializers[sizes].field);
        }
    }

    for output in &graph.outputs {
        match output.shape.as_deref().and_then(<[Dim]>::first) {
            Some(Dim::Value(1)) => plan.batch_dims.push(output.field),
            Some(Dim::Param(_) | Dim::Unknown) | None => {}
            Some(other) => {
                return Err(unsupported(format!(
                    "output {:?} has dim 0 {other:?}, not the batch",
                    output.name
                )));
            }
        }
    }
    plan.summary.outputs = plan.batch_dims.len() - plan.summary.inputs;
    // Every tensor of a graph of these operators has the batch in dim 0. A symbol where a declared size would be
    // wrong only loosens the declaration; a stale 1 would contradict ONNX Runtime's inferred shapes.
    for info in &graph.value_infos {
        if info.shape.as_deref().and_then(<[Dim]>::first) == Some(&Dim::Value(1)) {
            plan.batch_dims.push(info.field);
            plan.summary.value_infos += 1;
        }
    }
    Ok(plan)
}

fn plan_reshape(graph: &Graph<'_>, node: &Node<'_>, plan: &mut Plan) -> Result<(), PatchError> {
    let shape_name = node.inputs.get(1).copied().unwrap_or_default();
    let shape = graph
        .initializers
        .get(shape_name)
        .filter(|i| i.data_type == INT64)
        .and_then(|i| i.int64s.as_ref().map(|v| (i, v)));
    let Some((init, values)) = shape else {
        return Err(unsupported(format!(
            "{}: shape {shape_name:?} is not a constant INT64 initializer",
            describe(node)
        )));
    };
    if node
        .ints
        .get("allowzero")
        .is_some_and(|v| v.first() == Some(&1))
    {
        return Err(unsupported(format!(
            "{} has allowzero = 1, so 0 cannot mean \"copy the batch\"",
            describe(node)
        )));
    }
    match values.first() {
        Some(1) => {
            plan.reshape_shapes.insert(init.field);
        }
        // Already batch-agnostic: 0 copies dim 0, -1 infers it.
        Some(0 | -1) => {}
        first => {
            return Err(unsupported(format!(
                "{}: shape {shape_name:?} starts with {first:?}, not the batch",
                describe(node)
            )));
        }
    }
    Ok(())
}

/// A Resize whose `sizes` is a constant gets `scales` = sizes / input size instead (opset 11 and later take
/// exactly one of them); one whose `scales` is already set needs nothing.
fn plan_resize(
    graph: &Graph<'_>,
    node: &Node<'_>,
    ordinal: usize,
) -> Result<Option<ResizeEdit>, PatchError> {
    let sizes_name = match node.inputs.get(3) {
        Some(name) if !name.is_empty() => *name,
        _ => return Ok(None),
    };
    let sizes = graph
        .initializers
        .get(sizes_name)
        .filter(|i| i.data_type == INT64)
        .and_then(|i| i.int64s.as_deref())
        .ok_or_else(|| {
            unsupported(format!(
                "{}: sizes {sizes_name:?} is not a constant INT64 initializer",
                describe(node)
            ))
        })?;
    let input = node.inputs[0];
    let input_dims: Option<Vec<i64>> = graph.shape_of(input).and_then(|dims| {
        dims.iter()
            .map(|d| match d {
                Dim::Value(v) if *v > 0 => Some(*v),
                _ => None,
            })
            .collect()
    });
    let Some(input_dims) = input_dims.filter(|d| d.len() == sizes.len()) else {
        return Err(unsupported(format!(
            "{}: the shape of its input {input:?} is not declared in full, so sizes {sizes:?} cannot become scales",
            describe(node)
        )));
    };
    let scales: Vec<f32> = sizes
        .iter()
        .zip(&input_dims)
        .map(|(&out, &inp)| out as f32 / inp as f32)
        .collect();
    // Resize computes the output size as floor(input * scale): the scales must give back exactly these sizes.
    let exact = scales
        .iter()
        .zip(&input_dims)
        .zip(sizes)
        .all(|((&s, &inp), &out)| (inp as f32 * s).floor() as i64 == out);
    if scales.first() != Some(&1.0) || !exact {
        return Err(unsupported(format!(
            "{}: sizes {sizes:?} from input {input_dims:?} is not an exact per-sample scaling",
            describe(node)
        )));
    }
    let scales_name = (0..)
        .map(|n| format!("faceserve_batch_scales_{ordinal}_{n}"))
        .find(|name| !graph.has_value(name))
        .expect("an unused name");
    Ok(Some(ResizeEdit {
        node_field: node.field,
        scales_name,
        scales,
    }))
}

/// A shape initializer edited for a Reshape must not also feed another operator, which would read the new 0.
fn check_shape_constants_only_feed_reshapes(
    graph: &Graph<'_>,
    plan: &Plan,
) -> Result<(), PatchError> {
    for node in &graph.nodes {
        for (slot, input) in node.inputs.iter().enumerate() {
            let edited = graph
                .initializers
                .get(input)
                .is_some_and(|i| plan.reshape_shapes.contains(&i.field));
            if edited && (node.op_type != "Reshape" || slot != 1) {
                return Err(unsupported(format!(
                    "shape constant {input:?} of a Reshape also feeds input {slot} of {}",
                    describe(node)
                )));
            }
        }
    }
    Ok(())
}
