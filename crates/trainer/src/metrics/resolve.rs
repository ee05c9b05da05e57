//! Turning a compiled [`Metric`] into the computation it needs, once, from the model's
//! output and the data's targets (as Keras picks an accuracy from the shapes), and saying
//! clearly when a metric cannot read those targets.

use super::{Average, Metric};
use crate::{Error, Result, TargetKind};

/// What the metrics need to know of the model's output and the data's targets.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct OutputInfo {
    /// Output values per sample.
    pub(crate) units: usize,
    /// The threshold a single unit is compared with: 0 for logits, 0.5 for probabilities.
    pub(crate) threshold: f32,
    /// The form of the targets.
    pub(crate) targets: TargetKind,
    /// The final activation the output has not had applied (custom metrics read the
    /// output with it applied).
    pub(crate) activation: keel_layers::Activation,
}

impl OutputInfo {
    /// Whether classification metrics read one thresholded unit rather than an argmax.
    pub(crate) fn is_binary(&self) -> bool {
        self.units == 1
    }

    /// The number of classes a confusion matrix needs: 2 for one unit, else the units.
    pub(crate) fn classes(&self) -> usize {
        if self.is_binary() {
            2
        } else {
            self.units
        }
    }
}

/// The computation behind a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Kind {
    /// The argmax of the output row equals the true class (sparse or categorical accuracy).
    Argmax,
    /// Every unit thresholded against its target (binary accuracy).
    Binary,
    /// The true class is among the `k` largest outputs.
    TopK(usize),
    /// Read from the epoch's confusion matrix.
    Precision,
    /// Read from the epoch's confusion matrix.
    Recall,
    /// Read from the epoch's confusion matrix.
    F1(Average),
    /// A user's function, averaged over samples.
    Custom,
}

impl Kind {
    /// Whether the metric reads the confusion matrix.
    pub(crate) fn needs_confusion(self) -> bool {
        matches!(self, Kind::Precision | Kind::Recall | Kind::F1(_))
    }
}

fn found(targets: TargetKind) -> String {
    match targets {
        TargetKind::Classes { .. } => "class-label targets".into(),
        TargetKind::Dense { columns } => format!("dense targets with {columns} columns"),
    }
}

/// Checks that the targets name classes of this output: labels below the number of units
/// (or any label for one unit), or one target column per unit.
pub(crate) fn check_classes(metric: &str, info: &OutputInfo) -> Result<()> {
    let error = |expected: String, found: String| {
        Err(Error::MetricTargets {
            metric: metric.to_string(),
            expected,
            found,
        })
    };
    match info.targets {
        TargetKind::Classes {
            max_label: Some(max),
        } if !info.is_binary() && max as usize >= info.units => error(
            format!("labels in 0..{} (the output units)", info.units),
            format!("label {max}"),
        ),
        TargetKind::Dense { columns } if columns != info.units => error(
            format!("one target column per output unit ({})", info.units),
            format!("{columns} columns"),
        ),
        _ => Ok(()),
    }
}

/// The computation of `metric` for this output and these targets.
///
/// # Errors
/// [`Error::MetricTargets`] when the metric cannot read the targets (e.g. a sparse metric
/// with one-hot rows), saying which metric to use instead.
pub(crate) fn resolve(metric: &Metric, info: &OutputInfo) -> Result<Kind> {
    let name = metric.name();
    let mismatch = |expected: &str| {
        Err(Error::MetricTargets {
            metric: name.to_string(),
            expected: expected.into(),
            found: found(info.targets),
        })
    };
    let classes = matches!(info.targets, TargetKind::Classes { .. });
    let kind = match metric {
        Metric::Accuracy if info.is_binary() => Kind::Binary,
        Metric::Accuracy => Kind::Argmax,
        Metric::SparseCategoricalAccuracy if !classes => {
            return mismatch("class labels (use CategoricalAccuracy for one-hot rows)")
        }
        Metric::CategoricalAccuracy if classes => {
            return mismatch("one-hot target rows (use SparseCategoricalAccuracy for labels)")
        }
        Metric::SparseCategoricalAccuracy | Metric::CategoricalAccuracy => Kind::Argmax,
        Metric::BinaryAccuracy if classes && !info.is_binary() => {
            return mismatch("dense targets, or class labels with a single output unit")
        }
        Metric::BinaryAccuracy => Kind::Binary,
        Metric::SparseTopKCategoricalAccuracy { .. } if !classes => {
            return mismatch("class labels (use TopKCategoricalAccuracy for one-hot rows)")
        }
        Metric::TopKCategoricalAccuracy { .. } if classes => {
            return mismatch("one-hot target rows (use SparseTopKCategoricalAccuracy for labels)")
        }
        Metric::SparseTopKCategoricalAccuracy { k } | Metric::TopKCategoricalAccuracy { k } => {
            Kind::TopK(*k)
        }
        Metric::Precision => Kind::Precision,
        Metric::Recall => Kind::Recall,
        Metric::F1Score { average } => Kind::F1(*average),
        Metric::Custom(custom) if custom.function().is_none() => {
            return Err(Error::MetricTargets {
                metric: name.to_string(),
                expected: "a custom metric with its function (compile the model again)".into(),
                found: "a custom metric read back from a file, with its name only".into(),
            })
        }
        Metric::Custom(_) => return Ok(Kind::Custom),
    };
    if kind != Kind::Binary {
        check_classes(name, info)?;
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(units: usize, targets: TargetKind) -> OutputInfo {
        OutputInfo {
            units,
            threshold: 0.5,
            targets,
            activation: keel_layers::Activation::Linear,
        }
    }
    const LABELS: TargetKind = TargetKind::Classes { max_label: Some(2) };

    #[test]
    fn accuracy_is_chosen_from_the_shapes_as_keras_does() {
        assert_eq!(
            resolve(&Metric::Accuracy, &info(1, LABELS)).unwrap(),
            Kind::Binary
        );
        assert_eq!(
            resolve(&Metric::Accuracy, &info(3, LABELS)).unwrap(),
            Kind::Argmax
        );
        let one_hot = TargetKind::Dense { columns: 3 };
        assert_eq!(
            resolve(&Metric::Accuracy, &info(3, one_hot)).unwrap(),
            Kind::Argmax
        );
    }

    #[test]
    fn a_metric_that_cannot_read_the_targets_says_what_to_use() {
        let one_hot = info(3, TargetKind::Dense { columns: 3 });
        let msg = resolve(&Metric::SparseTopKCategoricalAccuracy { k: 2 }, &one_hot)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("TopKCategoricalAccuracy") && msg.contains("3 columns"),
            "{msg}"
        );
        let msg = resolve(&Metric::Precision, &info(2, LABELS))
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "precision: expected labels in 0..2 (the output units), found label 2"
        );
        assert!(resolve(&Metric::BinaryAccuracy, &info(3, LABELS)).is_err());
    }
}
