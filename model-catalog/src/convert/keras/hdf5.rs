//! What the Keras converter reads from an HDF5 file, through the pure-Rust `hdf5-pure` reader: the
//! `model_config` JSON attribute and each layer's weights under `model_weights/<layer>/`, in the order of the
//! layer's `weight_names` attribute.

use hdf5_pure::{AttrValue, File};

use super::super::ConvertError;
use super::super::tensor::Const;

fn h5_error(what: &str) -> impl FnOnce(hdf5_pure::Error) -> ConvertError + '_ {
    move |e| ConvertError::Malformed(format!("HDF5 {what}: {e}"))
}

pub(super) struct KerasFile {
    file: File,
}

fn strings(value: AttrValue) -> Option<Vec<String>> {
    match value {
        AttrValue::String(s)
        | AttrValue::AsciiString(s)
        | AttrValue::VarLenString(s)
        | AttrValue::VarLenAsciiString(s) => Some(vec![s]),
        AttrValue::StringSized { value, .. } | AttrValue::AsciiStringSized { value, .. } => {
            Some(vec![value])
        }
        AttrValue::StringArray(v)
        | AttrValue::AsciiStringArray(v)
        | AttrValue::VarLenStringArray(v)
        | AttrValue::VarLenAsciiCharArray(v)
        | AttrValue::VarLenAsciiStringArray(v) => Some(v),
        AttrValue::StringArraySized { values, .. }
        | AttrValue::AsciiStringArraySized { values, .. } => Some(values),
        _ => None,
    }
}

impl KerasFile {
    pub fn read(bytes: &[u8]) -> Result<Self, ConvertError> {
        Ok(Self {
            file: File::from_bytes(bytes.to_vec()).map_err(h5_error("file"))?,
        })
    }

    /// The model's architecture, the JSON of the root's `model_config` attribute.
    pub fn model_config(&self) -> Result<serde_json::Value, ConvertError> {
        let mut attrs = self
            .file
            .root()
            .attrs()
            .map_err(h5_error("root attributes"))?;
        let config = attrs
            .remove("model_config")
            .and_then(strings)
            .and_then(|mut s| s.pop())
            .ok_or_else(|| {
                ConvertError::Malformed("no model_config attribute (not a Keras HDF5 model)".into())
            })?;
        serde_json::from_str(&config)
            .map_err(|e| ConvertError::Malformed(format!("model_config: {e}")))
    }

    /// The weights of layer `layer` in Keras's order (e.g. kernel, bias; gamma, beta, mean, variance).
    pub fn weights(&self, layer: &str) -> Result<Vec<Const>, ConvertError> {
        let group = self
            .file
            .group(&format!("model_weights/{layer}"))
            .map_err(h5_error(layer))?;
        let names = group
            .attrs()
            .map_err(h5_error(layer))?
            .remove("weight_names")
            .and_then(strings)
            .unwrap_or_default();
        names
            .iter()
            .map(|name| {
                let dataset = group.dataset(name).map_err(h5_error(name))?;
                let shape = dataset
                    .shape()
                    .map_err(h5_error(name))?
                    .iter()
                    .map(|&d| d as usize)
                    .collect();
                Const::new(shape, dataset.read_f32().map_err(h5_error(name))?)
            })
            .collect()
    }
}
