//! What every estimator model shares: one ONNX session, its input checked once, inputs turned into the batch tensor
//! by the family's preprocessing and each request's outputs decoded by the family's postprocessing. A family only
//! writes [`Estimator`]; [`EstimatorModel`] makes it a batcher [`Model`].

use std::path::Path;

use faceserve_batcher::{Model, ModelError};

use super::session::EstimatorSession;
use crate::runtime::{Runtime, RuntimeError};

/// A model chosen by name at run time, as the batcher runs it.
pub type BoxedModel<I, O> = Box<dyn Model<Input = I, Output = O>>;

/// What a model is loaded with besides its file.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The manifest name, for messages and metrics.
    pub name: String,
    /// The family the registry gives the name.
    pub family: super::family::EstimatorFamily,
    /// Largest batch, when the graph leaves the batch free.
    pub max_batch: usize,
    /// Smallest confidence a detector-like estimator reports (persons).
    pub min_confidence: f32,
}

/// One estimator family: the preprocessing and decoding its reference implementation uses around the graph.
pub trait Estimator: Sized + Send + 'static {
    type Input: Clone + Send + 'static;
    type Output: Send + 'static;

    /// Checks the graph (input shape, output names) and keeps what decoding needs; an error names what is wrong.
    fn for_graph(session: &EstimatorSession, spec: &LoadSpec) -> Result<Self, String>;

    /// Fills one request's slice of the input tensor.
    fn prepare(&self, input: &Self::Input, tensor: &mut [f32]);

    /// The answer for one request from its outputs (every graph output, in graph order).
    fn decode(&self, input: &Self::Input, outputs: &[Vec<f32>]) -> Result<Self::Output, String>;

    /// An input for warming the model up.
    fn warm_up_input() -> Self::Input;
}

/// An [`Estimator`] with its session, as a batcher model.
pub struct EstimatorModel<E: Estimator> {
    session: EstimatorSession,
    estimator: E,
}

/// Opens `path` as a model of family `E`.
pub fn load<E: Estimator>(
    runtime: &Runtime,
    path: &Path,
    spec: &LoadSpec,
) -> Result<BoxedModel<E::Input, E::Output>, RuntimeError> {
    let session = EstimatorSession::open(runtime, path, &spec.name, spec.max_batch)?;
    let estimator = E::for_graph(&session, spec)
        .map_err(|why| RuntimeError::Ort(format!("{}: {why}", spec.name)))?;
    Ok(Box::new(EstimatorModel { session, estimator }))
}

impl<E: Estimator> Model for EstimatorModel<E> {
    type Input = E::Input;
    type Output = E::Output;

    fn max_batch_size(&self) -> usize {
        self.session.max_batch()
    }

    fn run(&mut self, inputs: Vec<E::Input>) -> Result<Vec<E::Output>, ModelError> {
        let len = self.session.item_len();
        let mut data = vec![0.0f32; inputs.len() * len];
        for (input, slot) in inputs.iter().zip(data.chunks_exact_mut(len)) {
            self.estimator.prepare(input, slot);
        }
        let name = self.session.name().to_string();
        self.session
            .run(&data)?
            .iter()
            .zip(&inputs)
            .map(|(outputs, input)| {
                self.estimator
                    .decode(input, outputs)
                    .map_err(|why| ModelError(format!("{name}: {why}")))
            })
            .collect()
    }

    fn warm_up(&mut self, batch_sizes: &[usize]) -> Result<(), ModelError> {
        for &size in batch_sizes {
            self.run(vec![E::warm_up_input(); size])?;
        }
        Ok(())
    }
}

/// The error of a graph whose input is not `expected`.
pub fn unexpected_input(session: &EstimatorSession, expected: &str) -> String {
    format!(
        "input {:?} is not the expected {expected}",
        session.item_dims()
    )
}

/// The error of a model that gave `got` values where `expected` were due.
pub fn wrong_output_len(what: &str, got: usize, expected: usize) -> String {
    format!("{what} gave {got} values, expected {expected}")
}
