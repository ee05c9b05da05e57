//! `MetricTracker`: the running loss and every compiled metric over one epoch (Keras's
//! metric states), updated each batch without allocating.

use super::resolve::{resolve, Kind, OutputInfo};
use super::rows::{argmax, binary_matches, in_top_k, is_positive, true_class};
use super::{ConfusionMatrix, Metric};
use crate::Result;
use keel_autograd::Tensor;
use keel_data::BatchTargets;

/// One compiled metric and its count of hits over the epoch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct State {
    metric: Metric,
    kind: Kind,
    hits: u64,
    /// A custom metric's batch means, each times its batch size.
    total: f64,
}

/// Sums over the batches of an epoch: the loss weighted by batch size, as Keras reports it,
/// hit counts per metric and one confusion matrix shared by precision, recall and F1.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct MetricTracker {
    info: OutputInfo,
    loss_sum: f64,
    loss_samples: usize,
    samples: usize,
    states: Vec<State>,
    confusion: Option<ConfusionMatrix>,
}

impl MetricTracker {
    /// Accumulators for `metrics` on an output and targets described by `info`.
    ///
    /// # Errors
    /// [`Error::MetricTargets`](crate::Error::MetricTargets) when a metric cannot read these
    /// targets.
    pub(crate) fn new(metrics: &[Metric], info: OutputInfo) -> Result<Self> {
        let states = metrics
            .iter()
            .map(|metric| {
                resolve(metric, &info).map(|kind| State {
                    metric: metric.clone(),
                    kind,
                    hits: 0,
                    total: 0.0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let confusion = states
            .iter()
            .any(|s| s.kind.needs_confusion())
            .then(|| ConfusionMatrix::new(info.classes()));
        Ok(MetricTracker {
            info,
            loss_sum: 0.0,
            loss_samples: 0,
            samples: 0,
            states,
            confusion,
        })
    }

    /// Also keeps a confusion matrix when no compiled metric needs one.
    pub(crate) fn with_confusion(mut self) -> Self {
        if self.confusion.is_none() {
            self.confusion = Some(ConfusionMatrix::new(self.info.classes()));
        }
        self
    }

    /// Sets every sum back to zero for a new epoch, keeping the allocations.
    pub(crate) fn reset(&mut self) {
        self.loss_sum = 0.0;
        self.loss_samples = 0;
        self.samples = 0;
        for state in &mut self.states {
            state.hits = 0;
            state.total = 0.0;
        }
        if let Some(confusion) = &mut self.confusion {
            confusion.reset();
        }
    }

    /// Takes the sums of `other` (a tracker of the same metrics, from a checkpoint or a
    /// snapshot) and keeps this tracker's metrics: a custom metric read back from a file has
    /// its name but not its function.
    pub(crate) fn set_counts_from(&mut self, other: &MetricTracker) {
        self.loss_sum = other.loss_sum;
        self.loss_samples = other.loss_samples;
        self.samples = other.samples;
        self.confusion.clone_from(&other.confusion);
        for (state, theirs) in self.states.iter_mut().zip(&other.states) {
            debug_assert_eq!(state.metric, theirs.metric, "checked by the caller");
            state.hits = theirs.hits;
            state.total = theirs.total;
        }
    }

    /// The counts behind the metrics (not the loss), as one vector: what data-parallel
    /// members sum. Counts below 2⁵³ are exact in an `f64`.
    pub(crate) fn metric_counts(&self) -> Vec<f64> {
        let mut counts = vec![self.samples as f64];
        for state in &self.states {
            counts.extend([state.hits as f64, state.total]);
        }
        if let Some(confusion) = &self.confusion {
            let mut confusion = confusion.clone();
            counts.extend(confusion.counts_mut().iter().map(|&c| c as f64));
        }
        counts
    }

    /// Sets the counts behind the metrics from [`metric_counts`](Self::metric_counts) of
    /// a tracker of the same metrics.
    pub(crate) fn set_metric_counts(&mut self, counts: &[f64]) {
        let mut counts = counts.iter().copied();
        let mut next = || counts.next().expect("laid out by metric_counts");
        self.samples = next() as usize;
        for state in &mut self.states {
            state.hits = next() as u64;
            state.total = next();
        }
        if let Some(confusion) = &mut self.confusion {
            for c in confusion.counts_mut() {
                *c = next() as u64;
            }
        }
    }

    /// [`metric_counts`](Self::metric_counts) after the loss's sum and sample count: what
    /// data-parallel members sum after each evaluated its share of a data set.
    pub(crate) fn counts_with_loss(&self) -> Vec<f64> {
        let mut counts = vec![self.loss_sum, self.loss_samples as f64];
        counts.extend(self.metric_counts());
        counts
    }

    /// Sets the loss's sum and sample count and the counts behind the metrics from
    /// [`counts_with_loss`](Self::counts_with_loss) of a tracker of the same metrics.
    pub(crate) fn set_counts_with_loss(&mut self, counts: &[f64]) {
        self.loss_sum = counts[0];
        self.loss_samples = counts[1] as usize;
        self.set_metric_counts(&counts[2..]);
    }

    /// Adds the mean loss of a batch of `n` samples.
    pub(crate) fn add_loss(&mut self, loss: f32, n: usize) {
        self.loss_sum += f64::from(loss) * n as f64;
        self.loss_samples += n;
    }

    /// Adds a batch's outputs (before the final softmax or sigmoid), `[n, units]`, against
    /// its targets.
    pub(crate) fn update(&mut self, output: &Tensor, targets: &BatchTargets) {
        let n = targets.len();
        if n == 0 {
            return;
        }
        let needs_outputs = self.states.iter().any(|s| s.kind == Kind::Custom);
        let outputs = needs_outputs.then(|| self.outputs(output));
        let output = output.as_standard_layout(); // borrowed, not copied, when contiguous
        let Some(values) = output.as_slice() else {
            unreachable!("a standard-layout array is contiguous")
        };
        let units = self.info.units;
        debug_assert_eq!(values.len(), n * units, "output and targets disagree");
        let threshold = self.info.threshold;
        self.samples += n;
        for state in &mut self.states {
            state.hits += match state.kind {
                Kind::Binary => binary_matches(values, targets, threshold),
                Kind::Argmax => values
                    .chunks_exact(units)
                    .enumerate()
                    .filter(|&(i, row)| argmax(row.iter().copied()) == true_class(targets, i))
                    .count() as u64,
                Kind::TopK(k) => values
                    .chunks_exact(units)
                    .enumerate()
                    .filter(|&(i, row)| in_top_k(row, true_class(targets, i), k))
                    .count() as u64,
                Kind::Precision | Kind::Recall | Kind::F1(_) => 0,
                Kind::Custom => {
                    let (Metric::Custom(custom), Some(outputs)) = (&state.metric, &outputs) else {
                        unreachable!("a custom kind comes from a custom metric")
                    };
                    // A metric read back from a file has no function, and `resolve` refuses it.
                    let mean = custom.function().map_or(f32::NAN, |f| f(outputs, targets));
                    state.total += f64::from(mean) * n as f64;
                    0
                }
            };
        }
        if let Some(confusion) = &mut self.confusion {
            for (i, row) in values.chunks_exact(units).enumerate() {
                if self.info.is_binary() {
                    let predicted = (row[0] > threshold) as usize;
                    confusion.add(is_positive(targets, i) as usize, predicted);
                } else {
                    confusion.add(true_class(targets, i), argmax(row.iter().copied()));
                }
            }
        }
    }

    /// The model's outputs as it returns them: `output` with its final activation applied.
    fn outputs(&self, output: &Tensor) -> Tensor {
        if self.info.activation == keel_layers::Activation::Linear {
            return output.clone();
        }
        let tape = keel_autograd::Tape::no_grad();
        let y = self.info.activation.apply(tape.constant(output.clone()));
        y.value().as_ref().clone()
    }

    /// Samples seen by [`update`](MetricTracker::update) this epoch.
    pub(crate) fn samples(&self) -> usize {
        self.samples.max(self.loss_samples)
    }

    /// The mean loss so far, weighted by batch size.
    pub(crate) fn loss(&self) -> f64 {
        self.loss_sum / self.loss_samples.max(1) as f64
    }

    /// The epoch's confusion matrix (empty when none was kept).
    pub(crate) fn into_confusion(self) -> ConfusionMatrix {
        let classes = self.info.classes();
        self.confusion
            .unwrap_or_else(|| ConfusionMatrix::new(classes))
    }

    fn value(&self, state: &State) -> f64 {
        let samples = self.samples.max(1) as f64;
        let binary = self.info.is_binary();
        let confusion = || self.confusion.as_ref().expect("kept for confusion metrics");
        match state.kind {
            Kind::Binary => state.hits as f64 / (samples * self.info.units as f64),
            Kind::Argmax | Kind::TopK(_) => state.hits as f64 / samples,
            Kind::Precision if binary => confusion().precision(1),
            Kind::Recall if binary => confusion().recall(1),
            Kind::F1(_) if binary => confusion().f1(1),
            Kind::Precision => confusion().macro_precision(),
            Kind::Recall => confusion().macro_recall(),
            Kind::F1(average) => confusion().f1_score(average),
            Kind::Custom => state.total / samples,
        }
    }

    /// `(name, value)` of the loss and every compiled metric, names prefixed (e.g. "val_").
    pub(crate) fn logs(&self, prefix: &str) -> Vec<(String, f64)> {
        let mut logs = Vec::with_capacity(1 + self.states.len());
        logs.push((format!("{prefix}loss"), self.loss()));
        for state in &self.states {
            logs.push((
                format!("{prefix}{}", state.metric.name()),
                self.value(state),
            ));
        }
        logs
    }
}
