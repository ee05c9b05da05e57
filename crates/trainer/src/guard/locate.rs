//! Where a non-finite value first appeared: which layer, which op, forward or backward.
//!
//! Nothing here runs on a healthy step. When a step's loss or gradients are non-finite, the
//! batch is replayed with the weights and the RNG state of that step (so the same dropout
//! masks), checking each layer's output in order; a backward failure is placed from the
//! per-parameter gradient norms the optimizer reported (the last layer whose gradient is
//! non-finite is the first the backward pass reached).

use crate::fit::FitRng;
use crate::Sequential;
use keel_autograd::{ParamPath, Tape};
use keel_data::Batch;
use keel_layers::{Ctx, Mode};
use std::fmt;
use std::ops::ControlFlow;

/// The pass of a training step in which a value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pass {
    /// The forward pass (layer outputs, the loss).
    Forward,
    /// The backward pass (gradients).
    Backward,
}

/// Where the first non-finite value (NaN or infinity) of a step appeared.
///
/// Its `Display` is what errors and logs print, such as
/// `layer 3 (dense_2), op dense (forward)`.
///
/// ```
/// use keel_trainer::{Location, Pass};
/// let at = Location::Layer {
///     index: 3,
///     name: "dense_2".into(),
///     op: Some("dense"),
///     pass: Pass::Forward,
///     parameter: None,
///     nonfinite_weights: false,
/// };
/// assert_eq!(at.to_string(), "layer 3 (dense_2), op dense (forward)");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Location {
    /// The input batch itself.
    Input,
    /// A layer's output (forward) or its parameters' gradients (backward).
    Layer {
        /// The layer's position in the model (0-based, as in parameter names).
        index: usize,
        /// The layer's name, as `summary()` shows it (`"dense_2"`).
        name: String,
        /// The op that produced the layer's output, as the tape names it (`"dense"`).
        op: Option<&'static str>,
        /// Forward or backward.
        pass: Pass,
        /// For the backward pass, the parameter whose gradient is non-finite.
        parameter: Option<String>,
        /// Whether the layer's weights themselves hold non-finite values.
        nonfinite_weights: bool,
    },
    /// The loss, computed from finite model outputs.
    Loss {
        /// The loss op, as the tape names it.
        op: Option<&'static str>,
    },
    /// The regularization penalty of a layer.
    Regularization {
        /// The layer's position in the model.
        index: usize,
        /// The layer's name.
        name: String,
    },
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pass::Forward => "forward",
            Pass::Backward => "backward",
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Input => f.write_str("the input batch"),
            Location::Layer {
                index,
                name,
                op,
                pass,
                parameter,
                nonfinite_weights,
            } => {
                write!(
                    f,
                    "layer {index} ({name}), op {} ({pass})",
                    op.unwrap_or("?")
                )?;
                if let Some(p) = parameter {
                    write!(f, ", gradient of {p}")?;
                }
                if *nonfinite_weights {
                    f.write_str("; the layer's weights hold non-finite values")?;
                }
                Ok(())
            }
            Location::Loss { op } => write!(f, "the loss, op {} (forward)", op.unwrap_or("?")),
            Location::Regularization { index, name } => {
                write!(f, "the regularization penalty of layer {index} ({name})")
            }
        }
    }
}

fn all_finite(t: &keel_autograd::Tensor) -> bool {
    t.iter().all(|v| v.is_finite())
}

impl Sequential {
    /// Replays `batch` in training mode with `rng` (the RNG state the step started from;
    /// `first_row` places the batch in a data-parallel global batch, as the step did) and
    /// returns where the first non-finite value appeared, or, when the forward pass is
    /// finite throughout, the backward location read from `param_norms` (each parameter's
    /// gradient norm, in model order). `None` when nothing non-finite is found.
    pub(crate) fn locate_nonfinite(
        &self,
        batch: Batch,
        weights: Option<Vec<f32>>,
        mut rng: FitRng,
        first_row: usize,
        param_norms: &[(ParamPath, f32)],
    ) -> Option<Location> {
        if !all_finite(&batch.x) {
            return Some(Location::Input);
        }
        let tape = Tape::new();
        let mut ctx = Ctx::new(Mode::Train, &mut rng);
        ctx.set_first_row(first_row);
        let mut ops = Vec::with_capacity(self.layers.len());
        let mut forward_failure = None;
        let pass = self
            .forward_loss(&tape, batch.x, &batch.y, weights, &mut ctx, |index, h| {
                ops.push(h.op_name());
                if all_finite(&h.value()) {
                    ControlFlow::Continue(())
                } else {
                    forward_failure = Some(index);
                    ControlFlow::Break(())
                }
            })
            .ok()?;
        if let Some(index) = forward_failure {
            return Some(self.layer_location(index, ops[index], Pass::Forward, None));
        }
        let pass = pass?;
        if !pass.data_loss.scalar().is_finite() {
            return Some(Location::Loss {
                op: pass.per_sample.op_name(),
            });
        }
        for (index, layer) in self.layers.iter().enumerate() {
            if let Some(penalty) = layer.regularization_loss(&tape) {
                if !penalty.scalar().is_finite() {
                    let name = self.layer_names().get(index).cloned().unwrap_or_default();
                    return Some(Location::Regularization { index, name });
                }
            }
        }
        let (parameter, _) = param_norms.iter().rev().find(|(_, n)| !n.is_finite())?;
        let index = parameter.layer_index()?;
        let op = ops.get(index).copied().flatten();
        Some(self.layer_location(index, op, Pass::Backward, Some(parameter.to_string())))
    }

    fn layer_location(
        &self,
        index: usize,
        op: Option<&'static str>,
        pass: Pass,
        parameter: Option<String>,
    ) -> Location {
        let layer = &self.layers[index];
        Location::Layer {
            index,
            name: self.layer_names().get(index).cloned().unwrap_or_default(),
            op,
            pass,
            parameter,
            nonfinite_weights: layer.params().iter().any(|(_, p)| !all_finite(p.value())),
        }
    }
}
