//! The serde records inside Keel files, and moving weights between them and a model.

use super::problem::{FormatProblem, Misshaped};
use crate::{Error, Result, Sequential};
use keel_autograd::tensor;
use keel_layers::LayerConfig;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One tensor: its shape and its values in row-major order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TensorRecord {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<f32>,
}

/// Tensors by parameter path (`"dense_1/kernel"`); a `BTreeMap`, so the bytes are the same
/// for the same weights.
pub(crate) type ParamsRecord = BTreeMap<String, TensorRecord>;

/// Everything needed to rebuild a model and its weights: the core of a model file, and of
/// a checkpoint beside the optimizer, callback, epoch and RNG state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelRecord {
    pub(crate) input_shape: Vec<usize>,
    pub(crate) seed: u64,
    pub(crate) layers: Vec<LayerConfig>,
    /// Whether each layer is trainable (`false` for a frozen layer), one flag per layer.
    pub(crate) trainable: Vec<bool>,
    pub(crate) params: ParamsRecord,
}

/// The payload of a weights file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WeightsRecord {
    pub(crate) params: ParamsRecord,
}

/// The layer configs of `model`.
///
/// # Errors
/// A layer that could not be built, or a custom layer without a config.
pub(crate) fn architecture(model: &Sequential) -> Result<Vec<LayerConfig>> {
    model.check()?;
    model
        .layers
        .iter()
        .enumerate()
        .map(|(index, l)| {
            l.config().ok_or(Error::UnserializableLayer {
                index,
                kind: l.kind(),
            })
        })
        .collect()
}

/// Every parameter of `model` by path.
///
/// # Errors
/// A layer that could not be built, or a NaN or infinite weight: such a model is never
/// written, so an earlier good file is not replaced by a broken one.
pub(crate) fn params_record(model: &Sequential) -> Result<ParamsRecord> {
    model.check()?;
    let mut params = BTreeMap::new();
    for (name, p) in model.named_params() {
        if let Some(&value) = p.value().iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFiniteWeight {
                name: name.to_string(),
                value,
            });
        }
        let record = TensorRecord {
            shape: p.value().shape().to_vec(),
            data: p.value().iter().copied().collect(),
        };
        params.insert(name.to_string(), record);
    }
    Ok(params)
}

impl ModelRecord {
    /// The record of `model`.
    pub(crate) fn of(model: &Sequential) -> Result<ModelRecord> {
        Ok(ModelRecord {
            input_shape: model.input_shape().to_vec(),
            seed: model.seed_value(),
            layers: architecture(model)?,
            trainable: model.trainable.clone(),
            params: params_record(model)?,
        })
    }

    /// Rebuilds the model. Before building each layer, the weights the layers so far create
    /// are checked against the weights the file holds, so a corrupted layer size is an
    /// error, not an allocation of any size. Frozen layers come back frozen.
    pub(crate) fn into_model(self) -> std::result::Result<Sequential, FormatProblem> {
        if self.trainable.len() != self.layers.len() {
            return Err(FormatProblem::Architecture {
                problem: format!(
                    "expected a trainable flag for each of the {} layers, found {}",
                    self.layers.len(),
                    self.trainable.len()
                ),
            });
        }
        let stored = self
            .params
            .values()
            .fold(0usize, |n, t| n.saturating_add(t.data.len()));
        let mut model = Sequential::new(&self.input_shape).seed(self.seed);
        let mut needed = 0usize;
        for (index, config) in self.layers.iter().enumerate() {
            let layer = config.build();
            if let Some(count) = layer.count_params(model.output_shape()) {
                needed = needed.saturating_add(count);
                if needed > stored {
                    return Err(FormatProblem::Architecture {
                        problem: format!(
                            "layers 0..={index} create {needed} weights for input shape {:?}, \
                             expected at most the {stored} the file holds",
                            self.input_shape
                        ),
                    });
                }
            }
            model.push_boxed(layer);
            if let Err(e) = model.check() {
                return Err(FormatProblem::Architecture {
                    problem: format!("layer {index} cannot be built: {e}"),
                });
            }
        }
        apply_params(&mut model, self.params)?;
        model.trainable = self.trainable;
        Ok(model)
    }
}

/// Sets every parameter of `model` from `params`, by path, or changes nothing: every
/// missing, unexpected and mis-shaped tensor is reported at once, and NaN or infinite
/// values are refused.
pub(crate) fn apply_params(
    model: &mut Sequential,
    mut params: ParamsRecord,
) -> std::result::Result<(), FormatProblem> {
    for (name, t) in &params {
        let size = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if size != Some(t.data.len()) {
            return Err(FormatProblem::Decode {
                problem: format!(
                    "tensor {name}: expected {} values for its shape {:?}, found {}",
                    size.map_or("more than usize::MAX".to_string(), |s| s.to_string()),
                    t.shape,
                    t.data.len()
                ),
            });
        }
    }
    let (mut missing, mut misshaped) = (Vec::new(), Vec::new());
    for (name, p) in model.named_params() {
        let name = name.to_string();
        match params.get(&name) {
            None => missing.push(name),
            Some(t) if t.shape != p.value().shape() => misshaped.push(Misshaped {
                name,
                expected: p.value().shape().to_vec(),
                found: t.shape.clone(),
            }),
            Some(_) => {}
        }
    }
    let known: BTreeSet<String> = model
        .named_params()
        .into_iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let unexpected: Vec<String> = params
        .keys()
        .filter(|name| !known.contains(*name))
        .cloned()
        .collect();
    if !(missing.is_empty() && unexpected.is_empty() && misshaped.is_empty()) {
        return Err(FormatProblem::Weights {
            missing,
            unexpected,
            misshaped,
        });
    }
    for (name, t) in &params {
        if let Some(&value) = t.data.iter().find(|v| !v.is_finite()) {
            return Err(FormatProblem::NonFinite {
                name: name.clone(),
                value,
            });
        }
    }
    for (name, param) in model.named_params_mut() {
        let t = params.remove(&name.to_string()).expect("checked above");
        param.set_value(tensor(&t.shape, t.data));
    }
    Ok(())
}
