//! Metrics, named as in Keras, and the per-epoch accumulators `fit` and `evaluate` report.
//!
//! Every metric is streamed: a batch only adds to counts (correct predictions, top-k hits,
//! a confusion matrix), and a value is computed from the counts of the whole epoch. So
//! precision, recall and F1 are those of the epoch, not means of per-batch values, and the
//! running loss and accuracy are means weighted by batch size, as Keras reports them.

mod confusion;
mod custom;
mod model;
mod report;
mod resolve;
mod rows;
mod tracker;

pub use confusion::ConfusionMatrix;
pub use custom::{CustomMetric, MetricFn};

pub(crate) use model::target_kind;
pub(crate) use resolve::OutputInfo;
pub(crate) use tracker::MetricTracker;

/// How [`Metric::F1Score`] (and [`ConfusionMatrix::f1_score`]) averages over classes, as
/// Keras's `F1Score(average=...)`. Per-class values come from a [`ConfusionMatrix`].
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Average {
    /// The unweighted mean of the per-class scores, over every class of the output
    /// (a class never seen nor predicted scores 0, as in Keras). The default.
    #[default]
    Macro,
    /// The score of the pooled counts: true positives, false positives and false negatives
    /// summed over classes. For single-label classification this equals accuracy.
    Micro,
    /// The mean of the per-class scores weighted by each class's support (its number of
    /// true samples).
    Weighted,
}

/// A metric to compute during training and evaluation, named as in Keras.
///
/// Log names (in [`History`](crate::History), [`Scores`](crate::Scores) and the progress
/// bar) are Keras's, with a `val_` prefix for validation; two compiled metrics may not share
/// a name. Predictions are read from the output before the final softmax or sigmoid: argmax
/// is unchanged by softmax, and `sigmoid(z) > 0.5` exactly when `z > 0`.
///
/// Classification metrics read a prediction from each output row in one of two ways:
/// - **one unit** (binary): the unit is thresholded at 0.5 (at 0 for logits: a sigmoid
///   output, or a linear output trained with `BinaryCrossentropy`); targets above 0.5
///   (labels `1`, or dense values `> 0.5`) are the positive class;
/// - **several units** (multi-class): the predicted class is the argmax of the row; the true
///   class is the label, or the argmax of a one-hot target row.
///
/// ```
/// use keel_trainer::{Average, Metric};
/// assert_eq!(Metric::Accuracy.name(), "accuracy");
/// assert_eq!(Metric::F1Score { average: Average::Macro }.name(), "f1_score");
/// assert_eq!(Metric::SparseTopKCategoricalAccuracy { k: 5 }.name(), "sparse_top_k_categorical_accuracy");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Metric {
    /// The fraction of correct predictions (`"accuracy"`), its kind chosen as Keras
    /// chooses it: [`BinaryAccuracy`](Metric::BinaryAccuracy) for an output of one unit,
    /// else [`SparseCategoricalAccuracy`](Metric::SparseCategoricalAccuracy) for class
    /// labels, else [`CategoricalAccuracy`](Metric::CategoricalAccuracy). For multi-label
    /// outputs (several sigmoid units) ask for `BinaryAccuracy` explicitly, as in Keras.
    Accuracy,
    /// How often the argmax of the output equals the class label
    /// (`"sparse_categorical_accuracy"`). Needs class-label targets.
    SparseCategoricalAccuracy,
    /// How often the argmax of the output equals the argmax of the one-hot target row
    /// (`"categorical_accuracy"`). Needs dense targets.
    CategoricalAccuracy,
    /// The fraction of output units on the right side of the threshold, over every unit of
    /// every sample (`"binary_accuracy"`); works for multi-label outputs.
    BinaryAccuracy,
    /// How often the class label is among the `k` largest outputs
    /// (`"sparse_top_k_categorical_accuracy"`); Keras's default `k` is 5. Ties with the
    /// label's score count in its favour, as TensorFlow's `in_top_k`.
    SparseTopKCategoricalAccuracy {
        /// How many of the largest outputs may hold the label; at least 1.
        k: usize,
    },
    /// As [`SparseTopKCategoricalAccuracy`](Metric::SparseTopKCategoricalAccuracy) with
    /// one-hot target rows (`"top_k_categorical_accuracy"`).
    TopKCategoricalAccuracy {
        /// How many of the largest outputs may hold the true class; at least 1.
        k: usize,
    },
    /// `TP / (TP + FP)` over the epoch (`"precision"`): of the positive class for one unit
    /// (Keras's `Precision()`), the macro average over classes for several units (Keras's
    /// `Precision` would instead threshold every unit at 0.5 and pool them). 0 when nothing
    /// was predicted positive.
    Precision,
    /// `TP / (TP + FN)` over the epoch (`"recall"`), of the positive class for one unit, the
    /// macro average over classes for several units. 0 when a class has no true sample.
    Recall,
    /// `2·TP / (2·TP + FP + FN)` over the epoch (`"f1_score"`), averaged over classes as
    /// `average` says; for one unit, the F1 of the positive class whatever the average (as
    /// Keras's `F1Score(threshold=0.5)` on one unit).
    F1Score {
        /// How the per-class scores are combined.
        average: Average,
    },
    /// A metric of your own: see [`CustomMetric`].
    Custom(CustomMetric),
}

impl Metric {
    /// The Keras name used in logs, [`History`](crate::History) and
    /// [`Scores`](crate::Scores).
    pub fn name(&self) -> &str {
        match self {
            Metric::Custom(custom) => custom.name(),
            Metric::Accuracy => "accuracy",
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::BinaryAccuracy => "binary_accuracy",
            Metric::SparseTopKCategoricalAccuracy { .. } => "sparse_top_k_categorical_accuracy",
            Metric::TopKCategoricalAccuracy { .. } => "top_k_categorical_accuracy",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1Score { .. } => "f1_score",
        }
    }
}

/// Drops repeated metrics and checks that the rest have distinct names and valid settings.
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for two metrics of the same name
/// (e.g. two top-k accuracies with different `k`) or a `k` of 0.
pub(crate) fn unique(metrics: &[Metric]) -> crate::Result<Vec<Metric>> {
    let mut out: Vec<Metric> = Vec::with_capacity(metrics.len());
    for metric in metrics {
        if let Metric::SparseTopKCategoricalAccuracy { k: 0 }
        | Metric::TopKCategoricalAccuracy { k: 0 } = metric
        {
            return Err(crate::Error::InvalidOption {
                option: "k",
                expected: "at least 1",
                found: "0".into(),
            });
        }
        if out.contains(metric) {
            continue;
        }
        if metric.name() == "loss" || metric.name().starts_with("val_") {
            return Err(crate::Error::InvalidOption {
                option: "metrics",
                expected: "metric names other than \"loss\" and not starting with \"val_\" (logs use them)",
                found: format!("a metric named {}", metric.name()),
            });
        }
        if let Some(other) = out.iter().find(|m| m.name() == metric.name()) {
            return Err(crate::Error::InvalidOption {
                option: "metrics",
                expected: "metrics with distinct names",
                found: format!("{other:?} and {metric:?}, both named {}", metric.name()),
            });
        }
        out.push(metric.clone());
    }
    Ok(out)
}
