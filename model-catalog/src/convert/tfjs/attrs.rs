//! Node attributes as TF.js writes them: TensorFlow's AttrValue in JSON (int64 as strings, strings in base64).

use base64::Engine;

use super::super::ConvertError;
use super::NodeDef;

impl NodeDef {
    fn attr(&self, key: &str) -> Option<&serde_json::Value> {
        self.attr.get(key)
    }

    fn missing(&self, key: &str) -> ConvertError {
        ConvertError::Malformed(format!(
            "{} ({}) has no attribute {key}",
            self.name, self.op
        ))
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.attr(key).and_then(|v| json_int(&v["i"]))
    }

    pub fn bool(&self, key: &str) -> bool {
        self.attr(key)
            .and_then(|v| v["b"].as_bool())
            .unwrap_or(false)
    }

    pub fn string(&self, key: &str) -> Result<String, ConvertError> {
        let encoded = self
            .attr(key)
            .and_then(|v| v["s"].as_str())
            .ok_or_else(|| self.missing(key))?;
        decode_base64(encoded)
    }

    pub fn ints(&self, key: &str) -> Result<Vec<i64>, ConvertError> {
        let list = self.attr(key).ok_or_else(|| self.missing(key))?;
        Ok(list["list"]["i"]
            .as_array()
            .map(|values| values.iter().filter_map(json_int).collect())
            .unwrap_or_default())
    }

    pub fn strings(&self, key: &str) -> Result<Vec<String>, ConvertError> {
        let list = self.attr(key).ok_or_else(|| self.missing(key))?;
        list["list"]["s"]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(decode_base64)
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The `shape` attribute of a Placeholder (-1 for unknown sizes).
    pub fn placeholder_shape(&self) -> Result<Vec<i64>, ConvertError> {
        let dims = self
            .attr("shape")
            .and_then(|v| v["shape"]["dim"].as_array())
            .ok_or_else(|| self.missing("shape"))?;
        dims.iter()
            .map(|d| json_int(&d["size"]).ok_or_else(|| self.missing("shape.dim.size")))
            .collect()
    }

    /// Checks that an image operator works on NHWC data.
    pub fn require_nhwc(&self) -> Result<(), ConvertError> {
        match self.attr("data_format") {
            None => Ok(()),
            Some(_) if self.string("data_format")? == "NHWC" => Ok(()),
            Some(_) => Err(ConvertError::Unsupported(format!(
                "{}: data format other than NHWC",
                self.name
            ))),
        }
    }
}

fn json_int(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn decode_base64(encoded: &str) -> Result<String, ConvertError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| ConvertError::Malformed(format!("attribute string: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ConvertError::Malformed(format!("attribute string: {e}")))
}
