//! Losses, by Keras name, computed per sample through the numerically stable fused ops.

use crate::{Error, Result};
use keel_autograd::{Tensor, Var};
use keel_data::BatchTargets;
use keel_layers::Activation;
use ndarray::Array2;

/// A loss function, named as in Keras.
///
/// When the model's last layer ends in softmax (or sigmoid), the loss is computed from the
/// pre-activation logits with a fused log-space op, never as `log(softmax(x))`. A model whose
/// output is linear is taken to produce logits (PyTorch's convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Loss {
    /// Cross-entropy against integer class labels.
    SparseCategoricalCrossentropy,
    /// Cross-entropy against one-hot (or soft) target rows.
    CategoricalCrossentropy,
    /// Binary cross-entropy per output unit, averaged over the last axis.
    BinaryCrossentropy,
    /// Mean squared error over the last axis.
    MeanSquaredError,
}

impl Loss {
    /// The Keras name.
    pub fn name(self) -> &'static str {
        match self {
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::BinaryCrossentropy => "binary_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
        }
    }

    fn targets_error(self, expected: impl Into<String>, found: impl Into<String>) -> Error {
        Error::Targets {
            loss: self.name(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// Checks once, before training, that targets and the model's output fit this loss.
    ///
    /// # Errors
    /// [`Error::Targets`] naming what the loss needs and what was given.
    pub fn check(
        self,
        output_shape: &[usize],
        output_activation: Activation,
        targets: TargetKind,
    ) -> Result<()> {
        let units = output_shape.iter().product::<usize>();
        match (self, targets) {
            (Loss::SparseCategoricalCrossentropy, TargetKind::Classes { max_label }) => {
                if output_activation == Activation::Sigmoid || output_shape.len() != 1 {
                    return Err(self.targets_error(
                        "a softmax or linear output of shape [classes]",
                        format!(
                            "a {} output of shape {output_shape:?}",
                            output_activation.name()
                        ),
                    ));
                }
                match max_label {
                    Some(max) if max as usize >= units => Err(self.targets_error(
                        format!("labels in 0..{units} (the output layer has {units} units)"),
                        format!("label {max}"),
                    )),
                    _ => Ok(()),
                }
            }
            (Loss::SparseCategoricalCrossentropy, TargetKind::Dense { columns }) => Err(self
                .targets_error(
                    "integer class labels",
                    format!("dense targets with {columns} columns (use CategoricalCrossentropy)"),
                )),
            (_, TargetKind::Dense { columns }) if columns != units => Err(self.targets_error(
                format!("targets with {units} columns (the output units)"),
                format!("{columns} columns"),
            )),
            (Loss::CategoricalCrossentropy, TargetKind::Classes { .. }) => Err(self.targets_error(
                "one-hot target rows",
                "integer class labels (use SparseCategoricalCrossentropy)",
            )),
            (Loss::CategoricalCrossentropy, _) if output_activation == Activation::Sigmoid => {
                Err(self.targets_error("a softmax or linear output", "a sigmoid output"))
            }
            (Loss::BinaryCrossentropy, _) if output_activation == Activation::Softmax => {
                Err(self.targets_error("a sigmoid or linear output", "a softmax output"))
            }
            (
                Loss::BinaryCrossentropy | Loss::MeanSquaredError,
                TargetKind::Classes { max_label },
            ) => {
                if units != 1 {
                    return Err(self.targets_error(
                        "dense targets, or class labels with a single output unit",
                        format!("class labels with {units} output units"),
                    ));
                }
                match max_label {
                    Some(max) if self == Loss::BinaryCrossentropy && max > 1 => {
                        Err(self.targets_error("labels 0 or 1", format!("label {max}")))
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// The per-sample losses `[batch]` of `output` (pre-activation when `activation` is the
    /// layer's unapplied softmax or sigmoid) against `targets`.
    ///
    /// # Panics
    /// If [`Loss::check`] would have rejected the combination (an internal bug: `fit` checks first).
    pub fn per_sample<'t>(
        self,
        output: Var<'t>,
        activation: Activation,
        targets: &BatchTargets,
    ) -> Var<'t> {
        match (self, targets) {
            (Loss::SparseCategoricalCrossentropy, BatchTargets::Classes(y)) => {
                output.sparse_softmax_cross_entropy(y)
            }
            (Loss::CategoricalCrossentropy, BatchTargets::Dense(t)) => {
                output.softmax_cross_entropy(t.clone().into_dyn())
            }
            (Loss::BinaryCrossentropy, _) => output.sigmoid_binary_cross_entropy(dense(targets)),
            (Loss::MeanSquaredError, _) => {
                activation.apply(output).mean_squared_error(dense(targets))
            }
            _ => panic!("{}: targets were not checked before training", self.name()),
        }
    }
}

/// What a loss needs to know of a dataset's targets to check them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TargetKind {
    /// Integer class labels, with the largest one (`None` when there are none).
    Classes {
        /// The largest label.
        max_label: Option<u32>,
    },
    /// Dense target rows of `columns` values.
    Dense {
        /// Values per row.
        columns: usize,
    },
}

/// Targets as a dense `[batch, k]` tensor; class labels become one column.
fn dense(targets: &BatchTargets) -> Tensor {
    match targets {
        BatchTargets::Dense(t) => t.clone().into_dyn(),
        BatchTargets::Classes(y) => {
            Array2::from_shape_fn((y.len(), 1), |(i, _)| y[i] as f32).into_dyn()
        }
    }
}
