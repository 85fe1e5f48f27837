//! The ONNX session every estimator wraps: the graph's input shape read once, batches split to what the graph
//! accepts (several exports fix the batch at 1), and each output returned as one flat vector per request.

use std::path::Path;

use faceserve_batcher::ModelError;
use ort::session::Session;
use ort::value::Tensor;

use crate::runtime::{Runtime, RuntimeError};
use crate::session_io::model_error;

pub struct EstimatorSession {
    session: Session,
    /// The manifest name, for error messages.
    name: String,
    input_name: String,
    /// Input dimensions without the batch.
    item_dims: Vec<usize>,
    outputs: Vec<String>,
    max_batch: usize,
}

impl EstimatorSession {
    /// Opens `path`. The graph must fix every input dimension but the batch; `max_batch` applies when the graph
    /// leaves the batch free.
    pub fn open(
        runtime: &Runtime,
        path: &Path,
        name: &str,
        max_batch: usize,
    ) -> Result<Self, RuntimeError> {
        let session = runtime.load_session(path)?;
        let bad_graph = |message: String| RuntimeError::Session {
            path: path.to_path_buf(),
            message,
        };
        let input = session
            .inputs()
            .first()
            .ok_or_else(|| bad_graph("the graph has no input".into()))?;
        let shape: Vec<i64> = input
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let item_dims = shape
            .iter()
            .skip(1)
            .map(|&d| usize::try_from(d).ok().filter(|&d| d > 0))
            .collect::<Option<Vec<usize>>>()
            .filter(|dims| !dims.is_empty())
            .ok_or_else(|| bad_graph(format!("input shape {shape:?} is not fixed")))?;
        let graph_batch = shape.first().copied().filter(|&d| d > 0);
        Ok(Self {
            name: name.to_string(),
            input_name: input.name().to_string(),
            outputs: session
                .outputs()
                .iter()
                .map(|o| o.name().to_string())
                .collect(),
            item_dims,
            max_batch: graph_batch.map_or(max_batch.max(1), |b| b as usize),
            session,
        })
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Values per request in the input tensor.
    pub fn item_len(&self) -> usize {
        self.item_dims.iter().product()
    }

    pub fn item_dims(&self) -> &[usize] {
        &self.item_dims
    }

    /// The index of the output called `name`, checked when a model is loaded so a different export fails early.
    pub fn output_index(&self, name: &str) -> Result<usize, String> {
        self.outputs
            .iter()
            .position(|o| o == name)
            .ok_or_else(|| format!("the graph has no output {name}"))
    }

    /// The manifest name of the model.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `data` (the requests' input tensors back to back) and returns, for each request, every output's values
    /// in graph order.
    pub fn run(&mut self, data: &[f32]) -> Result<Vec<Vec<Vec<f32>>>, ModelError> {
        let item_len = self.item_len();
        if !data.len().is_multiple_of(item_len) {
            return Err(ModelError(format!(
                "{}: {} input values is not a whole number of {item_len}-value items",
                self.name,
                data.len()
            )));
        }
        let total = data.len() / item_len;
        let mut results = Vec::with_capacity(total);
        for chunk in data.chunks(item_len * self.max_batch) {
            let n = chunk.len() / item_len;
            let mut shape = vec![n];
            shape.extend_from_slice(&self.item_dims);
            let tensor = Tensor::from_array((shape, chunk.to_vec())).map_err(model_error)?;
            let outputs = self
                .session
                .run(ort::inputs![self.input_name.as_str() => tensor])
                .map_err(model_error)?;
            let mut per_output = Vec::with_capacity(self.outputs.len());
            for name in &self.outputs {
                let (_, values) = outputs
                    .get(name)
                    .ok_or_else(|| ModelError(format!("{}: output {name} is missing", self.name)))?
                    .try_extract_tensor::<f32>()
                    .map_err(model_error)?;
                if values.is_empty() || values.len() % n != 0 {
                    return Err(ModelError(format!(
                        "{}: output {name} has {} values for a batch of {n}",
                        self.name,
                        values.len()
                    )));
                }
                per_output.push(values.to_vec());
            }
            for i in 0..n {
                results.push(
                    per_output
                        .iter()
                        .map(|values| {
                            let each = values.len() / n;
                            values[i * each..(i + 1) * each].to_vec()
                        })
                        .collect(),
                );
            }
        }
        Ok(results)
    }
}
