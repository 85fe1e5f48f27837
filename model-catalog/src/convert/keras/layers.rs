//! Keras layers as [`NhwcGraph`] operators, with BatchNormalization folded into the convolution before it.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::super::ConvertError;
use super::super::nhwc::{Activation, ConvSpec, NhwcGraph, Operand, Padding, Pool, Value};
use super::super::tensor::Const;
use super::Layer;
use super::hdf5::KerasFile;

/// The BatchNormalization layers folded into the convolution before them: convolution name to BatchNormalization
/// layer, for those that only follow a linear convolution read by nothing else.
pub(super) struct Folds<'l, 'a> {
    by_conv: BTreeMap<&'a str, &'l Layer<'a>>,
}

impl<'l, 'a> Folds<'l, 'a> {
    fn folds(&self, batch_norm: &str) -> bool {
        self.by_conv.values().any(|bn| bn.name == batch_norm)
    }
}

pub(super) fn batch_norms_to_fold<'l, 'a>(layers: &'l [Layer<'a>]) -> Folds<'l, 'a> {
    let readers = |name: &str| layers.iter().filter(|l| l.inbound.contains(&name)).count();
    let by_conv = layers
        .iter()
        .filter(|l| l.class == "BatchNormalization" && l.inbound.len() == 1)
        .filter(|bn| {
            let source = layers.iter().find(|l| l.name == bn.inbound[0]);
            source.is_some_and(|c| {
                matches!(c.class, "Conv2D" | "DepthwiseConv2D")
                    && c.config["activation"].as_str().unwrap_or("linear") == "linear"
                    && readers(c.name) == 1
            })
        })
        .map(|bn| (bn.inbound[0], bn))
        .collect();
    Folds { by_conv }
}

fn pair(config: &Json, key: &str, default: i64) -> [i64; 2] {
    match config[key]
        .as_array()
        .map(|v| v.iter().filter_map(Json::as_i64).collect::<Vec<_>>())
    {
        Some(v) if v.len() == 2 => [v[0], v[1]],
        _ => config[key].as_i64().map_or([default, default], |d| [d, d]),
    }
}

fn padding(config: &Json) -> Result<Padding, ConvertError> {
    match config["padding"].as_str() {
        Some("valid") | None => Ok(Padding::Valid),
        Some("same") => Ok(Padding::Same),
        Some(other) => Err(ConvertError::Unsupported(format!("padding {other}"))),
    }
}

fn check_channels_last(config: &Json) -> Result<(), ConvertError> {
    match config["data_format"].as_str() {
        None | Some("channels_last") => Ok(()),
        Some(other) => Err(ConvertError::Unsupported(format!("data format {other}"))),
    }
}

/// The activation after a layer, and whether it is a softmax (which is not a fused activation).
fn activation(config: &Json) -> Result<(Activation, bool), ConvertError> {
    Ok(match config["activation"].as_str().unwrap_or("linear") {
        "linear" => (Activation::Linear, false),
        "relu" => (Activation::Relu, false),
        "relu6" => (Activation::Relu6, false),
        "sigmoid" => (Activation::Sigmoid, false),
        "tanh" => (Activation::Tanh, false),
        "softmax" => (Activation::Linear, true),
        other => return Err(ConvertError::Unsupported(format!("activation {other}"))),
    })
}

fn finish(g: &mut NhwcGraph, y: Value, config: &Json) -> Result<Value, ConvertError> {
    let (fused, softmax) = activation(config)?;
    let y = g.activation(y, fused)?;
    if softmax { g.softmax(&y, -1) } else { Ok(y) }
}

/// BatchNormalization as a per-channel `x * scale + shift`.
fn batch_norm_affine(
    layer: &Layer<'_>,
    file: &KerasFile,
) -> Result<(Vec<f32>, Vec<f32>), ConvertError> {
    let mut weights = file.weights(layer.name)?.into_iter();
    let config = layer.config;
    let mut next = |present: bool| if present { weights.next() } else { None };
    let gamma = next(config["scale"].as_bool().unwrap_or(true));
    let beta = next(config["center"].as_bool().unwrap_or(true));
    let (Some(mean), Some(variance)) = (weights.next(), weights.next()) else {
        return Err(ConvertError::Malformed(
            "BatchNormalization without moving statistics".into(),
        ));
    };
    let epsilon = config["epsilon"].as_f64().unwrap_or(1e-3) as f32;
    let scale: Vec<f32> = (0..mean.data.len())
        .map(|c| gamma.as_ref().map_or(1.0, |g| g.data[c]) / (variance.data[c] + epsilon).sqrt())
        .collect();
    let shift = (0..mean.data.len())
        .map(|c| beta.as_ref().map_or(0.0, |b| b.data[c]) - mean.data[c] * scale[c])
        .collect();
    Ok((scale, shift))
}

pub(super) fn convert_layer(
    layer: &Layer<'_>,
    inputs: &[Value],
    file: &KerasFile,
    folded: &Folds<'_, '_>,
    g: &mut NhwcGraph,
) -> Result<Value, ConvertError> {
    let config = layer.config;
    let first = || {
        inputs
            .first()
            .ok_or_else(|| ConvertError::Malformed("a layer without input".into()))
    };
    Ok(match layer.class {
        "InputLayer" => {
            let shape: Vec<i64> = config["batch_input_shape"]
                .as_array()
                .map(|dims| dims.iter().map(|d| d.as_i64().unwrap_or(-1)).collect())
                .ok_or_else(|| {
                    ConvertError::Malformed("InputLayer without batch_input_shape".into())
                })?;
            g.input(layer.name, &shape)?
        }
        "Conv2D" | "DepthwiseConv2D" => convolution(layer, first()?, file, folded, g)?,
        "BatchNormalization" if folded.folds(layer.name) => first()?.clone(),
        "BatchNormalization" => {
            let (scale, shift) = batch_norm_affine(layer, file)?;
            let n = scale.len();
            let scaled = g.binary(
                "Mul",
                Operand::Value(first()?),
                Operand::Const(&Const::new(vec![n], scale)?),
            )?;
            g.binary(
                "Add",
                Operand::Value(&scaled),
                Operand::Const(&Const::new(vec![n], shift)?),
            )?
        }
        "ReLU" => {
            let slope = config["negative_slope"].as_f64().unwrap_or(0.0);
            let threshold = config["threshold"].as_f64().unwrap_or(0.0);
            if slope != 0.0 || threshold != 0.0 {
                return Err(ConvertError::Unsupported(
                    "ReLU with a slope or threshold".into(),
                ));
            }
            match config["max_value"].as_f64() {
                Some(max) => g.clip(first()?, 0.0, max as f32),
                None => g.unary("Relu", first()?),
            }
        }
        "Activation" => finish(g, first()?.clone(), config)?,
        "Add" => {
            let mut sum = first()?.clone();
            for x in &inputs[1..] {
                sum = g.binary("Add", Operand::Value(&sum), Operand::Value(x))?;
            }
            sum
        }
        "ZeroPadding2D" => {
            check_channels_last(config)?;
            let p: Vec<[i64; 2]> = config["padding"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .map(|r| [r[0].as_i64().unwrap_or(0), r[1].as_i64().unwrap_or(0)])
                        .collect()
                })
                .unwrap_or_default();
            let [top_bottom, left_right] = p[..] else {
                return Err(ConvertError::Unsupported(format!(
                    "ZeroPadding2D padding {}",
                    config["padding"]
                )));
            };
            g.pad(first()?, &[[0, 0], top_bottom, left_right, [0, 0]])?
        }
        "AveragePooling2D" | "MaxPooling2D" => {
            check_channels_last(config)?;
            let kind = if layer.class == "MaxPooling2D" {
                Pool::Max
            } else {
                Pool::Average
            };
            let window = pair(config, "pool_size", 2);
            let strides = if config["strides"].is_null() {
                window
            } else {
                pair(config, "strides", 1)
            };
            g.pool(kind, first()?, window, strides, padding(config)?)?
        }
        "GlobalAveragePooling2D" => {
            g.reduce(super::super::nhwc::Reduce::Mean, first()?, &[1, 2], false)?
        }
        "Flatten" => {
            let x = first()?;
            let per_sample: i64 = x.shape[1..].iter().product();
            g.reshape(x, &[-1, per_sample])?
        }
        "Dropout" => first()?.clone(),
        "Dense" => {
            let weights = file.weights(layer.name)?;
            let kernel = weights
                .first()
                .ok_or_else(|| ConvertError::Malformed("Dense without kernel".into()))?;
            let bias = weights.get(1).map(|b| b.data.as_slice());
            let y = g.matmul(first()?, kernel, bias)?;
            finish(g, y, config)?
        }
        other => return Err(ConvertError::Unsupported(format!("Keras layer {other}"))),
    })
}

fn convolution(
    layer: &Layer<'_>,
    x: &Value,
    file: &KerasFile,
    folded: &Folds<'_, '_>,
    g: &mut NhwcGraph,
) -> Result<Value, ConvertError> {
    let config = layer.config;
    check_channels_last(config)?;
    let weights = file.weights(layer.name)?;
    let kernel = weights
        .first()
        .ok_or_else(|| ConvertError::Malformed("a convolution without kernel".into()))?;
    let depthwise = layer.class == "DepthwiseConv2D";
    let (mut kernel, groups) = if depthwise {
        (kernel.depthwise_to_oihw(), kernel.shape[2])
    } else {
        (kernel.hwio_to_oihw(), 1)
    };
    let out_channels = kernel.shape[0];
    let mut bias: Option<Vec<f32>> = weights.get(1).map(|b| b.data.clone());
    // Fold the BatchNormalization that reads this convolution: scale each output channel's kernel and bias.
    if let Some(bn) = folded.by_conv.get(layer.name) {
        let (scale, shift) = batch_norm_affine(bn, file)?;
        let per_channel = kernel.data.len() / out_channels;
        for (o, chunk) in kernel.data.chunks_mut(per_channel).enumerate() {
            chunk.iter_mut().for_each(|w| *w *= scale[o]);
        }
        let old = bias.unwrap_or_else(|| vec![0.0; out_channels]);
        bias = Some(
            (0..out_channels)
                .map(|o| old[o] * scale[o] + shift[o])
                .collect(),
        );
    }
    let spec = ConvSpec {
        strides: pair(config, "strides", 1),
        dilations: pair(config, "dilation_rate", 1),
        padding: padding(config)?,
    };
    let y = g.conv(
        x,
        &kernel,
        bias.as_deref(),
        groups,
        &spec,
        Activation::Linear,
    )?;
    finish(g, y, config)
}
