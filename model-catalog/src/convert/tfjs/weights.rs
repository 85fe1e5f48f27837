//! TF.js weights: the `weightsManifest` groups, each the concatenation of its files, decoded to float or integer
//! constants. Quantised weights (uint8, uint16: `q * scale + min`; float16) are decoded to float32 here.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::super::tensor::{Const, f16_to_f32, f32_from_le, i32_from_le};
use super::super::{ConvertError, OriginalFile};

#[derive(Debug, Deserialize)]
pub(super) struct WeightGroup {
    paths: Vec<String>,
    weights: Vec<WeightSpec>,
}

#[derive(Debug, Deserialize)]
struct WeightSpec {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Debug, Deserialize)]
struct Quantization {
    dtype: String,
    scale: Option<f32>,
    min: Option<f32>,
}

/// A decoded weight.
#[derive(Debug, Clone)]
pub(super) enum Weight {
    Float(Const),
    Int(Vec<i64>),
}

/// Every weight of the model by name.
pub(super) fn decode(
    groups: &[WeightGroup],
    files: &[OriginalFile<'_>],
) -> Result<BTreeMap<String, Weight>, ConvertError> {
    let mut out = BTreeMap::new();
    for group in groups {
        let mut data = Vec::new();
        for path in &group.paths {
            let base = path.rsplit('/').next().unwrap_or(path);
            let file = files
                .iter()
                .find(|f| f.name.rsplit('/').next() == Some(base))
                .ok_or_else(|| {
                    ConvertError::Malformed(format!("weight file {path} was not supplied"))
                })?;
            data.extend_from_slice(file.bytes);
        }
        let mut offset = 0;
        for spec in &group.weights {
            let count: usize = spec.shape.iter().product();
            let (bytes_per_value, quantised) = match (&spec.quantization, spec.dtype.as_str()) {
                (Some(q), _) => (quantised_width(&q.dtype)?, true),
                (None, "float32" | "int32") => (4, false),
                (None, other) => {
                    return Err(ConvertError::Unsupported(format!(
                        "weight {} of dtype {other}",
                        spec.name
                    )));
                }
            };
            let end = offset + count * bytes_per_value;
            let bytes = data.get(offset..end).ok_or_else(|| {
                ConvertError::Malformed(format!(
                    "weight {} is past the end of its files",
                    spec.name
                ))
            })?;
            offset = end;
            let weight = if quantised {
                let values = dequantise(spec.quantization.as_ref().expect("quantised"), bytes)?;
                if spec.dtype == "int32" {
                    let values = values.iter().map(|&v| v.round() as i64).collect();
                    Weight::Int(values)
                } else {
                    Weight::Float(Const::new(spec.shape.clone(), values)?)
                }
            } else if spec.dtype == "float32" {
                Weight::Float(Const::new(spec.shape.clone(), f32_from_le(bytes))?)
            } else {
                let values = i32_from_le(bytes).into_iter().map(i64::from).collect();
                Weight::Int(values)
            };
            out.insert(spec.name.clone(), weight);
        }
    }
    Ok(out)
}

fn quantised_width(dtype: &str) -> Result<usize, ConvertError> {
    match dtype {
        "uint8" => Ok(1),
        "uint16" | "float16" => Ok(2),
        other => Err(ConvertError::Unsupported(format!(
            "weights quantised as {other}"
        ))),
    }
}

fn dequantise(q: &Quantization, bytes: &[u8]) -> Result<Vec<f32>, ConvertError> {
    let affine = |values: Vec<f32>| -> Result<Vec<f32>, ConvertError> {
        let (Some(scale), Some(min)) = (q.scale, q.min) else {
            return Err(ConvertError::Malformed(format!(
                "{} quantisation without scale and min",
                q.dtype
            )));
        };
        Ok(values.into_iter().map(|v| v * scale + min).collect())
    };
    match q.dtype.as_str() {
        "float16" => Ok(f16_to_f32(bytes)),
        "uint8" => affine(bytes.iter().map(|&b| f32::from(b)).collect()),
        "uint16" => affine(
            bytes
                .chunks_exact(2)
                .map(|b| f32::from(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        ),
        other => Err(ConvertError::Unsupported(format!(
            "weights quantised as {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint8_weights_dequantise_with_scale_and_min() {
        let q = Quantization {
            dtype: "uint8".into(),
            scale: Some(0.5),
            min: Some(-1.0),
        };
        assert_eq!(
            dequantise(&q, &[0, 2, 255]).unwrap(),
            vec![-1.0, 0.0, 126.5]
        );
    }
}
