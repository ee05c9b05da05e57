//! The per-sample value of each loss.

use super::{Crossentropy, Loss};
use crate::{Error, Result};
use keel_autograd::{Tensor, Var};
use keel_data::BatchTargets;
use keel_layers::Activation;

/// Keras's `backend.epsilon()`: how far probabilities are kept from 0 and 1 before a log.
const EPSILON: f32 = 1e-7;

impl Loss {
    /// The per-sample losses `[batch]` of `output` (pre-activation when `activation` is the
    /// layer's unapplied softmax or sigmoid) against `targets`.
    ///
    /// # Errors
    /// A custom loss read back from a file (it has no function), or one that returns other
    /// than one value per sample.
    ///
    /// # Panics
    /// If [`Loss::check`] would have rejected the combination (an internal bug: `fit` and
    /// [`Loss::call`] check first).
    pub fn per_sample<'t>(
        &self,
        output: Var<'t>,
        activation: Activation,
        targets: &BatchTargets,
    ) -> Result<Var<'t>> {
        let tape = output.tape();
        let last = output.value().ndim().saturating_sub(1);
        let dense = || tape.constant(targets.to_dense());
        let probabilities = || activation.apply(output);
        Ok(match (self, targets) {
            (Loss::SparseCategoricalCrossentropy, BatchTargets::Classes(y)) => {
                output.sparse_softmax_cross_entropy(y)
            }
            (Loss::CategoricalCrossentropy, BatchTargets::Dense(t)) => {
                output.softmax_cross_entropy(t.clone().into_dyn())
            }
            (Loss::BinaryCrossentropy, _) => {
                output.sigmoid_binary_cross_entropy(targets.to_dense())
            }
            (Loss::MeanSquaredError, _) => probabilities().mean_squared_error(targets.to_dense()),
            (Loss::MeanAbsoluteError, _) => {
                (probabilities() - dense()).abs().mean_axis(last, false)
            }
            (Loss::Huber { delta }, _) => {
                let error = (probabilities() - dense()).abs();
                let quadratic = error.clamp(0.0, *delta);
                let linear = error - quadratic;
                (quadratic * quadratic * 0.5 + linear * *delta).mean_axis(last, false)
            }
            (Loss::KLDivergence, _) => {
                let t = targets.to_dense().mapv(|v| v.clamp(EPSILON, 1.0));
                let log_t = tape.constant(t.mapv(f32::ln));
                let p = probabilities().clamp(EPSILON, 1.0);
                (tape.constant(t) * (log_t - p.log())).sum_axis(last, false)
            }
            (
                Loss::Crossentropy {
                    kind,
                    from_logits: false,
                },
                _,
            ) if activation == Activation::Linear => {
                crossentropy_of_probabilities(*kind, output, targets)?
            }
            (Loss::Crossentropy { kind, .. }, _) => {
                kind.auto().per_sample(output, activation, targets)?
            }
            (Loss::Custom(custom), _) => {
                let function = custom.function().ok_or_else(|| Error::Targets {
                    loss: custom.name().to_string(),
                    expected: "a custom loss with its function (compile it again)".into(),
                    found: "a custom loss read back from a file, with its name only".into(),
                })?;
                let per_sample = function(probabilities(), targets);
                if per_sample.shape() != [targets.len()] {
                    return Err(Error::Targets {
                        loss: custom.name().to_string(),
                        expected: format!("one loss per sample, shape [{}]", targets.len()),
                        found: format!("shape {:?}", per_sample.shape()),
                    });
                }
                per_sample
            }
            _ => panic!("{}: targets were not checked before training", self.name()),
        })
    }
}

/// Keras's cross-entropies of probabilities (`from_logits=False` on an output that is not
/// a softmax or sigmoid): rows renormalised (categorical), clipped to `[ε, 1 − ε]`, logged.
fn crossentropy_of_probabilities<'t>(
    kind: Crossentropy,
    output: Var<'t>,
    targets: &BatchTargets,
) -> Result<Var<'t>> {
    let tape = output.tape();
    let last = output.value().ndim().saturating_sub(1);
    let clip = |p: Var<'t>| p.clamp(EPSILON, 1.0 - EPSILON);
    Ok(match kind {
        Crossentropy::Binary => {
            let t = targets.to_dense();
            let p = clip(output);
            let one_minus_t = tape.constant(t.mapv(|v| 1.0 - v));
            let t = tape.constant(t);
            -(t * p.log() + one_minus_t * (1.0 - p).log()).mean_axis(last, false)
        }
        Crossentropy::SparseCategorical | Crossentropy::Categorical => {
            let one_hot = match targets {
                BatchTargets::Classes(y) => one_hot(y, output.value().shape()[last]),
                BatchTargets::Dense(t) => t.clone().into_dyn(),
            };
            let p = clip(output / output.sum_axis(last, true));
            -(tape.constant(one_hot) * p.log()).sum_axis(last, false)
        }
    })
}

/// Rows of `classes` columns with a 1 at each label.
fn one_hot(labels: &[u32], classes: usize) -> Tensor {
    let mut out = Tensor::zeros(ndarray::IxDyn(&[labels.len(), classes]));
    for (row, &label) in labels.iter().enumerate() {
        out[[row, label as usize]] = 1.0;
    }
    out
}
