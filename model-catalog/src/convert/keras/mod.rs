//! Keras models saved as HDF5 (functional or sequential `model_config`, `model_weights`) to ONNX. Layers are
//! converted in the config's order; a BatchNormalization that only follows a convolution is folded into that
//! convolution's kernel and bias. The graph input and output are named after the input and output layers.

mod hdf5;
mod layers;

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::ConvertError;
use super::nhwc::{NhwcGraph, Value};

/// One layer of the config: its class, config and the layers it reads.
struct Layer<'a> {
    name: &'a str,
    class: &'a str,
    config: &'a Json,
    inbound: Vec<&'a str>,
}

pub(super) fn convert(bytes: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let file = hdf5::KerasFile::read(bytes)?;
    let model = file.model_config()?;
    let layers = read_layers(&model)?;
    let mut graph = NhwcGraph::new();
    let mut values: BTreeMap<&str, Value> = BTreeMap::new();
    let folded = layers::batch_norms_to_fold(&layers);
    for layer in &layers {
        let inputs = layer
            .inbound
            .iter()
            .map(|name| {
                values.get(name).cloned().ok_or_else(|| {
                    ConvertError::Malformed(format!(
                        "{} reads {name} before it is made",
                        layer.name
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let y = layers::convert_layer(layer, &inputs, &file, &folded, &mut graph)
            .map_err(|e| e.context(&format!("layer {} ({})", layer.name, layer.class)))?;
        values.insert(layer.name, y);
    }
    let outputs = output_layers(&model, &layers);
    for name in outputs {
        let value = values.get(name).ok_or_else(|| {
            ConvertError::Malformed(format!("output layer {name} is not in the model"))
        })?;
        graph.output(value, name)?;
    }
    Ok(graph.encode("keras"))
}

fn read_layers(model: &Json) -> Result<Vec<Layer<'_>>, ConvertError> {
    let sequential = model["class_name"] == "Sequential";
    let list = model["config"]["layers"]
        .as_array()
        .or_else(|| model["config"].as_array())
        .ok_or_else(|| ConvertError::Malformed("model_config has no layers".into()))?;
    let mut layers: Vec<Layer<'_>> = Vec::with_capacity(list.len());
    for entry in list {
        let config = &entry["config"];
        let name = entry["name"]
            .as_str()
            .or_else(|| config["name"].as_str())
            .unwrap_or("");
        let class = entry["class_name"].as_str().unwrap_or("");
        let inbound = if sequential {
            layers.last().map(|l| vec![l.name]).unwrap_or_default()
        } else {
            // [[["name", node_index, tensor_index, {}], ...]]: the first (only) call of the layer.
            entry["inbound_nodes"][0]
                .as_array()
                .map(|calls| calls.iter().filter_map(|c| c[0].as_str()).collect())
                .unwrap_or_default()
        };
        layers.push(Layer {
            name,
            class,
            config,
            inbound,
        });
    }
    Ok(layers)
}

fn output_layers<'a>(model: &'a Json, layers: &[Layer<'a>]) -> Vec<&'a str> {
    match model["config"]["output_layers"].as_array() {
        Some(outputs) => outputs.iter().filter_map(|o| o[0].as_str()).collect(),
        None => layers.last().map(|l| vec![l.name]).unwrap_or_default(),
    }
}
