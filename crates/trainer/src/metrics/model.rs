//! What a model tells its metrics, and `Sequential::confusion_matrix`.

use super::resolve::check_classes;
use super::{ConfusionMatrix, MetricTracker, OutputInfo};
use crate::{Crossentropy, Loss, Result, Sequential, TargetKind};
use keel_data::{Dataset, TargetsView};
use keel_layers::Activation;

/// What a loss or metric needs to know of a dataset's targets.
pub(crate) fn target_kind(data: &Dataset) -> TargetKind {
    match data.targets() {
        TargetsView::Classes(labels) => TargetKind::Classes {
            max_label: labels.iter().copied().max(),
        },
        TargetsView::Dense(rows) => TargetKind::Dense {
            columns: rows.ncols(),
        },
    }
}

impl Sequential {
    /// How the metrics read this model's output against targets of kind `targets`.
    ///
    /// A single unit is a logit (threshold 0) under an unapplied sigmoid, or when a linear
    /// output is trained with binary cross-entropy (which takes it as a logit); otherwise it
    /// is a probability or a regression value (threshold 0.5).
    pub(crate) fn output_info(&self, targets: TargetKind) -> OutputInfo {
        let activation = self.output_activation();
        let loss = self.compiled.as_ref().map(|c| &c.loss);
        let logits = activation == Activation::Sigmoid
            || (activation == Activation::Linear
                && matches!(
                    loss,
                    Some(
                        Loss::BinaryCrossentropy
                            | Loss::Crossentropy {
                                kind: Crossentropy::Binary,
                                from_logits: true
                            }
                    )
                ));
        OutputInfo {
            units: self.output_shape().iter().product(),
            threshold: if logits { 0.0 } else { 0.5 },
            targets,
            activation,
        }
    }

    /// Fresh accumulators of the loss and every compiled metric for `data`.
    ///
    /// # Errors
    /// [`Error::MetricTargets`] when a compiled metric cannot read the targets of `data`.
    pub(crate) fn metric_tracker(&self, data: &Dataset) -> Result<MetricTracker> {
        let metrics = self.compiled.as_ref().map_or(&[][..], |c| &c.metrics);
        MetricTracker::new(metrics, self.output_info(target_kind(data)))
    }

    /// The confusion matrix of the model's predictions on `data` (row = true class, column
    /// = predicted class), for per-class precision, recall and F1.
    ///
    /// Predictions are read as [`Metric`](crate::Metric) describes: the argmax of each
    /// output row, or one unit thresholded into classes 0 and 1. The model need not be
    /// compiled (a compiled binary cross-entropy makes a linear unit a logit).
    ///
    /// # Errors
    /// Data that does not fit the model, or targets that do not name its classes (labels
    /// beyond the output units, or a number of target columns other than the units).
    ///
    /// ```
    /// use keel_data::{Dataset, Targets};
    /// use keel_layers::Dense;
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let x = ndarray::array![[1.0f32, 0.0], [0.0, 1.0], [2.0, 1.0]].into_dyn();
    /// let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1, 1]))?;
    /// let model = Sequential::new([2]).add(Dense::new(2).use_bias(false));
    /// let m = model.confusion_matrix(&data)?;
    /// assert_eq!((m.classes(), m.total()), (2, 3));
    /// println!("{m}");
    /// # Ok(()) }
    /// ```
    pub fn confusion_matrix(&self, data: &Dataset) -> Result<ConfusionMatrix> {
        self.check_data(data)?;
        let info = self.output_info(target_kind(data));
        check_classes("confusion_matrix", &info)?;
        let mut tracker = MetricTracker::new(&[], info)?.with_confusion();
        let batch = self.inference_batch(crate::evaluate::INFERENCE_BATCH);
        self.evaluate_into(data, 0..data.len(), batch, &mut tracker)?;
        Ok(tracker.into_confusion())
    }
}
