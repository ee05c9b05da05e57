//! Metrics and the running means `fit` reports.

use crate::loss::argmax_rows;
use keel_autograd::Tensor;
use keel_data::BatchTargets;
use keel_layers::Activation;
use ndarray::Axis;

/// A metric to compute during training and evaluation, named as in Keras.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// The fraction of correct predictions. As in Keras, the kind is chosen from the targets:
    /// argmax against class labels or one-hot rows, or a 0.5 threshold for a single unit.
    Accuracy,
}

impl Metric {
    /// The Keras name used in logs and [`History`](crate::History).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
        }
    }
}

/// The number of correct predictions in a batch.
///
/// `output` is pre-activation when `activation` is the unapplied softmax or sigmoid: argmax
/// is unchanged by softmax, and `sigmoid(z) > 0.5` exactly when `z > 0`.
pub(crate) fn count_correct(
    output: &Tensor,
    activation: Activation,
    targets: &BatchTargets,
) -> usize {
    let columns = output.len() / output.shape()[0].max(1);
    if columns == 1 {
        let threshold = if activation == Activation::Sigmoid {
            0.0
        } else {
            0.5
        };
        let truth: Vec<bool> = match targets {
            BatchTargets::Classes(y) => y.iter().map(|&c| c == 1).collect(),
            BatchTargets::Dense(t) => t.iter().map(|&v| v > 0.5).collect(),
        };
        return output
            .iter()
            .zip(truth)
            .filter(|(&z, t)| (z > threshold) == *t)
            .count();
    }
    let predicted = argmax_rows(output);
    match targets {
        BatchTargets::Classes(y) => predicted
            .iter()
            .zip(y)
            .filter(|(&p, &c)| p == c as usize)
            .count(),
        BatchTargets::Dense(t) => {
            let truth = argmax_rows(&t.clone().into_dyn());
            debug_assert_eq!(truth.len(), t.len_of(Axis(0)));
            predicted
                .iter()
                .zip(truth)
                .filter(|(&p, c)| p == *c)
                .count()
        }
    }
}

/// Sums over the batches of an epoch, weighted by batch size as Keras reports them.
#[derive(Debug, Default, Clone)]
pub(crate) struct RunningMeans {
    loss_sum: f64,
    correct: usize,
    samples: usize,
}

impl RunningMeans {
    /// Adds a batch of `n` samples with mean loss `loss` and `correct` right predictions.
    pub(crate) fn add(&mut self, loss: f32, correct: usize, n: usize) {
        self.loss_sum += loss as f64 * n as f64;
        self.correct += correct;
        self.samples += n;
    }

    /// The mean loss so far.
    pub(crate) fn loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }

    /// The accuracy so far.
    pub(crate) fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }

    /// `(name, value)` pairs of the loss and every compiled metric, prefixed (e.g. "val_").
    pub(crate) fn logs(&self, metrics: &[Metric], prefix: &str) -> Vec<(String, f64)> {
        let mut logs = vec![(format!("{prefix}loss"), self.loss())];
        for metric in metrics {
            let value = match metric {
                Metric::Accuracy => self.accuracy(),
            };
            logs.push((format!("{prefix}{}", metric.name()), value));
        }
        logs
    }
}
