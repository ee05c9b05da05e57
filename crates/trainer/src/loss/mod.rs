//! Losses, by Keras name, computed per sample through the numerically stable fused ops.

mod compute;
mod custom;

pub use custom::{CustomLoss, LossFn};

use crate::{Error, Result};
use keel_autograd::Var;
use keel_data::BatchTargets;
use keel_layers::Activation;

/// Which cross-entropy a [`Loss::Crossentropy`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Crossentropy {
    /// Against integer class labels (`sparse_categorical_crossentropy`).
    SparseCategorical,
    /// Against one-hot (or soft) target rows (`categorical_crossentropy`).
    Categorical,
    /// Per output unit, averaged over the last axis (`binary_crossentropy`).
    Binary,
}

/// A loss function, named as in Keras.
///
/// When the model's last layer ends in softmax (or sigmoid), a cross-entropy is computed
/// from the pre-activation logits with a fused log-space op, never as `log(softmax(x))`
/// (Keras does the same). For the first four variants a model whose output is linear is
/// taken to produce logits (PyTorch's convention); say it outright with
/// [`Loss::sparse_categorical_crossentropy`] and its siblings, whose `from_logits` flag has
/// Keras's meaning.
///
/// A loss can be called on its own, on a model's output and targets, with
/// [`Loss::call`] (for custom training loops).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Loss {
    /// Cross-entropy against integer class labels.
    SparseCategoricalCrossentropy,
    /// Cross-entropy against one-hot (or soft) target rows.
    CategoricalCrossentropy,
    /// Binary cross-entropy per output unit, averaged over the last axis.
    BinaryCrossentropy,
    /// Mean squared error over the last axis.
    MeanSquaredError,
    /// Mean absolute error over the last axis (`"mean_absolute_error"`).
    MeanAbsoluteError,
    /// Huber loss over the last axis (`"huber"`): quadratic for errors up to `delta`,
    /// linear beyond (Keras's default `delta` is 1).
    Huber {
        /// Where the loss turns from quadratic to linear; finite and `> 0`.
        delta: f32,
    },
    /// Kullback-Leibler divergence of the output from the target distribution, summed
    /// over the last axis (`"kl_divergence"`); both are clipped to `[1e-7, 1]` as in Keras.
    KLDivergence,
    /// A cross-entropy told whether the output is logits (`from_logits: true`, the output
    /// must then be linear) or probabilities (`false`, Keras's default: a softmax or
    /// sigmoid output is still fused; any other output is clipped to `[1e-7, 1 - 1e-7]`).
    Crossentropy {
        /// Which cross-entropy.
        kind: Crossentropy,
        /// Whether the model outputs logits.
        from_logits: bool,
    },
    /// A loss of your own.
    Custom(CustomLoss),
}

impl Loss {
    /// Keras's `SparseCategoricalCrossentropy(from_logits=...)`.
    ///
    /// ```
    /// use keel_trainer::Loss;
    /// let loss = Loss::sparse_categorical_crossentropy(true);
    /// assert_eq!(loss.name(), "sparse_categorical_crossentropy");
    /// ```
    pub fn sparse_categorical_crossentropy(from_logits: bool) -> Loss {
        Loss::Crossentropy {
            kind: Crossentropy::SparseCategorical,
            from_logits,
        }
    }

    /// Keras's `CategoricalCrossentropy(from_logits=...)`.
    pub fn categorical_crossentropy(from_logits: bool) -> Loss {
        Loss::Crossentropy {
            kind: Crossentropy::Categorical,
            from_logits,
        }
    }

    /// Keras's `BinaryCrossentropy(from_logits=...)`.
    pub fn binary_crossentropy(from_logits: bool) -> Loss {
        Loss::Crossentropy {
            kind: Crossentropy::Binary,
            from_logits,
        }
    }

    /// The Keras name (a custom loss's own name).
    pub fn name(&self) -> &str {
        match self {
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::BinaryCrossentropy => "binary_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::Huber { .. } => "huber",
            Loss::KLDivergence => "kl_divergence",
            Loss::Crossentropy { kind, .. } => kind.keras_name(),
            Loss::Custom(custom) => custom.name(),
        }
    }

    fn targets_error(&self, expected: impl Into<String>, found: impl Into<String>) -> Error {
        Error::Targets {
            loss: self.name().to_string(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// Checks once, before training, that targets and the model's output fit this loss.
    ///
    /// # Errors
    /// [`Error::Targets`] naming what the loss needs and what was given.
    pub fn check(
        &self,
        output_shape: &[usize],
        output_activation: Activation,
        targets: TargetKind,
    ) -> Result<()> {
        let units = output_shape.iter().product::<usize>();
        match self {
            Loss::Huber { delta } if !(delta.is_finite() && *delta > 0.0) => {
                Err(self.targets_error("a finite delta > 0", format!("delta {delta}")))
            }
            Loss::Crossentropy {
                from_logits: true, ..
            } if output_activation != Activation::Linear => Err(self.targets_error(
                "a linear output (logits), as from_logits=true says",
                format!(
                    "a {} output (use from_logits=false)",
                    output_activation.name()
                ),
            )),
            Loss::Crossentropy { kind, .. } => {
                kind.auto().check(output_shape, output_activation, targets)
            }
            Loss::KLDivergence => match targets {
                TargetKind::Dense { columns } if columns == units => Ok(()),
                TargetKind::Dense { columns } => Err(self.targets_error(
                    format!("target distributions of {units} columns (the output units)"),
                    format!("{columns} columns"),
                )),
                TargetKind::Classes { .. } => Err(self.targets_error(
                    "target probability rows",
                    "integer class labels (use SparseCategoricalCrossentropy)",
                )),
            },
            Loss::MeanAbsoluteError | Loss::Huber { .. } => {
                Loss::MeanSquaredError.check(output_shape, output_activation, targets)
            }
            Loss::Custom(_) => Ok(()),
            _ => self.check_builtin(output_shape, output_activation, targets, units),
        }
    }

    fn check_builtin(
        &self,
        output_shape: &[usize],
        output_activation: Activation,
        targets: TargetKind,
        units: usize,
    ) -> Result<()> {
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
                    Some(max) if *self == Loss::BinaryCrossentropy && max > 1 => {
                        Err(self.targets_error("labels 0 or 1", format!("label {max}")))
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// The mean loss of `y_pred` (a model's output, as [`Sequential::forward`](crate::Sequential::forward)
    /// returns it) against `y_true`, as calling a Keras loss object: `loss_fn(y_true, y_pred)`.
    /// An output made by a softmax or sigmoid is fused back to its logits, exactly as `fit`
    /// computes it, so a custom loop matches `fit` bit for bit.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// use keel_data::Targets;
    /// use keel_trainer::Loss;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let tape = Tape::new();
    /// let logits = tape.var(tensor(&[2, 3], vec![2.0, 0.5, -1.0, 0.1, 0.2, 3.0]));
    /// let y_true = Targets::Classes(vec![0, 2]);
    /// let from_probabilities = Loss::SparseCategoricalCrossentropy.call(logits.softmax(1), &y_true)?;
    /// let from_logits = Loss::sparse_categorical_crossentropy(true).call(logits, &y_true)?;
    /// assert!((from_probabilities.scalar() - from_logits.scalar()).abs() < 1e-6);
    /// assert!(Loss::sparse_categorical_crossentropy(true).call(logits.softmax(1), &y_true).is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Targets`] when the targets or the output's shape do not fit this loss, or a
    /// custom loss returns other than one value per sample.
    pub fn call<'t>(&self, y_pred: Var<'t>, y_true: &BatchTargets) -> Result<Var<'t>> {
        let (output, activation) = split_activation(y_pred);
        let shape = y_pred.shape();
        if shape.first() != Some(&y_true.len()) {
            return Err(self.targets_error(
                format!("an output with one row per target ({})", y_true.len()),
                format!("an output of shape {shape:?}"),
            ));
        }
        self.check(&shape[1..], activation, TargetKind::of(y_true))?;
        Ok(self.per_sample(output, activation, y_true)?.mean())
    }
}

/// The logits of `y` and the activation that made it, when `y` is the output of a softmax
/// (over its last axis) or a sigmoid; else `y` itself, linear.
fn split_activation(y: Var<'_>) -> (Var<'_>, Activation) {
    let last = y.value().ndim().checked_sub(1);
    let activation = match y.op_name() {
        Some("softmax") if y.op_axis() == last => Activation::Softmax,
        Some("sigmoid") => Activation::Sigmoid,
        _ => return (y, Activation::Linear),
    };
    (y.inputs()[0], activation)
}

impl Crossentropy {
    /// Keras's name of this cross-entropy.
    fn keras_name(self) -> &'static str {
        match self {
            Crossentropy::SparseCategorical => "sparse_categorical_crossentropy",
            Crossentropy::Categorical => "categorical_crossentropy",
            Crossentropy::Binary => "binary_crossentropy",
        }
    }

    /// The loss that applies the model's output activation as the logits/probabilities rule.
    fn auto(self) -> Loss {
        match self {
            Crossentropy::SparseCategorical => Loss::SparseCategoricalCrossentropy,
            Crossentropy::Categorical => Loss::CategoricalCrossentropy,
            Crossentropy::Binary => Loss::BinaryCrossentropy,
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

impl TargetKind {
    /// The kind of a batch's targets.
    pub(crate) fn of(targets: &BatchTargets) -> TargetKind {
        match targets {
            BatchTargets::Classes(y) => TargetKind::Classes {
                max_label: y.iter().copied().max(),
            },
            BatchTargets::Dense(t) => TargetKind::Dense { columns: t.ncols() },
        }
    }
}
